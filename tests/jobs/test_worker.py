"""The worker: one recorded result per job whatever the deliveries, failures, cancellations and stops."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openlipsync.db import Job
from openlipsync.db.models import utcnow
from openlipsync.errors import NoFaceError
from openlipsync.jobs import lease
from openlipsync.jobs import worker as worker_module
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey, create_key
from openlipsync.jobs.worker import Worker
from openlipsync.storage import tenant_key
from tests.api.support import SlowRunner, fast_runner, make_settings, wait_until
from tests.jobs.helpers import load, submit

PlatformFactory = Callable[..., Platform]


@pytest.fixture
def make_platform(tmp_path: Path) -> Iterator[PlatformFactory]:
    made: list[Platform] = []

    def make(runner: Any = fast_runner, **settings: Any) -> Platform:
        p = Platform.build(make_settings(tmp_path / f"data{len(made)}", **settings), runner=runner)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def _key(p: Platform) -> CreatedKey:
    return create_key(p.db, "worker-tests")


def _outputs(p: Platform, job: Job) -> list[str]:
    key = job.output_key
    return [key] if key and p.storage.exists(key) else []


def test_engine_errors_are_recorded_with_their_machine_code(make_platform: PlatformFactory, tiny_dir: Path) -> None:
    def no_face(*_a: Any, **_k: Any) -> Any:
        raise NoFaceError("no usable face in any frame")

    p = make_platform(no_face)
    job_id = submit(p, _key(p), tiny_dir)
    Worker(p).drain()
    job = load(p, job_id)
    assert job.status == "FAILED" and job.error_code == "generation_no_face"
    assert job.error == "no usable face in any frame" and job.cost == 0.0 and job.output_key is None


def test_time_limit_stops_the_engine(make_platform: PlatformFactory, tiny_dir: Path) -> None:
    runner = SlowRunner(seconds=30)
    p = make_platform(runner, job_timeout_seconds=0.5)
    job_id = submit(p, _key(p), tiny_dir)
    Worker(p).drain()
    job = load(p, job_id)
    assert job.status == "FAILED" and job.error_code == "generation_timeout"
    assert runner.started and not runner.finished


def test_a_silent_hung_engine_is_failed_by_the_watchdog(make_platform: PlatformFactory, tiny_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "_HANG_GRACE_SECONDS", 0.3)
    release = threading.Event()

    def hang(*_a: Any, **_k: Any) -> Any:
        release.wait(30)  # never calls progress
        raise RuntimeError("woken up")

    p = make_platform(hang, job_timeout_seconds=0.3)
    job_id = submit(p, _key(p), tiny_dir)
    t = threading.Thread(target=Worker(p).drain)
    t.start()
    job = wait_until(lambda: (j := load(p, job_id)).status == "FAILED" and j, timeout=30)
    assert job.error_code == "generation_timeout"
    release.set()
    t.join()
    assert load(p, job_id).status == "FAILED"


def test_cancel_stops_a_running_job_and_stores_nothing(make_platform: PlatformFactory, tiny_dir: Path) -> None:
    runner = SlowRunner(seconds=30)
    p = make_platform(runner)
    key = _key(p)
    job_id = submit(p, key, tiny_dir)
    t = threading.Thread(target=Worker(p).drain)
    t.start()
    wait_until(lambda: load(p, job_id).progress_percent > 0, timeout=30)  # progress is visible while running
    assert load(p, job_id).status == "PROCESSING" and load(p, job_id).progress_stage == "render"
    p.jobs.cancel(key.tenant_id, job_id)
    t.join(timeout=60)
    assert not t.is_alive()
    job = load(p, job_id)
    assert job.status == "CANCELED" and job.output_key is None and runner.started and not runner.finished
    assert p.storage.delete_prefix(tenant_key(key.tenant_id, "outputs", job_id)) == 0


def test_duplicate_and_concurrent_deliveries_run_the_job_once(make_platform: PlatformFactory,
                                                              tiny_dir: Path) -> None:
    runner = SlowRunner(seconds=0.5)
    p = make_platform(runner)
    job_id = submit(p, _key(p), tiny_dir)
    workers = [Worker(p, owner=f"w{i}") for i in range(3)]
    threads = [threading.Thread(target=w.handle, args=(job_id,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    workers[0].handle(job_id)  # a late redelivery of a finished job
    assert len(runner.started) == 1 and len(runner.finished) == 1
    job = load(p, job_id)
    assert job.status == "COMPLETED" and job.attempts == 1 and _outputs(p, job)


def test_a_job_whose_worker_died_is_recovered_by_the_sweeper(make_platform: PlatformFactory,
                                                            tiny_dir: Path) -> None:
    p = make_platform()
    job_id = submit(p, _key(p), tiny_dir)
    assert lease.claim(p.db, job_id, "dead-worker", 30, 3)  # claimed, then the worker vanished
    w = Worker(p)
    assert w.sweep() == 0  # lease still live: leave it alone
    with p.db.session() as s:
        s.get(Job, job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    assert w.sweep() == 1
    w.drain()
    job = load(p, job_id)
    assert job.status == "COMPLETED" and job.attempts == 2


def test_shutdown_releases_a_running_job_for_another_worker(make_platform: PlatformFactory,
                                                           tiny_dir: Path) -> None:
    runner = SlowRunner(seconds=30)
    p = make_platform(runner)
    job_id = submit(p, _key(p), tiny_dir)
    first = Worker(p, owner="first")
    t = threading.Thread(target=first.drain)
    t.start()
    wait_until(lambda: load(p, job_id).progress_percent > 0, timeout=30)
    first.stop_event.set()
    t.join(timeout=60)
    job = load(p, job_id)
    assert job.status == "PENDING" and job.attempts == 0 and job.lease_owner is None
    runner.seconds = 0.0
    Worker(p, owner="second").drain()
    job = load(p, job_id)
    assert job.status == "COMPLETED" and job.attempts == 1 and len(runner.finished) == 1


def test_infrastructure_errors_are_retried_then_given_up(make_platform: PlatformFactory, tiny_dir: Path) -> None:
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        return fast_runner(*args, **kwargs)

    p = make_platform(flaky)
    job_id = submit(p, _key(p), tiny_dir)
    w = Worker(p)
    w.drain()
    assert load(p, job_id).status == "PENDING"  # released for a retry
    w.drain()
    job = load(p, job_id)
    assert job.status == "COMPLETED" and job.attempts == 2

    def broken(*_a: Any, **_k: Any) -> Any:
        raise OSError("always")

    p2 = make_platform(broken, max_attempts=2)
    job_id = submit(p2, _key(p2), tiny_dir)
    w2 = Worker(p2)
    w2.drain()
    w2.drain()
    job = load(p2, job_id)
    assert job.status == "FAILED" and job.attempts == 2 and "always" in (job.error or "")


def test_queue_worker_runs_jobs_end_to_end(make_platform: PlatformFactory, tiny_dir: Path) -> None:
    p = make_platform(worker_concurrency=2)
    key = _key(p)
    w = Worker(p)
    thread = w.start_background()
    try:
        ids = [submit(p, key, tiny_dir) for _ in range(3)]
        for job_id in ids:
            wait_until(lambda j=job_id: load(p, j).status == "COMPLETED", timeout=120)
    finally:
        w.stop_event.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert all(load(p, j).attempts == 1 for j in ids)


def test_scratch_dirs_of_killed_runs_are_cleaned(make_platform: PlatformFactory) -> None:
    import os

    p = make_platform(job_timeout_seconds=10)
    w = Worker(p)
    old, fresh = p.settings.data_dir / "work" / "job-dead-1", p.settings.data_dir / "work" / "job-live-2"
    for d in (old, fresh):
        d.mkdir(parents=True)
        (d / "output.mp4").write_bytes(b"x")
    os.utime(old, (0, 0))
    assert w.clean_workdir() == 1
    assert not old.exists() and fresh.exists()
