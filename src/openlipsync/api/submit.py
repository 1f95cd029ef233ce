"""Create/estimate from one HTTP request, shared by v1 and v2: each surface only parses its own body shape.

Uploads live in a per-request temp dir that is removed whatever happens; the blocking work (fetching,
probing, storing inputs) runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import base_url
from openlipsync.api.uploads import UploadDir
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.requests import GenerationRequest

RequestParser = Callable[[Request, UploadDir], Awaitable[GenerationRequest]]


async def create_job(request: Request, platform: Platform, tenant_id: str, parse: RequestParser,
                     idempotency_key: str | None) -> tuple[Any, bool]:
    """Parse, resolve and queue a generation; returns ``(job, created)`` (False = idempotent replay)."""
    uploads = UploadDir(platform.settings.max_upload_bytes)
    try:
        req = await parse(request, uploads)
        return await run_in_threadpool(platform.jobs.create, tenant_id, req,
                                       idempotency_key=idempotency_key, base_url=base_url(request))
    finally:
        await run_in_threadpool(uploads.cleanup)


async def estimate_job(request: Request, platform: Platform, tenant_id: str,
                       parse: RequestParser) -> tuple[GenerationRequest, Any]:
    """Parse and probe a create body without creating anything; returns ``(request, estimate)``."""
    uploads = UploadDir(platform.settings.max_upload_bytes)
    try:
        req = await parse(request, uploads)
        return req, await run_in_threadpool(platform.jobs.estimate, tenant_id, req)
    finally:
        await run_in_threadpool(uploads.cleanup)
