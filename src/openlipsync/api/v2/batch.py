"""Sync-compatible batch processing: ``POST /v2/batch`` with a JSONL file of create requests.

Each line ``{"request_id", "endpoint": "/v2/generate", "payload": {<create body>}}`` becomes one
generation of the batch; a line whose inputs are refused becomes a REJECTED generation with its error,
so one bad line does not sink the batch. Results are a JSONL file (``outputUrl``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import PlatformDep, V2Auth, base_url
from openlipsync.api.uploads import form_file, form_text
from openlipsync.api.v2.generate import multi_values
from openlipsync.api.v2.schemas import parse_create, to_request
from openlipsync.db import Batch, Job
from openlipsync.errors import InputError, LipSyncError, NotFoundError
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.views import Links, v2_generation
from openlipsync.jobs.webhooks import batch_view

router = APIRouter(prefix="/v2/batch", tags=["v2 (Sync-compatible)"])

_BODY_DOC: dict[str, Any] = {"requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["input"], "properties": {
        "input": {"type": "string", "format": "binary", "description": "JSONL, one request per line"},
        "webhook_url": {"type": "string"}, "dry_run": {"type": "boolean"}}}}}}}


class BatchNotFound(NotFoundError):
    code = "batch_not_found"


def parse_lines(raw: bytes, max_lines: int) -> list[dict[str, Any]]:
    """Validate the JSONL structure; raise one ``InputError`` listing every bad line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("batch input must be UTF-8 JSONL") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError("batch input is empty")
    if len(lines) > max_lines:
        raise InputError(f"batch input has {len(lines)} lines; the limit is {max_lines}")
    out, problems, seen = [], [], set()
    for n, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("payload"), dict):
                raise InputError("needs an object with a 'payload' object")
            if item.get("endpoint", "/v2/generate") != "/v2/generate":
                raise InputError("endpoint must be /v2/generate")
            rid = str(item.get("request_id") or f"request-{n}")
            if rid in seen:
                raise InputError(f"duplicate request_id {rid!r}")
            seen.add(rid)
            to_request(parse_create(item["payload"]))
            out.append({"request_id": rid, "payload": item["payload"]})
        except (json.JSONDecodeError, InputError) as exc:
            problems.append(f"line {n}: {exc.message if isinstance(exc, InputError) else 'invalid JSON'}")
    if problems:
        raise InputError(problems[0] if len(problems) == 1 else "; ".join(problems[:20]))
    return out


def _submit(platform: Platform, tenant_id: str, lines: list[dict[str, Any]], webhook: str | None,
            base: str) -> Batch:
    batch = Batch(tenant_id=tenant_id, webhook_url=webhook, total=len(lines),
                  webhook_state="waiting" if webhook else "none")
    with platform.db.session() as s:
        s.add(batch)
    for line in lines:
        payload = line["payload"]
        try:
            req = to_request(parse_create(payload))
            platform.jobs.create(tenant_id, req, base_url=base, batch_id=batch.id, request_id=line["request_id"])
        except LipSyncError as exc:
            platform.jobs.reject(tenant_id, str(payload.get("model", "")), payload.get("input", []),
                                 payload.get("options") or {}, exc, batch_id=batch.id, request_id=line["request_id"],
                                 webhook_url=payload.get("webhookUrl"))
    return batch


def _results_url(platform: Platform, base: str, batch: Batch) -> str:
    q = platform.signer.query("batch", batch.id, batch.tenant_id)
    return f"{base}/v2/batch/{batch.id}/results.jsonl?{q}"


def _get(platform: Platform, tenant_id: str, batch_id: str) -> Batch:
    with platform.db.session() as s:
        batch = s.get(Batch, batch_id)
    if batch is None or batch.tenant_id != tenant_id:
        raise BatchNotFound(f"batch {batch_id} not found")
    return batch


@router.post("", status_code=201, openapi_extra=_BODY_DOC)
async def create_batch(request: Request, platform: PlatformDep, principal: V2Auth) -> dict[str, Any]:
    form = await request.form()
    upload = form_file(form, "input")
    if upload is None:
        raise InputError("multipart file field 'input' (JSONL) is required")
    raw = await upload.read()
    lines = parse_lines(raw, platform.settings.max_batch_lines)
    if (form_text(form, "dry_run") or "").lower() in ("true", "1", "yes"):
        return {"status": "VALIDATED", "total_generations": len(lines)}
    base = base_url(request)
    webhook = form_text(form, "webhook_url") or form_text(form, "webhookUrl")
    batch = await run_in_threadpool(_submit, platform, principal.tenant_id, lines, webhook, base)
    return await run_in_threadpool(batch_view, platform.db, batch, _results_url(platform, base, batch))


@router.get("")
async def list_batches(request: Request, platform: PlatformDep, principal: V2Auth) -> list[dict[str, Any]]:
    q = request.query_params

    def run() -> list[dict[str, Any]]:
        stmt = select(Batch).where(Batch.tenant_id == principal.tenant_id).order_by(Batch.created_at.desc())
        for name, op in (("created_after", "gt"), ("created_before", "lt")):
            if q.get(name):
                try:
                    when = datetime.fromisoformat(q[name].replace("Z", "+00:00"))
                except ValueError:
                    raise InputError(f"{name} must be an ISO-8601 date-time") from None
                stmt = stmt.where(Batch.created_at > when if op == "gt" else Batch.created_at < when)
        with platform.db.session() as s:
            batches = list(s.scalars(stmt.limit(100)))
        base = base_url(request)
        views = [batch_view(platform.db, b, _results_url(platform, base, b)) for b in batches]
        wanted = {v.upper() for v in multi_values(request, "status")}
        return [v for v in views if not wanted or v["status"] in wanted]

    return await run_in_threadpool(run)


@router.get("/{batch_id}")
async def get_batch(batch_id: str, request: Request, platform: PlatformDep, principal: V2Auth) -> dict[str, Any]:
    batch = await run_in_threadpool(_get, platform, principal.tenant_id, batch_id)
    return await run_in_threadpool(batch_view, platform.db, batch, _results_url(platform, base_url(request), batch))


@router.get("/{batch_id}/results.jsonl", response_class=Response)
async def batch_results(batch_id: str, request: Request, platform: PlatformDep, expires: str | None = None,
                        sig: str | None = None) -> Response:
    """One JSON line per request: ``request_id``, ``generation_id``, status, outputUrl, error (signed link)."""
    def run() -> str:
        with platform.db.session() as s:
            batch = s.get(Batch, batch_id)
            if batch is None or not platform.signer.verify("batch", batch.id, batch.tenant_id, expires, sig):
                raise BatchNotFound(f"batch {batch_id} not found")
            jobs = list(s.scalars(select(Job).where(Job.batch_id == batch_id).order_by(Job.created_at)))
        links = Links(base_url(request), platform.signer)
        rows = []
        for job in jobs:
            g = v2_generation(job, links)
            rows.append(json.dumps({"request_id": job.request_id, "generation_id": job.id, "status": g["status"],
                                    "outputUrl": g["outputUrl"], "outputDuration": g["outputDuration"],
                                    "error": g["error"], "error_code": g["error_code"],
                                    "terminal": JobStatus(job.status).terminal}))
        return "\n".join(rows) + "\n"

    return Response(await run_in_threadpool(run), media_type="application/x-ndjson")
