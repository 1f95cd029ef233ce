"""Apply the Alembic migrations shipped inside the package (no alembic.ini needed)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("openlipsync.db")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", attempts: int = 5) -> None:
    """Bring the schema of ``engine``'s database to ``revision`` (idempotent)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with _IN_PROCESS:  # Alembic's migration context is process-global: one migration per process at a time
        _upgrade(engine, cfg, revision, attempts)
    log.info("database schema at %s", revision)


_IN_PROCESS = threading.Lock()


def _upgrade(engine: Engine, cfg: Config, revision: str, attempts: int) -> None:
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # API replicas and workers may all start at once: one migrates while the others wait on
                    # this transaction-scoped lock, then find the schema already at head.
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72627173)")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            break
        except DBAPIError:
            # SQLite has no such lock: the loser of a first-start race retries and finds the schema current.
            if attempt == attempts:
                raise
            log.warning("schema migration raced with another process; retrying")
            time.sleep(0.3 * attempt)
