"""Schema: Alembic migrations shipped in the package, applied programmatically, matching the models."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from openlipsync.db import Base, Database, Tenant, upgrade


def _db(tmp_path: Path) -> Database:
    return Database(os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'm.db'}")


def test_upgrade_creates_every_table_and_is_idempotent(tmp_path: Path) -> None:
    db = _db(tmp_path)
    upgrade(db.engine)
    upgrade(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {"jobs", "assets", "tenants", "api_keys", "batches", "webhook_deliveries", "alembic_version"} <= tables
    db.dispose()


def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = _db(tmp_path)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff
    db.dispose()


def test_times_round_trip_as_aware_utc(tmp_path: Path) -> None:
    db = _db(tmp_path)
    upgrade(db.engine)
    when = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    name = f"tz-{os.getpid()}-{tmp_path.name}"
    with db.session() as s:
        s.add(Tenant(name=name, webhook_secret="whsec_x", created_at=when))
    with db.session() as s:
        got = s.query(Tenant).filter_by(name=name).one().created_at
    assert got == when and got.tzinfo is not None
    db.dispose()


def test_migrations_are_packaged_with_the_code() -> None:
    from openlipsync.db.migrate import MIGRATIONS

    assert (MIGRATIONS / "env.py").is_file()
    assert any(MIGRATIONS.glob("versions/*.py"))


def test_upgrading_an_older_schema_keeps_its_rows(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")  # a fresh file: revision-by-revision on purpose
    upgrade(db.engine, "0001")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, name, webhook_secret, created_at) "
                          "VALUES ('t1', 'old', 'whsec_x', '2025-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO batches (id, tenant_id, total, webhook_state, created_at) "
                          "VALUES ('b1', 't1', 2, 'waiting', '2025-01-01 00:00:00')"))
    upgrade(db.engine)
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT total, webhook_attempts, webhook_next_at FROM batches")).one()
    assert tuple(row) == (2, 0, None)
    db.dispose()


def test_concurrent_first_starts_all_succeed(tmp_path: Path) -> None:
    """serve + workers starting together on an empty database: every process's migration succeeds."""
    import subprocess
    import sys

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'race.db'}"
    code = ("import sys; from openlipsync.db import Database, upgrade; "
            "db = Database(sys.argv[1]); upgrade(db.engine); print('ok')")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err.decode()[-500:] for _out, err in results]
    db = Database(url)
    with db.engine.connect() as conn:
        from alembic.script import ScriptDirectory
        from sqlalchemy import text

        from openlipsync.db.migrate import alembic_config

        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    db.dispose()
