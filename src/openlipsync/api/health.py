"""Liveness and readiness (no auth): ``/health`` answers while the process runs, ``/ready`` when its
database, storage and queue are usable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import PlatformDep
from openlipsync.jobs.platform import Platform

router = APIRouter(tags=["health"])


@router.get("/health")
@router.get("/v1/health", include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _checks(platform: Platform) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with platform.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        out["database"] = "ok"
    except Exception as exc:
        out["database"] = f"error: {type(exc).__name__}"
    try:
        platform.storage.exists("health/probe")
        out["storage"] = "ok"
    except Exception as exc:
        out["storage"] = f"error: {type(exc).__name__}"
    out["queue"] = type(platform.queue).__name__
    ping = getattr(platform.queue, "ping", None)
    if callable(ping):  # a queue with a server (Redis) reports whether it answers; jobs still get accepted
        try:
            out["queue"] = "ok" if ping() else "error: no answer"
        except Exception as exc:
            out["queue"] = f"error: {type(exc).__name__}"
    return out


@router.get("/ready")
@router.get("/v1/ready", include_in_schema=False)
async def ready(platform: PlatformDep) -> Any:
    checks = await run_in_threadpool(_checks, platform)
    ok = all(v == "ok" for k, v in checks.items() if k != "queue")
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)
