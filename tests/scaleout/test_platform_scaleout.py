"""The job platform, in-process, on PostgreSQL + Redis (Dramatiq) + S3: one job end to end."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from openlipsync.config import Settings
from openlipsync.db import Job
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.requests import GenerationRequest, InputSpec
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.tenants import get_or_create_tenant
from openlipsync.jobs.worker import Worker
from openlipsync.media.probe import probe
from openlipsync.storage.s3 import S3Storage
from tests.scaleout.conftest import ScaleOut


@pytest.fixture()
def platform(scaleout: ScaleOut, tmp_path: Path) -> Platform:
    settings = Settings(data_dir=tmp_path / "data", database_url=scaleout.database_url,
                        queue_url=scaleout.queue_url, storage_url=scaleout.storage_url,
                        lease_seconds=5, heartbeat_seconds=1, sweep_interval_seconds=1)
    p = Platform.build(settings)
    yield p
    p.close()


def _wait_terminal(platform: Platform, job_id: str, seconds: float = 120) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with platform.db.session() as s:
            job = s.get(Job, job_id)
        assert job is not None
        if JobStatus(job.status).terminal:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status} after {seconds}s")


def test_a_job_completes_with_its_output_in_s3_behind_a_presigned_link(
        platform: Platform, face_video: Path, speech_wav: Path, tmp_path: Path) -> None:
    assert isinstance(platform.storage, S3Storage)
    tenant = get_or_create_tenant(platform.db, f"scaleout-{uuid.uuid4().hex[:8]}")
    req = GenerationRequest(model="lipsync-1.9", visual=InputSpec(kind="upload", path=face_video, filename="f.mp4"),
                            audio=InputSpec(kind="upload", path=speech_wav, filename="s.wav"))
    job, created = platform.jobs.create(tenant.id, req)
    assert created and job.status == JobStatus.PENDING.value
    worker = Worker(platform)
    thread = worker.start_background(1)
    try:
        done = _wait_terminal(platform, job.id)
    finally:
        worker.stop_event.set()
        thread.join(60)
    assert done.status == JobStatus.COMPLETED.value, done.error
    assert done.output_key and done.output_key.startswith(f"tenants/{tenant.id}/outputs/{job.id}/")
    store = platform.storage
    assert store.list_keys(f"tenants/{tenant.id}/outputs") == [done.output_key]
    url = store.presigned_url(done.output_key, 60)
    assert url is not None
    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(url).raise_for_status().content)
    info = probe(out)
    assert info.has_video and info.has_audio and info.frame_count == done.frame_count
