"""The web studio: static HTML, vanilla ES modules and CSS served from the API process.

Everything is local (no CDN, no build step), so the studio works on an offline machine. The page talks
to the native ``/v1`` API on the same origin with the user's API key.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Same-origin scripts, styles and API calls only. Media may come from signed storage URLs (S3), so
# media/img sources are open; nothing is ever loaded from a CDN.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")

__all__ = ["STATIC_DIR", "mount_studio"]


def mount_studio(app: FastAPI, path: str = "/") -> None:
    """Serve the studio page at ``path`` and its assets under ``<path>studio/``.

    Call after the API routers are included: only ``path`` itself and the ``studio/`` prefix are
    claimed, so no API route can be shadowed. Assets are served by a plain route rather than a
    ``Mount``: a route matches the same way however a path prefix in front of the app sets
    ``root_path``.
    """
    base = path if path.endswith("/") else path + "/"
    index = STATIC_DIR / "index.html"
    files = StaticFiles(directory=STATIC_DIR)  # path checks (no traversal), ETag and 304 handling

    def studio_index() -> FileResponse:
        return FileResponse(index, media_type="text/html",
                            headers={"Cache-Control": "no-cache", "Content-Security-Policy": _CSP})

    def studio_redirect() -> RedirectResponse:
        return RedirectResponse(base)

    async def studio_asset(request: Request, asset: str) -> Response:
        response = await files.get_response(asset, request.scope)
        response.headers["Cache-Control"] = "no-cache"  # revalidate (ETag) so an upgrade shows at once
        return response

    app.add_api_route(base, studio_index, methods=["GET"], include_in_schema=False)
    app.add_api_route(base + "studio", studio_redirect, methods=["GET"], include_in_schema=False)
    app.add_api_route(base + "studio/{asset:path}", studio_asset, methods=["GET", "HEAD"],
                      include_in_schema=False)
