"""Fault test on the scale-out configuration (issue 7): 3 worker processes, 12 short jobs, ``kill -9`` a
worker while it runs a job, restart the API server once mid-run. Every job must complete exactly once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openlipsync.db import Database, Job
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.tenants import create_key
from openlipsync.storage.s3 import S3Storage
from tests import factories
from tests.scaleout.cluster import Cluster, WebhookLog, submit, webhook_receiver
from tests.scaleout.conftest import ScaleOut

JOBS = 12
WORKERS = 3
# Short leases and sweeps so that a dead worker's job comes back within seconds instead of a minute.
FAST_RECOVERY = {"OPENLIPSYNC_LEASE_SECONDS": "4", "OPENLIPSYNC_HEARTBEAT_SECONDS": "1",
                 "OPENLIPSYNC_SWEEP_INTERVAL_SECONDS": "1", "OPENLIPSYNC_WEBHOOK_BACKOFF_SECONDS": "0.5"}


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    video = factories.make_face_video(tmp_path / "face.mp4", seconds=1.0, size=160)
    audio = factories.make_speech(tmp_path / "hello.wav", text="Hello there, this is a short test.")
    return video, audio


@pytest.fixture()
def cluster(scaleout: ScaleOut, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(env={**scaleout.env(), **FAST_RECOVERY}, workdir=tmp_path / "cluster")
    c.workdir.mkdir()
    yield c
    c.stop()


def _jobs(db: Database, ids: list[str]) -> dict[str, Job]:
    with db.session() as s:
        return {j.id: j for j in s.query(Job).filter(Job.id.in_(ids))}


def _kill_a_busy_worker(cluster: Cluster, db: Database, ids: list[str], timeout: float = 120) -> str:
    """Wait for a job being processed early in its run by one of our workers; SIGKILL that worker."""
    pids = {p.pid for p in cluster.workers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in _jobs(db, ids).values():
            owner_pid = int(job.lease_owner.split(":")[1]) if job.lease_owner else -1
            if job.status == JobStatus.PROCESSING.value and owner_pid in pids and job.progress_percent < 50:
                cluster.kill_worker(owner_pid)
                return job.id
        time.sleep(0.02)
    raise AssertionError("no job was seen in processing")


def test_jobs_survive_a_killed_worker_and_an_api_restart(scaleout: ScaleOut, cluster: Cluster,
                                                         inputs: tuple[Path, Path]) -> None:
    db = Database(scaleout.database_url)
    key = create_key(db, f"fault-{uuid.uuid4().hex[:8]}", "fault test")
    hooks = WebhookLog(secret=key.webhook_secret)
    video, audio = inputs
    started = time.monotonic()
    try:
        with webhook_receiver(hooks) as hook_url, httpx.Client(timeout=60) as client:
            for _ in range(WORKERS):
                cluster.start_worker(concurrency=1)
            cluster.start_api()
            ids = [submit(client, cluster.base_url, key.key, video, audio, webhook_url=hook_url)["id"]
                   for _ in range(JOBS // 2)]
            victim = _kill_a_busy_worker(cluster, db, ids)
            killed_at = time.monotonic()
            cluster.stop_api()
            cluster.start_api()  # restarted once mid-run; the second half goes to the new server
            ids += [submit(client, cluster.base_url, key.key, video, audio, webhook_url=hook_url)["id"]
                    for _ in range(JOBS - JOBS // 2)]
            final = _wait_all_terminal(client, cluster, key.key, ids)
            victim_done = time.monotonic() - killed_at
            _wait_webhooks_settled(db, ids)
            hooks_by_job = hooks.by_job()
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        jobs = _jobs(db, ids) if "ids" in locals() else {}
        db.dispose()
    elapsed = time.monotonic() - started

    assert sorted(final) == sorted(ids) and len(ids) == JOBS
    assert all(g["status"] == "completed" for g in final.values()), final
    assert not [j.id for j in jobs.values() if j.status == JobStatus.PROCESSING.value]
    assert jobs[victim].attempts >= 2, "the killed worker's job must have been run again"
    store = S3Storage.from_url(scaleout.storage_url)
    for job in jobs.values():
        outputs = store.list_keys(f"tenants/{key.tenant_id}/outputs/{job.id}")
        assert outputs == [job.output_key], f"{job.id}: outputs {outputs}"
        assert job.status == JobStatus.COMPLETED.value and job.completed_at is not None
        assert job.lease_owner is None and job.webhook_state == "delivered"
    assert all(ok for _, ok, _ in hooks.deliveries), "every webhook carries a valid Sync-Signature"
    assert sorted(hooks_by_job) == sorted(ids)
    for job_id, bodies in hooks_by_job.items():
        # at-least-once: a duplicate is allowed only if it reports the very same result
        assert {_result(b) for b in bodies} == {_result(bodies[0])}, f"{job_id}: conflicting webhooks"
        assert bodies[0]["status"] == "COMPLETED"
    duplicates = sum(len(b) - 1 for b in hooks_by_job.values())
    print(f"\nfault test: {JOBS} jobs on {WORKERS} workers, all COMPLETED in {elapsed:.1f}s; killed job "
          f"{victim[:8]} completed {victim_done:.1f}s after the kill on attempt {jobs[victim].attempts}; "
          f"attempts per job {sorted(j.attempts for j in jobs.values())}; webhooks {len(hooks.deliveries)} "
          f"({duplicates} identical duplicates); outputs {JOBS} (one each)")


def _result(body: dict[str, Any]) -> tuple[Any, ...]:
    url = (body.get("outputUrl") or "").split("?")[0]
    return body.get("status"), url, body.get("outputDuration"), body.get("error")


def _wait_all_terminal(client: httpx.Client, cluster: Cluster, api_key: str, ids: list[str],
                       timeout: float = 420) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for job_id in ids:
            if job_id in done:
                continue
            r = client.get(f"{cluster.base_url}/v1/generations/{job_id}",
                           headers={"Authorization": f"Bearer {api_key}"})
            if r.status_code == 200 and r.json()["status"] in ("completed", "failed"):
                done[job_id] = r.json()
        if len(done) == len(ids):
            return done
        time.sleep(0.5)
    raise AssertionError(f"only {len(done)}/{len(ids)} jobs finished within {timeout}s")


def _wait_webhooks_settled(db: Database, ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(j.webhook_state in ("delivered", "failed") for j in _jobs(db, ids).values()):
            return
        time.sleep(0.3)
    raise AssertionError("webhooks still pending")

