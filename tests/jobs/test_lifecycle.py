"""Job states, transitions and the lease operations that make at-least-once delivery safe."""

from __future__ import annotations

import threading
from pathlib import Path

from openlipsync.jobs import lease
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.status import TERMINAL, JobStatus, can_transition
from openlipsync.jobs.tenants import CreatedKey
from tests.jobs.helpers import load, submit


def test_terminal_states_never_move_and_v1_spelling_follows_the_seed() -> None:
    for src in TERMINAL:
        assert not any(can_transition(src, dst) for dst in JobStatus)
    assert can_transition(JobStatus.PENDING, JobStatus.PROCESSING)
    assert can_transition(JobStatus.PROCESSING, JobStatus.PENDING)  # lease released or recovered
    assert not can_transition(JobStatus.PENDING, JobStatus.COMPLETED)
    assert {s.v1 for s in JobStatus} == {"pending", "processing", "completed", "failed"}
    assert set(JobStatus.parse_v1("failed")) == {JobStatus.FAILED, JobStatus.REJECTED, JobStatus.CANCELED}


def test_only_one_of_many_concurrent_claims_wins(platform: Platform, key: CreatedKey, tiny_dir: Path) -> None:
    job_id = submit(platform, key, tiny_dir)
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def contender(n: int) -> None:
        barrier.wait()
        if lease.claim(platform.db, job_id, f"w{n}", 30, 3):
            wins.append(f"w{n}")

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    job = load(platform, job_id)
    assert job.lease_owner == wins[0] and job.attempts == 1 and job.status == "PROCESSING"


def test_a_live_lease_blocks_claims_and_an_expired_one_does_not(platform: Platform, key: CreatedKey,
                                                                 tiny_dir: Path) -> None:
    job_id = submit(platform, key, tiny_dir)
    assert lease.claim(platform.db, job_id, "a", 30, 3)
    assert not lease.claim(platform.db, job_id, "b", 30, 3)
    assert lease.stale_jobs(platform.db, 60) == []
    assert lease.claim(platform.db, job_id, "a", -1, 3) is False  # still held by a (not expired)
    with platform.db.session() as s:  # simulate a dead worker: its lease ran out
        from datetime import timedelta

        from openlipsync.db import Job
        from openlipsync.db.models import utcnow

        s.get(Job, job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    assert lease.stale_jobs(platform.db, 60) == [job_id]
    assert not lease.heartbeat(platform.db, job_id, "b", 30, 0, "x")
    assert lease.claim(platform.db, job_id, "b", 30, 3)
    assert not lease.heartbeat(platform.db, job_id, "a", 30, 50, "render")  # a lost its lease
    assert not lease.finish(platform.db, job_id, "a", JobStatus.COMPLETED, cost=1.0)  # and cannot write
    assert lease.finish(platform.db, job_id, "b", JobStatus.COMPLETED, cost=0.05)
    job = load(platform, job_id)
    assert job.status == "COMPLETED" and job.attempts == 2 and job.cost == 0.05 and job.lease_owner is None
    assert not lease.claim(platform.db, job_id, "c", 30, 3)  # terminal: never claimed again


def test_exhausted_attempts_end_failed_not_stuck(platform: Platform, key: CreatedKey, tiny_dir: Path) -> None:
    job_id = submit(platform, key, tiny_dir)
    assert lease.claim(platform.db, job_id, "a", -1, 1)  # claimed with an already-expired lease
    assert not lease.claim(platform.db, job_id, "b", 30, 1)  # max_attempts reached
    assert lease.fail_exhausted(platform.db, 1) == [job_id]
    job = load(platform, job_id)
    assert job.status == "FAILED" and job.error_code == "generation_worker_lost" and job.error


def test_release_puts_a_job_back_and_can_refund_the_attempt(platform: Platform, key: CreatedKey,
                                                            tiny_dir: Path) -> None:
    job_id = submit(platform, key, tiny_dir)
    assert lease.claim(platform.db, job_id, "a", 30, 3)
    assert lease.release(platform.db, job_id, "a", refund_attempt=True)
    job = load(platform, job_id)
    assert job.status == "PENDING" and job.attempts == 0 and job.lease_owner is None


def test_progress_percent_is_overall_and_never_goes_back() -> None:
    from openlipsync.jobs.worker import overall_percent

    steps = [("probe", 0.0), ("analyse", 0.5), ("analyse", 1.0), ("render", 0.0), ("render", 0.5),
             ("mystery", 0.9), ("render", 1.0), ("done", 1.0)]
    percent, seen = 0.0, []
    for stage, fraction in steps:
        percent = overall_percent(stage, fraction, percent)
        seen.append(percent)
    assert seen == sorted(seen) and seen[-1] == 100.0
    assert 0 < seen[1] < seen[2] < seen[4] < 100 and seen[5] == seen[4]
