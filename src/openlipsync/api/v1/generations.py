"""Native ``/v1/generations``: create (JSON or multipart), get, list, cancel, delete, estimate, video."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import LinksDep, OptionalAuth, PlatformDep, V1Auth
from openlipsync.api.errors import Unauthorized
from openlipsync.api.files import stream_object
from openlipsync.api.submit import create_job, estimate_job
from openlipsync.api.uploads import UploadDir, form_file, form_json, form_text
from openlipsync.api.v1.schemas import EstimatePublic, GenerationCreate, GenerationPage, GenerationPublic, InputRef
from openlipsync.errors import InputError
from openlipsync.jobs.requests import GenerationRequest, InputSpec, build_options
from openlipsync.jobs.service import JobNotFound
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.views import v1_generation

router = APIRouter(prefix="/v1/generations", tags=["generations"])

_BODY_DOC: dict[str, Any] = {"requestBody": {"content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/GenerationCreate"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "video": {"type": "string", "format": "binary"}, "audio": {"type": "string", "format": "binary"},
        "model": {"type": "string"}, "options": {"type": "string", "description": "JSON object"},
        "video_url": {"type": "string"}, "audio_url": {"type": "string"}, "video_asset_id": {"type": "string"},
        "audio_asset_id": {"type": "string"}, "text": {"type": "string"}, "voice": {"type": "string"},
        "webhook_url": {"type": "string"}, "output_file_name": {"type": "string"}}}}}}}


def _ref(form: Any, uploads: UploadDir, role: str) -> InputSpec | None:
    upload = form_file(form, role)
    if upload is not None:
        return uploads.save(upload, role)
    fields = {"url": form_text(form, f"{role}_url"), "asset_id": form_text(form, f"{role}_asset_id")}
    if role == "audio":
        fields.update(text=form_text(form, "text"), voice=form_text(form, "voice"))
    if not any(fields.values()):
        return None
    return InputRef(**fields).spec(role)


async def parse_request(request: Request, uploads: UploadDir) -> GenerationRequest:
    """A v1 create/estimate body, JSON or multipart, as a ``GenerationRequest``."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        visual = await run_in_threadpool(_ref, form, uploads, "video")
        audio = await run_in_threadpool(_ref, form, uploads, "audio")
        if visual is None:
            raise InputError("a video (file, video_url or video_asset_id) is required",
                             code="generation_video_missing")
        return GenerationRequest(model=form_text(form, "model") or "lipsync-2", visual=visual, audio=audio,
                                 options=form_json(form, "options") or {},
                                 webhook_url=form_text(form, "webhook_url"),
                                 output_file_name=form_text(form, "output_file_name"))
    try:
        body = GenerationCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise InputError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    return body.to_request()


@router.post("", status_code=201, response_model=None, openapi_extra=_BODY_DOC,
             responses={201: {"model": GenerationPublic}, 200: {"description": "Idempotent replay"}})
async def create_generation(request: Request, platform: PlatformDep, principal: V1Auth, links: LinksDep,
                            response: Response,
                            idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Create a generation. Inputs are fetched/stored and probed before the job is accepted."""
    job, created = await create_job(request, platform, principal.tenant_id, parse_request, idempotency_key)
    if not created:
        response.status_code = 200
    return v1_generation(job, links)


@router.post("/estimate", openapi_extra=_BODY_DOC, responses={200: {"model": EstimatePublic}})
async def estimate_generation(request: Request, platform: PlatformDep, principal: V1Auth) -> dict[str, Any]:
    """Output duration, frames and cost of a generation, without creating it (same body as create)."""
    req, est = await estimate_job(request, platform, principal.tenant_id, parse_request)
    model = build_options(req.model, req.options).model.value
    return {"model": model, "duration_seconds": est.duration_seconds, "frame_count": est.frame_count,
            "fps": est.fps, "billed_frames": est.billed_frames,
            "price_per_second": platform.settings.price_per_second(model), "cost": est.cost, "currency": "USD"}


def _split(values: list[str]) -> list[str]:
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


@router.get("", responses={200: {"model": GenerationPage}})
async def list_generations(platform: PlatformDep, principal: V1Auth, links: LinksDep,
                           status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI query list)
                           model: Annotated[list[str], Query()] = [],  # noqa: B006
                           limit: Annotated[int, Query(ge=1, le=100)] = 20,
                           cursor: str | None = None) -> dict[str, Any]:
    """Newest first; filter by ``status`` (pending|processing|completed|failed) and ``model``."""
    try:
        statuses = [st for value in _split(status) for st in JobStatus.parse_v1(value)]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    jobs, next_cursor = await run_in_threadpool(platform.jobs.list, principal.tenant_id, statuses=statuses or None,
                                                models=_split(model) or None, limit=limit, cursor=cursor)
    return {"data": [v1_generation(j, links) for j in jobs], "next_cursor": next_cursor}


@router.get("/{job_id}", responses={200: {"model": GenerationPublic}})
async def get_generation(job_id: str, platform: PlatformDep, principal: V1Auth, links: LinksDep) -> dict[str, Any]:
    job = await run_in_threadpool(platform.jobs.get, principal.tenant_id, job_id)
    return v1_generation(job, links)


@router.post("/{job_id}/cancel", responses={200: {"model": GenerationPublic}})
async def cancel_generation(job_id: str, platform: PlatformDep, principal: V1Auth,
                            links: LinksDep) -> dict[str, Any]:
    """Cancel a pending or processing generation (not charged). 409 if it already finished."""
    job = await run_in_threadpool(platform.jobs.cancel, principal.tenant_id, job_id)
    return v1_generation(job, links)


@router.delete("/{job_id}", status_code=204, response_class=Response)
async def delete_generation(job_id: str, platform: PlatformDep, principal: V1Auth) -> Response:
    """Delete the generation and its output files (a running one is cancelled first)."""
    await run_in_threadpool(platform.jobs.delete, principal.tenant_id, job_id)
    return Response(status_code=204)


@router.head("/{job_id}/video", include_in_schema=False)
@router.get("/{job_id}/video", response_class=Response,
                  responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "Partial content"}})
async def generation_video(job_id: str, request: Request, platform: PlatformDep, principal: OptionalAuth,
                           expires: str | None = None, sig: str | None = None) -> Response:
    """The output video. Works with the signed link from ``video_url`` or with an API key; supports Range."""
    from openlipsync.db import Job

    def load() -> Job | None:
        with platform.db.session() as s:
            return s.get(Job, job_id)

    job = await run_in_threadpool(load)
    if job is None or job.output_key is None or job.status != JobStatus.COMPLETED.value:
        raise JobNotFound(f"no video for generation {job_id}")
    signed = platform.signer.verify("video", job.id, job.output_key, expires, sig)
    if not signed:
        if principal is None:
            raise Unauthorized("a valid signed link or API key is required")
        if principal.tenant_id != job.tenant_id:
            raise JobNotFound(f"no video for generation {job_id}")
    name = f"{job.output_file_name or 'openlipsync-' + job.id[:8]}.mp4"
    if platform.settings.presigned_redirect:
        direct = platform.storage.presigned_url(job.output_key, platform.settings.presigned_ttl_seconds, name)
        if direct is not None:
            return RedirectResponse(direct, status_code=307)
    return await run_in_threadpool(stream_object, request, platform.storage, job.output_key, "video/mp4", name)

