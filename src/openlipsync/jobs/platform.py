"""Everything a process of the platform needs, built once from Settings: database, storage, queue, services.

The API (``create_app``) and the workers (``openlipsync worker``) both build a ``Platform``; tests inject
in-memory backends or a fake engine through the keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openlipsync.config import Settings
from openlipsync.db import Database, upgrade
from openlipsync.jobs.assets import AssetStore
from openlipsync.jobs.links import LinkSigner
from openlipsync.jobs.queue import JobQueue, open_queue
from openlipsync.jobs.service import JobService
from openlipsync.jobs.views import Links
from openlipsync.options import LipSyncResult
from openlipsync.storage import Storage, open_storage

Runner = Callable[..., LipSyncResult]
"""Signature of ``openlipsync.lipsync(video, audio, output, options, *, progress=..., workdir=...)``."""


def default_runner(*args: Any, **kwargs: Any) -> LipSyncResult:
    from openlipsync.lipsync import lipsync

    return lipsync(*args, **kwargs)


def _runner(settings: Settings) -> Runner:
    """The engine in a child process with memory/time limits (``engine_isolation``), else in-process."""
    if not getattr(settings, "engine_isolation", False):
        return default_runner
    from openlipsync.security.isolation import runner_from_settings

    return runner_from_settings(settings)


@dataclass
class Platform:
    settings: Settings
    db: Database
    storage: Storage
    queue: JobQueue
    runner: Runner = default_runner
    signer: LinkSigner = field(init=False)
    assets: AssetStore = field(init=False)
    jobs: JobService = field(init=False)

    def __post_init__(self) -> None:
        self.signer = LinkSigner(self.settings.resolved_secret_key(), self.settings.signed_url_ttl_seconds)
        self.assets = AssetStore(self.settings, self.db, self.storage)
        self.jobs = JobService(self.settings, self.db, self.storage, self.queue, self.assets)

    @classmethod
    def build(cls, settings: Settings, *, storage: Storage | None = None, queue: JobQueue | None = None,
              runner: Runner | None = None, db: Database | None = None) -> Platform:
        """Open the backends named by the settings' URLs (unless given) and migrate the schema."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = db or Database(settings.resolved_database_url())
        if settings.auto_migrate:
            upgrade(db.engine)
        return cls(settings=settings, db=db, storage=storage or open_storage(settings.resolved_storage_url()),
                   queue=queue or open_queue(settings.resolved_queue_url()), runner=runner or _runner(settings))

    def links(self, base_url: str) -> Links:
        """Link builder for an external base (``Settings.external_base``)."""
        return Links(base_url.rstrip("/"), self.signer)

    def close(self) -> None:
        close = getattr(self.queue, "close", None)
        if callable(close):
            close()
        self.db.dispose()
