"""Sync-compatible assets and models: ``/v2/assets``, ``/v2/models``."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import LinksDep, PlatformDep, V2Auth, base_url
from openlipsync.api.v1.assets import create_asset_from_request
from openlipsync.api.v2.generate import multi_values
from openlipsync.errors import InputError, InputLimitError, LipSyncError
from openlipsync.jobs.assets import AssetNotFound, safe_name
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


class AlreadyUploaded(LipSyncError):
    code = "asset_already_uploaded"
    http_status = 409


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    fileName: str = Field(min_length=1, max_length=255)  # noqa: N815 (wire name)
    contentType: str | None = None  # noqa: N815
    size: int = Field(gt=0)


_OWN_ASSET = re.compile(r"/v2/assets/([0-9a-f-]{36})(?:\?|$)")


@router.post("/assets/upload", status_code=201)
async def create_upload(body: UploadRequest, request: Request, platform: PlatformDep,
                        principal: V2Auth) -> dict[str, Any]:
    """Step 1 of the upload flow: a signed ``uploadUrl`` to PUT the bytes to, and the asset ``url``."""
    if body.size > platform.settings.max_upload_bytes:
        raise InputLimitError(f"size exceeds the limit of {platform.settings.max_upload_bytes} bytes")
    asset_id, name = str(uuid.uuid4()), safe_name(body.fileName)
    grant = f"{principal.tenant_id}/{name}/{body.size}"
    query = urlencode({"tenant": principal.tenant_id, "name": name, "size": body.size})
    base = base_url(request)
    signed = platform.signer.query("upload", asset_id, grant)
    return {"uploadUrl": f"{base}/v2/assets/uploads/{asset_id}?{query}&{signed}",
            "url": f"{base}/v2/assets/{asset_id}", "assetId": asset_id,
            "expiresIn": platform.settings.signed_url_ttl_seconds}


@router.put("/assets/uploads/{asset_id}")
async def put_upload(asset_id: str, request: Request, platform: PlatformDep, links: LinksDep, tenant: str,
                     name: str, size: int, expires: str, sig: str) -> dict[str, Any]:
    """Step 2: PUT the raw bytes to ``uploadUrl`` (authorised by its signature); the asset is stored."""
    if not platform.signer.verify("upload", asset_id, f"{tenant}/{name}/{size}", expires, sig):
        raise AssetNotFound("upload link is invalid or expired")
    try:
        await run_in_threadpool(platform.assets.get, tenant, asset_id)
        raise AlreadyUploaded(f"asset {asset_id} was already uploaded")
    except AssetNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="ols-put-") as tmp:
        path = Path(tmp) / name
        received = 0
        with open(path, "wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > size:
                    raise InputLimitError("more bytes than announced in the upload request")
                out.write(chunk)
        if received != size:
            raise InputError(f"expected {size} bytes, received {received}")
        asset = await run_in_threadpool(platform.assets.add_file, tenant, path, name, "UPLOAD", None, asset_id)
    return v2_asset(asset, links)


@router.post("/assets", status_code=201)
async def create_asset(request: Request, platform: PlatformDep, principal: V2Auth, links: LinksDep) -> dict[str, Any]:
    """Register an asset: multipart ``file`` upload, JSON ``{"url": ...}`` (fetched), or step 3 of the
    upload flow (``{"url": <url from /v2/assets/upload>}``, after the PUT)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            data = None
        match = _OWN_ASSET.search(str(data.get("url", ""))) if isinstance(data, dict) else None
        if match:
            asset = await run_in_threadpool(platform.assets.get, principal.tenant_id, match.group(1))
            return v2_asset(asset, links)
    asset = await create_asset_from_request(request, platform, principal.tenant_id)
    return v2_asset(asset, links)


@router.get("/models")
async def list_models(principal: V2Auth) -> list[dict[str, Any]]:
    return v2_models()
