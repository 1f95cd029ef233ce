"""Make shared scale-out backends private to one test, the way a temp dir isolates the embedded ones.

With the embedded configuration every test gets its own SQLite file, queue directory and file tree. On
PostgreSQL + Redis + S3 the servers are shared by the whole run, so a test that drains "all runnable jobs"
would see jobs left by earlier tests. ``private_backends`` gives each call its own PostgreSQL schema (via
the connection's ``search_path``), its own Redis queue name and its own S3 key prefix. The same ``key``
(a test's data dir) gives the same backends again within one test session, including the server
processes it starts, so restart tests still find their jobs.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# One salt per test session, inherited by the server processes tests start (so they find the same schema);
# names never collide with an earlier run's leftovers.
_SALT = os.environ.setdefault("OPENLIPSYNC_TEST_ISOLATION_SALT", uuid.uuid4().hex)


def _add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def private_postgres_url(url: str, schema: str) -> str:
    """Create ``schema`` and return ``url`` with every connection's search_path set to it."""
    import psycopg
    from sqlalchemy.engine import make_url

    sa = make_url(url)
    with psycopg.connect(host=sa.host or "localhost", port=sa.port or 5432, user=sa.username,
                         password=sa.password, dbname=sa.database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return _add_query(url, options=f"-csearch_path={schema}")


def private_backends(urls: dict[str, str], key: str) -> dict[str, str]:
    """``urls`` (keys database_url / queue_url / storage_url) with shared servers split per ``key``."""
    tag = "t" + hashlib.sha256(f"{_SALT}:{key}".encode()).hexdigest()[:12]
    out = dict(urls)
    db = out.get("database_url", "")
    if db.startswith("postgresql"):
        out["database_url"] = private_postgres_url(db, tag)
    queue = out.get("queue_url", "")
    if queue.startswith(("redis://", "rediss://")):
        out["queue_url"] = _add_query(queue, queue=f"jobs-{tag}")
    storage = out.get("storage_url", "")
    if storage.startswith("s3://"):
        base, _, query = storage.partition("?")
        out["storage_url"] = f"{base.rstrip('/')}/{tag}" + (f"?{query}" if query else "")
    return out
