"""The Dramatiq/Redis JobQueue against a real redis-server: delivery, ack-after-completion, redelivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openlipsync.jobs.queue_redis import RedisJobQueue, RedisQueueOptions


@pytest.fixture()
def queue(redis_queue_url: str) -> Iterator[RedisJobQueue]:
    q = RedisJobQueue(redis_queue_url)
    yield q
    q.close()


def _run_until(queue: RedisJobQueue, handle: Callable[[str], None], done: Callable[[], bool], *,
               concurrency: int = 1, seconds: float = 30.0) -> None:
    """Run a worker in a thread until ``done()`` or the deadline, then stop it."""
    stop = threading.Event()
    t = threading.Thread(target=queue.run_worker, args=(handle,),
                         kwargs={"concurrency": concurrency, "stop": stop})
    t.start()
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join(30)
    assert not t.is_alive(), "run_worker did not return after stop was set"


def test_url_options_are_parsed_and_removed_from_the_redis_url() -> None:
    url, opts = RedisQueueOptions.split_url("redis://h:1/2?queue=q1&heartbeat_timeout=2.5&max_retries=3&x=y")
    assert url == "redis://h:1/2?x=y"
    assert (opts.queue, opts.heartbeat_timeout, opts.max_retries) == ("q1", 2.5, 3)
    with pytest.raises(ValueError):
        RedisQueueOptions.split_url("sqlite:///x.db")


def test_every_enqueued_job_is_handled_once(queue: RedisJobQueue) -> None:
    ids = [f"job-{i}" for i in range(8)]
    for job_id in ids:
        queue.enqueue(job_id)
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def handle(job_id: str) -> None:
        with lock:
            seen[job_id] += 1

    _run_until(queue, handle, lambda: sum(seen.values()) >= len(ids), concurrency=2)
    assert seen == Counter(ids)
    assert queue.outstanding_count() == 0


def test_jobs_run_concurrently_up_to_the_concurrency(queue: RedisJobQueue) -> None:
    for i in range(2):
        queue.enqueue(f"c{i}")
    barrier = threading.Barrier(2, timeout=20)
    finished: list[str] = []

    def handle(job_id: str) -> None:
        barrier.wait()  # both must be in progress at the same time, or this raises
        finished.append(job_id)

    _run_until(queue, handle, lambda: len(finished) == 2, concurrency=2)
    assert sorted(finished) == ["c0", "c1"]


def test_a_job_whose_handler_raises_is_redelivered(queue: RedisJobQueue) -> None:
    queue.enqueue("flaky")
    calls: list[str] = []

    def handle(job_id: str) -> None:
        calls.append(job_id)
        if len(calls) < 3:
            raise RuntimeError("database unavailable")

    _run_until(queue, handle, lambda: len(calls) >= 3)
    assert calls == ["flaky"] * 3


_CHILD = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from openlipsync.jobs.queue_redis import RedisJobQueue
    marker = Path(sys.argv[2])
    def handle(job_id):
        marker.write_text(job_id)
        time.sleep(600)   # "working": killed with SIGKILL before it finishes
    RedisJobQueue(sys.argv[1]).run_worker(handle, concurrency=1, stop=threading.Event())
""")


def test_a_job_of_a_killed_worker_is_redelivered_to_another(queue: RedisJobQueue, redis_queue_url: str,
                                                           tmp_path: Path) -> None:
    marker = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, redis_queue_url, str(marker)],
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        queue.enqueue("survivor")
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == "survivor"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # The message was fetched but never acknowledged: it is still outstanding, not lost.
    assert queue.outstanding_count() == 1 and queue.pending_count() == 0
    got: list[str] = []
    _run_until(queue, got.append, lambda: bool(got), seconds=60)
    assert got == ["survivor"]
    assert queue.outstanding_count() == 0


def test_stopping_a_worker_mid_job_leaves_the_job_for_the_next_worker(redis_queue_url: str) -> None:
    url = redis_queue_url.replace("shutdown_timeout=5", "shutdown_timeout=0.2")
    first, second = RedisJobQueue(url), RedisJobQueue(url)
    try:
        first.enqueue("long")
        started, release = threading.Event(), threading.Event()

        def slow(job_id: str) -> None:
            started.set()
            release.wait(30)

        stop = threading.Event()
        t = threading.Thread(target=first.run_worker, args=(slow,), kwargs={"concurrency": 1, "stop": stop})
        t.start()
        assert started.wait(30)
        stop.set()  # shutdown_timeout elapses while the job is still running: it must not be acked
        t.join(30)
        got: list[str] = []
        _run_until(second, got.append, lambda: bool(got), seconds=60)
        release.set()
        assert got == ["long"]
    finally:
        first.close()
        second.close()


def test_ping_reports_whether_redis_answers(queue: RedisJobQueue) -> None:
    assert queue.ping() is True
    dead = RedisJobQueue("redis://127.0.0.1:1/0")
    with pytest.raises(Exception):  # noqa: B017 (redis-py's ConnectionError)
        dead.ping()
    dead.close()


def test_shared_rate_limits_get_a_redis_url_without_the_queue_options() -> None:
    from types import SimpleNamespace

    from openlipsync.security.admission import rate_limit_url

    settings = SimpleNamespace(rate_limit_url=None, queue_url="redis://h:1/0?queue=q&heartbeat_timeout=3")
    assert rate_limit_url(settings) == "redis://h:1/0"
