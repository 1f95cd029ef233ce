"""Native ``/v1/assets``: upload once (multipart file, URL or text), list, get, delete, download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import LinksDep, OptionalAuth, PlatformDep, V1Auth
from openlipsync.api.errors import Unauthorized
from openlipsync.api.files import stream_object
from openlipsync.api.uploads import UploadDir, form_file
from openlipsync.api.v1.schemas import AssetFromUrl, AssetPage, AssetPublic
from openlipsync.errors import InputError
from openlipsync.jobs.assets import AssetNotFound
from openlipsync.jobs.requests import InputSpec
from openlipsync.jobs.views import v1_asset

router = APIRouter(prefix="/v1/assets", tags=["assets"])

_BODY_DOC: dict[str, Any] = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "application/json": {"schema": {"$ref": "#/components/schemas/AssetFromUrl"}}}}}


async def create_asset_from_request(request: Request, platform: Any, tenant_id: str) -> Any:
    """Shared by v1 and v2: a multipart ``file`` upload, or JSON ``{"url"}`` / ``{"text", "voice"}``."""
    uploads = UploadDir(platform.settings.max_upload_bytes)
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            upload = form_file(form, "file") or form_file(form, "asset")
            if upload is None:
                raise InputError("multipart field 'file' is required")
            spec = await run_in_threadpool(uploads.save, upload, "upload")
        else:
            try:
                body = AssetFromUrl.model_validate_json(await request.body())
            except ValidationError as exc:
                raise InputError("body must be {\"url\": ...} or {\"text\": ..., \"voice\": ...}") from exc
            if bool(body.url) == bool(body.text):
                raise InputError("give exactly one of url or text")
            spec = InputSpec("url", url=body.url) if body.url else InputSpec("text", text=body.text, voice=body.voice)
        return await run_in_threadpool(platform.assets.resolve, tenant_id, spec)
    finally:
        await run_in_threadpool(uploads.cleanup)


@router.post("", status_code=201, openapi_extra=_BODY_DOC, responses={201: {"model": AssetPublic}})
async def create_asset(request: Request, platform: PlatformDep, principal: V1Auth, links: LinksDep) -> dict[str, Any]:
    """Store a media file for reuse as an input (``asset_id``); it is probed on arrival."""
    asset = await create_asset_from_request(request, platform, principal.tenant_id)
    return v1_asset(asset, links)


@router.get("", responses={200: {"model": AssetPage}})
async def list_assets(platform: PlatformDep, principal: V1Auth, links: LinksDep,
                      type: Annotated[list[str], Query()] = [],  # noqa: B006,A002 (FastAPI query list)
                      limit: Annotated[int, Query(ge=1, le=100)] = 20,
                      cursor: str | None = None) -> dict[str, Any]:
    rows, next_cursor, total = await run_in_threadpool(platform.assets.list, principal.tenant_id, limit=limit,
                                                       cursor=cursor, kinds=type or None)
    return {"data": [v1_asset(a, links) for a in rows], "next_cursor": next_cursor, "total": total}


@router.get("/{asset_id}", responses={200: {"model": AssetPublic}})
async def get_asset(asset_id: str, platform: PlatformDep, principal: V1Auth, links: LinksDep) -> dict[str, Any]:
    asset = await run_in_threadpool(platform.assets.get, principal.tenant_id, asset_id)
    return v1_asset(asset, links)


@router.delete("/{asset_id}", status_code=204, response_class=Response)
async def delete_asset(asset_id: str, platform: PlatformDep, principal: V1Auth) -> Response:
    await run_in_threadpool(platform.assets.delete, principal.tenant_id, asset_id)
    return Response(status_code=204)


@router.head("/{asset_id}/content", include_in_schema=False)
@router.get("/{asset_id}/content", response_class=Response)
async def asset_content(asset_id: str, request: Request, platform: PlatformDep, principal: OptionalAuth,
                        expires: str | None = None, sig: str | None = None) -> Response:
    """The asset's bytes (signed link from ``url`` or API key); supports Range."""
    from openlipsync.db import Asset

    def load() -> Asset | None:
        with platform.db.session() as s:
            return s.get(Asset, asset_id)

    asset = await run_in_threadpool(load)
    if asset is None:
        raise AssetNotFound(f"asset {asset_id} not found")
    if not platform.signer.verify("asset", asset.id, asset.storage_key, expires, sig):
        if principal is None:
            raise Unauthorized("a valid signed link or API key is required")
        if principal.tenant_id != asset.tenant_id:
            raise AssetNotFound(f"asset {asset_id} not found")
    return await run_in_threadpool(stream_object, request, platform.storage, asset.storage_key,
                                   asset.content_type, asset.name)
