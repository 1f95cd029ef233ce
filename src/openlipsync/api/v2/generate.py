"""Sync-compatible generations: ``/v2/generate``, ``/v2/generations``, ``/v2/analyze/cost``, estimates."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import LinksDep, PlatformDep, V2Auth
from openlipsync.api.submit import create_job, estimate_job
from openlipsync.api.uploads import UploadDir, form_file, form_text
from openlipsync.api.v2.schemas import DurationEstimate, parse_create, to_request
from openlipsync.errors import InputError
from openlipsync.jobs import cost as pricing
from openlipsync.jobs.requests import GenerationRequest, InputSpec, parse_model
from openlipsync.jobs.service import JobNotFound
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.views import v2_generation

router = APIRouter(prefix="/v2", tags=["v2 (Sync-compatible)"])

_BODY_DOC: dict[str, Any] = {"requestBody": {"content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/CreateGeneration"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "model": {"type": "string"}, "webhookUrl": {"type": "string"}, "outputFileName": {"type": "string"},
        "video": {"type": "string", "format": "binary"}, "image": {"type": "string", "format": "binary"},
        "audio": {"type": "string", "format": "binary"},
        "input": {"type": "string", "description": "JSON array of input items (or repeated JSON items)"},
        "options": {"type": "string", "description": "JSON object"},
        "segments": {"type": "string", "description": "JSON array"}}}}}}}


def _json_field(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise InputError(f"multipart field {name!r} must be a JSON string") from None


async def parse_request(request: Request, uploads: UploadDir) -> GenerationRequest:
    """A v2 create/cost body (JSON, or multipart with files) as a ``GenerationRequest``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("body must be JSON") from None
        return to_request(parse_create(data))
    form = await request.form()
    files: dict[str, InputSpec] = {}
    for role in ("video", "image", "audio"):
        upload = form_file(form, role)
        if upload is not None:
            files[role] = await run_in_threadpool(uploads.save, upload, role)
    items: list[Any] = []
    for raw in form.getlist("input"):  # TS SDK: one JSON item per part; others: one JSON array
        parsed = _json_field(str(raw), "input")
        items.extend(parsed if isinstance(parsed, list) else [parsed])
    body: dict[str, Any] = {"model": form_text(form, "model") or "lipsync-2", "input": items,
                            "webhookUrl": form_text(form, "webhookUrl") or form_text(form, "webhook_url"),
                            "outputFileName": form_text(form, "outputFileName")}
    for name in ("options", "segments"):
        text = form_text(form, name)
        if text:
            body[name] = _json_field(text, name)
    return to_request(parse_create({k: v for k, v in body.items() if v is not None}), files)


@router.post("/generate", status_code=201, openapi_extra=_BODY_DOC)
async def create_generation(request: Request, platform: PlatformDep, principal: V2Auth, links: LinksDep,
                            response: Response,
                            idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Create a generation (JSON with URLs/asset ids, or multipart with files). 201 → Generation."""
    job, created = await create_job(request, platform, principal.tenant_id, parse_request, idempotency_key)
    if not created:
        response.status_code = 200
    return v2_generation(job, links)


@router.get("/generate/{job_id}")
async def get_generation(job_id: str, platform: PlatformDep, principal: V2Auth, links: LinksDep,
                         response: Response, wait: bool = False,
                         timeout: Annotated[float, Query(ge=1, le=10)] = 10) -> dict[str, Any]:
    """The generation. ``?wait=true&timeout=1..10`` long-polls until it is finished or the time is up."""
    job = await run_in_threadpool(platform.jobs.get, principal.tenant_id, job_id)
    if wait:
        deadline = time.monotonic() + timeout
        while not JobStatus(job.status).terminal and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            job = await run_in_threadpool(platform.jobs.get, principal.tenant_id, job_id)
        response.headers.update({"Retry-After": "2", "X-Sync-Wait-Mode": "long_poll",
                                 "X-Sync-Wait-Timeout-Seconds": f"{timeout:g}"})
    return v2_generation(job, links)


@router.get("/generations/count")
async def count_generations(request: Request, platform: PlatformDep, principal: V2Auth) -> dict[str, int]:
    """Number of the caller's generations (``status`` filter as for the list)."""
    try:
        statuses = [JobStatus(s.upper()) for s in multi_values(request, "status")]
    except ValueError:
        raise InputError(f"status must be among {[s.value for s in JobStatus]}") from None
    jobs, _ = await run_in_threadpool(platform.jobs.list, principal.tenant_id, statuses=statuses or None, limit=None)
    return {"count": len(jobs)}


@router.get("/generations/{job_id}/download", response_class=PlainTextResponse)
async def download_url(job_id: str, platform: PlatformDep, principal: V2Auth, links: LinksDep) -> str:
    """The signed output URL as text/plain (404 until the generation is completed)."""
    job = await run_in_threadpool(platform.jobs.get, principal.tenant_id, job_id)
    url = links.video(job) if job.status == JobStatus.COMPLETED.value else None
    if url is None:
        raise JobNotFound(f"generation {job_id} has no output yet")
    return url


@router.post("/generate/{job_id}/cancel")
async def cancel_generation(job_id: str, platform: PlatformDep, principal: V2Auth,
                            links: LinksDep) -> dict[str, Any]:
    """Cancel a pending or processing generation at no cost (status CANCELED)."""
    job = await run_in_threadpool(platform.jobs.cancel, principal.tenant_id, job_id)
    return v2_generation(job, links)


def multi_values(request: Request, name: str) -> list[str]:
    """Filter values in any of the three encodings: repeated keys, comma lists, JSON-array strings."""
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        raw = raw.strip()
        if raw.startswith("["):
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                raise InputError(f"{name}: invalid JSON array") from None
            out.extend(str(v) for v in (parsed if isinstance(parsed, list) else [parsed]))
        else:
            out.extend(v.strip() for v in raw.split(",") if v.strip())
    return out


@router.get("/generations")
async def list_generations(request: Request, platform: PlatformDep, principal: V2Auth,
                           links: LinksDep) -> list[dict[str, Any]]:
    """All generations of the caller, newest first; ``status``/``ids`` filters, optional ``limit``/``cursor``."""
    try:
        statuses = [JobStatus(s.upper()) for s in multi_values(request, "status")]
    except ValueError:
        raise InputError(f"status must be among {[s.value for s in JobStatus]}") from None
    limit_raw = request.query_params.get("limit")
    limit = max(1, min(100, int(limit_raw))) if limit_raw and limit_raw.isdigit() else None
    jobs, _ = await run_in_threadpool(platform.jobs.list, principal.tenant_id, statuses=statuses or None,
                                      ids=multi_values(request, "ids") or None, limit=limit,
                                      cursor=request.query_params.get("cursor") or None)
    return [v2_generation(j, links) for j in jobs]


@router.get("/generations/{job_id}", include_in_schema=False)
async def get_generation_alias(job_id: str, platform: PlatformDep, principal: V2Auth,
                               links: LinksDep) -> dict[str, Any]:
    job = await run_in_threadpool(platform.jobs.get, principal.tenant_id, job_id)
    return v2_generation(job, links)


@router.post("/analyze/cost", openapi_extra=_BODY_DOC)
async def analyze_cost(request: Request, platform: PlatformDep, principal: V2Auth) -> list[dict[str, Any]]:
    """Estimate a create body: the inputs are probed and ``sync_mode`` applied, nothing is created."""
    _, est = await estimate_job(request, platform, principal.tenant_id, parse_request)
    return [{"estimatedFrameCount": est.billed_frames, "estimatedGenerationCost": est.cost,
             "estimatedDurationSeconds": est.duration_seconds}]


@router.post("/generations/estimate")
@router.post("/generate/estimate-cost", include_in_schema=False)
async def estimate_from_duration(body: DurationEstimate, platform: PlatformDep,
                                 principal: V2Auth) -> dict[str, Any]:
    """Cost of an output of ``duration`` seconds (no media needed)."""
    model = parse_model(body.model).value
    price = platform.settings.price_per_second(model)
    return {"estimatedFrameCount": round(body.duration * body.fps),
            "estimatedGenerationCost": pricing.price(body.duration, price, platform.settings.billing_fps),
            "estimatedCredits": None}
