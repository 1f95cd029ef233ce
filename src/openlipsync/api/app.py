"""``create_app(settings, ...)``: the HTTP application (both APIs, docs, studio, optional embedded worker)."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from openlipsync import __version__
from openlipsync.api import docs, health
from openlipsync.api.errors import install_error_handlers
from openlipsync.api.v1 import assets as v1_assets
from openlipsync.api.v1 import generations as v1_generations
from openlipsync.api.v1 import models as v1_models
from openlipsync.api.v2 import assets as v2_assets
from openlipsync.api.v2 import batch as v2_batch
from openlipsync.api.v2 import generate as v2_generate
from openlipsync.config import Settings
from openlipsync.jobs.platform import Platform, Runner
from openlipsync.jobs.queue import JobQueue
from openlipsync.security.admission import install as install_security
from openlipsync.storage import Storage

log = logging.getLogger("openlipsync.api")

DESCRIPTION = """Self-hosted lip-sync. Two views of the same jobs:

* **/v1** native API (snake_case, `Authorization: Bearer <key>`), the Generation object of the seed schema.
* **/v2** wire-compatible with Sync Labs API v2 (`x-api-key`), so the official `syncsdk` works unchanged.
"""


def create_app(settings: Settings | None = None, *, platform: Platform | None = None,
               storage: Storage | None = None, queue: JobQueue | None = None, runner: Runner | None = None,
               embedded_worker: bool = False, worker_concurrency: int | None = None,
               studio: bool = True) -> FastAPI:
    """Build the app. Backends come from ``settings`` URLs unless passed in; with ``embedded_worker`` the
    process also runs the job worker (the ``openlipsync serve`` default)."""
    settings = settings or Settings()
    platform = platform or Platform.build(settings, storage=storage, queue=queue, runner=runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread: threading.Thread | None = None
        worker = None
        if embedded_worker:
            from openlipsync.jobs.worker import Worker

            worker = Worker(platform)
            thread = worker.start_background(worker_concurrency)
            app.state.worker = worker
        try:
            yield
        finally:
            if worker is not None and thread is not None:
                worker.stop_event.set()  # running jobs are released and re-queued, never lost
                thread.join(timeout=30)

    app = FastAPI(title="openlipsync", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.platform = platform
    app.state.settings = settings
    app.state.rate_limiter = None  # the security layer may install one (see api/deps.RateLimiter)
    install_error_handlers(app)
    install_security(app, settings)
    app.include_router(docs.router)
    for module in (health, v1_generations, v1_assets, v1_models, v2_generate, v2_batch, v2_assets):
        app.include_router(module.router)
    _mount_studio(app, studio)
    _document_bodies(app)
    if settings.path_prefix:
        app.add_middleware(PathPrefixMiddleware, prefix=settings.path_prefix)  # added last: runs first
    return app


class PathPrefixMiddleware:
    """Serve everything under ``prefix`` too (``/api/v2/...`` → ``/v2/...``), as a reverse proxy would:
    the prefix moves to ``root_path``, so links built from the request keep it."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (path == self.prefix or path.startswith(self.prefix + "/")):
            rest = path[len(self.prefix):] or "/"
            scope = dict(scope, path=rest, raw_path=rest.encode(),
                         root_path=scope.get("root_path", "") + self.prefix)
        await self.app(scope, receive, send)


def _document_bodies(app: FastAPI) -> None:
    """Bodies parsed by hand (JSON or multipart on one path) still get their schemas in the OpenAPI doc."""
    from fastapi.openapi.utils import get_openapi

    from openlipsync.api.v1.schemas import AssetFromUrl, GenerationCreate
    from openlipsync.api.v2.schemas import CreateGeneration

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in (GenerationCreate, CreateGeneration, AssetFromUrl):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_studio(app: FastAPI, enabled: bool) -> None:
    """The web studio lives in ``openlipsync.web`` and is mounted at ``/``; without it, ``/`` shows the docs."""
    if enabled:
        try:
            from openlipsync.web import mount_studio
        except ImportError:
            mount_studio = None  # type: ignore[assignment]
        if mount_studio is not None:
            mount_studio(app)
            return

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")
