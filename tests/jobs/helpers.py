"""Creating jobs directly through the service (no HTTP) for worker and lease tests."""

from __future__ import annotations

from pathlib import Path

from openlipsync.db import Job
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.requests import GenerationRequest, InputSpec
from openlipsync.jobs.tenants import CreatedKey


def submit(platform: Platform, key: CreatedKey, tiny_dir: Path, **request: object) -> str:
    req = GenerationRequest(model=str(request.pop("model", "lipsync-2")),
                            visual=InputSpec("upload", path=tiny_dir / "face.mp4", filename="face.mp4"),
                            audio=InputSpec("upload", path=tiny_dir / "hello.wav", filename="hello.wav"),
                            **request)  # type: ignore[arg-type]
    job, _ = platform.jobs.create(key.tenant_id, req)
    return job.id


def load(platform: Platform, job_id: str) -> Job:
    with platform.db.session() as s:
        job = s.get(Job, job_id)
    assert job is not None
    return job
