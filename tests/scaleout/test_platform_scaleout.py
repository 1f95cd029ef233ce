"""The job platform, in-process, on PostgreSQL + Redis (Dramatiq) + S3: jobs end to end, output links."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from openlipsync.api import create_app
from openlipsync.config import Settings
from openlipsync.db import Job
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.requests import GenerationRequest, InputSpec
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.tenants import create_key
from openlipsync.jobs.worker import Worker
from openlipsync.media.probe import probe
from openlipsync.storage.s3 import S3Storage
from tests.scaleout.conftest import ScaleOut


def _settings(scaleout: ScaleOut, data_dir: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, database_url=scaleout.database_url, queue_url=scaleout.queue_url,
                    storage_url=scaleout.storage_url, lease_seconds=5, heartbeat_seconds=1,
                    sweep_interval_seconds=1, secret_key="scaleout-test-secret-0123456789", **extra)


@pytest.fixture()
def platform(scaleout: ScaleOut, tmp_path: Path) -> Iterator[Platform]:
    p = Platform.build(_settings(scaleout, tmp_path / "data"))
    yield p
    p.close()


def _wait_terminal(platform: Platform, job_id: str, seconds: float = 180) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with platform.db.session() as s:
            job = s.get(Job, job_id)
        assert job is not None
        if JobStatus(job.status).terminal:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status} after {seconds}s")


def _run_one_job(platform: Platform, video: Path, audio: Path) -> tuple[str, Job]:
    """Create a job for a new tenant, let a queue-driven worker run it; return (api key, finished job)."""
    key = create_key(platform.db, f"scaleout-{uuid.uuid4().hex[:8]}", "test")
    req = GenerationRequest(model="lipsync-1.9", visual=InputSpec(kind="upload", path=video, filename="f.mp4"),
                            audio=InputSpec(kind="upload", path=audio, filename="s.wav"))
    job, created = platform.jobs.create(key.tenant_id, req)
    assert created and job.status == JobStatus.PENDING.value
    worker = Worker(platform)
    thread = worker.start_background(1)  # consumes the Redis queue through Dramatiq
    try:
        done = _wait_terminal(platform, job.id)
    finally:
        worker.stop_event.set()
        thread.join(60)
    assert done.status == JobStatus.COMPLETED.value, done.error
    return key.key, done


def test_a_job_completes_with_its_output_in_s3_behind_a_presigned_link(
        platform: Platform, face_video: Path, speech_wav: Path, tmp_path: Path) -> None:
    assert isinstance(platform.storage, S3Storage)
    _key, done = _run_one_job(platform, face_video, speech_wav)
    assert done.output_key and done.output_key.startswith(f"tenants/{done.tenant_id}/outputs/{done.id}/")
    store = platform.storage
    assert store.list_keys(f"tenants/{done.tenant_id}/outputs") == [done.output_key]
    url = store.presigned_url(done.output_key, 60)
    assert url is not None
    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(url).raise_for_status().content)
    info = probe(out)
    assert info.has_video and info.has_audio and info.frame_count == done.frame_count


def test_output_links_redirect_to_presigned_s3_urls_when_enabled(
        scaleout: ScaleOut, face_video: Path, speech_wav: Path, tmp_path: Path) -> None:
    platform = Platform.build(_settings(scaleout, tmp_path / "data", presigned_redirect=True))
    try:
        api_key, done = _run_one_job(platform, face_video, speech_wav)
        stored = b"".join(platform.storage.iter_bytes(done.output_key or ""))
        app = create_app(platform.settings, platform=platform, studio=False)
        with TestClient(app, follow_redirects=False) as client:
            gen = client.get(f"/v1/generations/{done.id}", headers={"Authorization": f"Bearer {api_key}"}).json()
            redirect = client.get(gen["video_url"])
            assert redirect.status_code == 307
            location = redirect.headers["location"]
            assert "X-Amz-Signature=" in location and done.output_key in location
            tampered = client.get(gen["video_url"].replace("sig=", "sig=0"))
            assert tampered.status_code in (401, 403, 404)
        direct = httpx.get(location)
        assert direct.status_code == 200 and direct.content == stored
        ranged = httpx.get(location, headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and ranged.content == stored[:100]
    finally:
        platform.close()
