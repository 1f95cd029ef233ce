"""Queue backends chosen by URL; the embedded one survives restarts and redelivers unacknowledged jobs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from openlipsync.errors import ConfigError
from openlipsync.jobs.queue import MemoryJobQueue, SqliteJobQueue, open_queue


def test_open_queue_by_url(tmp_path: Path) -> None:
    assert isinstance(open_queue(f"sqlite:///{tmp_path / 'q'}"), SqliteJobQueue)
    assert isinstance(open_queue("memory://"), MemoryJobQueue)
    with pytest.raises(ConfigError):
        open_queue("amqp://nope")


def _consume(q: SqliteJobQueue | MemoryJobQueue, expected: int) -> list[str]:
    seen: list[str] = []
    stop = threading.Event()

    def handle(job_id: str) -> None:
        seen.append(job_id)
        if len(seen) >= expected:
            stop.set()

    t = threading.Thread(target=q.run_worker, args=(handle,), kwargs={"concurrency": 2, "stop": stop})
    t.start()
    t.join(timeout=60)
    stop.set()
    return seen


def test_sqlite_queue_is_durable_across_reopen(tmp_path: Path) -> None:
    q = SqliteJobQueue(tmp_path / "q")
    for i in range(3):
        q.enqueue(f"job-{i}")
    q.close()
    reopened = SqliteJobQueue(tmp_path / "q")
    assert reopened.pending_count() == 3
    assert sorted(_consume(reopened, 3)) == ["job-0", "job-1", "job-2"]
    reopened.close()
    assert SqliteJobQueue(tmp_path / "q").pending_count() == 0  # acknowledged: gone for good


def test_sqlite_queue_redelivers_what_a_dead_process_took(tmp_path: Path) -> None:
    q = SqliteJobQueue(tmp_path / "q")
    q.enqueue("job-x")
    taken = q._get()  # taken by a worker that then "dies" without acknowledging
    assert taken is not None and taken[1] == "job-x"
    q.close()
    assert _consume(SqliteJobQueue(tmp_path / "q"), 1) == ["job-x"]


def test_a_crashing_handler_does_not_kill_the_consumer(tmp_path: Path) -> None:
    q = SqliteJobQueue(tmp_path / "q")
    for name in ("boom", "ok"):
        q.enqueue(name)
    seen: list[str] = []
    stop = threading.Event()

    def handle(job_id: str) -> None:
        seen.append(job_id)
        if job_id == "boom":
            raise RuntimeError("handler bug")
        stop.set()

    q.run_worker(handle, concurrency=1, stop=stop)
    assert seen == ["boom", "ok"]
