"""Job dispatch: the ``JobQueue`` protocol, the embedded durable queue, and the factory by ``QUEUE_URL``.

The queue carries job ids only; the database is the source of truth. Delivery is at-least-once and a job
is claimed with a lease in the database, so duplicate deliveries are harmless (see ``jobs/lease.py``).

Embedded default (``sqlite:///<dir>``): persist-queue's ``SQLiteAckQueue``. Chosen over Huey because it is
a plain durable queue with explicit ack/nack (Huey brings its own consumer, scheduler and result store,
which would compete with our worker loop and lease model), it is already a light dependency, and its
``auto_resume`` puts messages that were taken but never acknowledged (process killed mid-job) back in
the queue when the process starts again. It serialises with JSON, never pickle. It is meant for one
machine; several processes may share it (a duplicate delivery is then possible and harmless).
"""

from __future__ import annotations

import importlib
import logging
import queue as _stdlib_queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from openlipsync.errors import ConfigError

log = logging.getLogger("openlipsync.jobs.queue")

POLL_SECONDS = 0.5


@runtime_checkable
class JobQueue(Protocol):
    def enqueue(self, job_id: str) -> None:
        """Hand ``job_id`` to some worker (at least once)."""

    def run_worker(self, handle: Callable[[str], None], *, concurrency: int, stop: threading.Event) -> None:
        """Call ``handle(job_id)`` for delivered jobs with ``concurrency`` threads until ``stop`` is set."""


def _consume(get: Callable[[], tuple[object, str] | None], ack: Callable[[object, bool], None],
             handle: Callable[[str], None], stop: threading.Event) -> None:
    """One consumer thread: take, handle, acknowledge; a crash in ``handle`` never kills the thread."""
    while not stop.is_set():
        item = get()
        if item is None:
            continue
        token, job_id = item
        ok = True
        try:
            handle(job_id)
        except Exception:  # the job service records failures; the sweeper recovers the job
            ok = False
            log.exception("handler crashed on job %s", job_id)
        ack(token, ok)


def _start_threads(target: Callable[[], None], concurrency: int, name: str) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, name=f"{name}-{i}", daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    return threads


class SqliteJobQueue:
    """Durable local queue (persist-queue ``SQLiteAckQueue``) in directory ``path``."""

    def __init__(self, path: str | Path) -> None:
        from persistqueue import SQLiteAckQueue
        from persistqueue.serializers import json as json_serializer

        Path(path).mkdir(parents=True, exist_ok=True)
        self._q = SQLiteAckQueue(str(path), multithreading=True, auto_resume=True,
                                 serializer=json_serializer)

    def enqueue(self, job_id: str) -> None:
        self._q.put(job_id)

    def pending_count(self) -> int:
        return int(self._q.qsize())  # new (inited) and returned (ready) messages

    def _get(self) -> tuple[object, str] | None:
        from persistqueue import Empty

        try:
            raw = self._q.get(block=True, timeout=POLL_SECONDS, raw=True)
        except Empty:
            return None
        return raw["pqid"], str(raw["data"])

    def _ack(self, token: object, ok: bool) -> None:
        if ok:
            self._q.ack(id=int(token))  # type: ignore[call-overload]
        else:
            self._q.ack_failed(id=int(token))  # type: ignore[call-overload]

    def run_worker(self, handle: Callable[[str], None], *, concurrency: int, stop: threading.Event) -> None:
        threads = _start_threads(lambda: _consume(self._get, self._ack, handle, stop), concurrency, "olsq")
        last_clear = time.monotonic()
        while not stop.wait(POLL_SECONDS):
            if time.monotonic() - last_clear > 30.0:  # keep the queue file small
                self._q.clear_acked_data(keep_latest=100, clear_ack_failed=True)
                last_clear = time.monotonic()
        for t in threads:
            t.join()

    def close(self) -> None:
        self._q.close()


class MemoryJobQueue:
    """Non-durable in-process queue (``memory://``) for tests; the DB sweeper still recovers jobs."""

    def __init__(self) -> None:
        self._q: _stdlib_queue.Queue[str] = _stdlib_queue.Queue()

    def enqueue(self, job_id: str) -> None:
        self._q.put(job_id)

    def pending_count(self) -> int:
        return self._q.qsize()

    def _get(self) -> tuple[object, str] | None:
        try:
            return None, self._q.get(timeout=POLL_SECONDS)
        except _stdlib_queue.Empty:
            return None

    def run_worker(self, handle: Callable[[str], None], *, concurrency: int, stop: threading.Event) -> None:
        threads = _start_threads(lambda: _consume(self._get, lambda _t, _ok: None, handle, stop),
                                 concurrency, "olsm")
        for t in threads:
            t.join()

    def close(self) -> None:
        return None


def open_queue(url: str) -> JobQueue:
    """``sqlite:///dir`` (embedded, durable), ``memory://`` (tests), ``redis://...`` (scale-out)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return SqliteJobQueue(unquote(parts.netloc + parts.path))
    if parts.scheme == "memory":
        return MemoryJobQueue()
    if parts.scheme in ("redis", "rediss"):
        module = importlib.import_module("openlipsync.jobs.queue_redis")
        return module.RedisJobQueue(url)  # type: ignore[no-any-return]
    raise ConfigError(f"unsupported QUEUE_URL scheme {parts.scheme!r} (sqlite, memory, redis)")
