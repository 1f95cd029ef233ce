"""Sync-compatible assets and models: ``/v2/assets``, ``/v2/models``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import LinksDep, PlatformDep, V2Auth
from openlipsync.api.v1.assets import create_asset_from_request
from openlipsync.api.v2.generate import multi_values
from openlipsync.jobs.views import v2_asset, v2_models

router = APIRouter(prefix="/v2", tags=["v2 (Sync-compatible)"])


@router.get("/assets")
async def list_assets(request: Request, platform: PlatformDep, principal: V2Auth, links: LinksDep) -> dict[str, Any]:
    """``{items, nextCursor, totalCount}``; ``types`` (VIDEO|AUDIO|IMAGE), ``searchQuery``, ``limit``, ``cursor``."""
    q = request.query_params
    limit = max(1, min(100, int(q["limit"]))) if q.get("limit", "").isdigit() else 20
    rows, next_cursor, total = await run_in_threadpool(
        platform.assets.list, principal.tenant_id, limit=limit, cursor=q.get("cursor") or None,
        kinds=multi_values(request, "types") or None, search=q.get("searchQuery") or None)
    return {"items": [v2_asset(a, links) for a in rows], "nextCursor": next_cursor, "totalCount": total}


@router.get("/assets/{asset_id}")
async def get_asset(asset_id: str, platform: PlatformDep, principal: V2Auth, links: LinksDep) -> dict[str, Any]:
    asset = await run_in_threadpool(platform.assets.get, principal.tenant_id, asset_id)
    return v2_asset(asset, links)


@router.post("/assets", status_code=201)
async def create_asset(request: Request, platform: PlatformDep, principal: V2Auth, links: LinksDep) -> dict[str, Any]:
    """Register an asset: multipart ``file`` upload, or JSON ``{"url": ...}``."""
    asset = await create_asset_from_request(request, platform, principal.tenant_id)
    return v2_asset(asset, links)


@router.get("/models")
async def list_models(principal: V2Auth) -> list[dict[str, Any]]:
    return v2_models()
