"""Interactive API docs served from a local copy of Swagger UI (the machine may be offline: no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}

router = APIRouter(include_in_schema=False)


def _asset_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(openapi_url=f"{base}/openapi.json", title="openlipsync API",
                               swagger_js_url=f"{base}/docs-assets/swagger-ui-bundle.js",
                               swagger_css_url=f"{base}/docs-assets/swagger-ui.css",
                               swagger_favicon_url=f"{base}/docs-assets/favicon-32x32.png")


@router.get("/docs-assets/{name}")
def swagger_asset(name: str) -> FileResponse:
    if name not in ASSETS:  # fixed allow-list: the name never becomes a path on its own
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(_asset_dir() / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})
