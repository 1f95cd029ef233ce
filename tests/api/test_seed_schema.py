"""Every v1 Generation object validates against the seed schema, in every state a job can be in."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jsonschema import ValidationError

from openlipsync.jobs import lease
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey
from openlipsync.jobs.worker import Worker
from tests.api.conftest import v1_headers
from tests.api.support import assert_seed_valid


def _create(client: TestClient, key: CreatedKey, tiny_dir: Path) -> str:
    with open(tiny_dir / "face.mp4", "rb") as v, open(tiny_dir / "hello.wav", "rb") as a:
        r = client.post("/v1/generations", headers=v1_headers(key), files={"video": v, "audio": a})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _get(client: TestClient, key: CreatedKey, job_id: str) -> dict:
    r = client.get(f"/v1/generations/{job_id}", headers=v1_headers(key))
    assert r.status_code == 200
    return dict(r.json())


def test_the_validator_really_checks_formats_and_nullability() -> None:
    good = {"id": "x", "status": "pending", "created_at": "2025-01-01T00:00:00Z", "completed_at": None,
            "video_url": None, "model": "lipsync-2", "error": None, "duration_seconds": 1.0, "cost": None}
    assert_seed_valid(good)
    for bad in ({"created_at": "yesterday"}, {"video_url": "/relative/path"}, {"status": "PENDING"},
                {"model": "lipsync-1.9.0-beta"}, {"duration_seconds": None}):
        with pytest.raises(ValidationError):
            assert_seed_valid({**good, **bad})


def test_every_state_validates(client: TestClient, key: CreatedKey, platform: Platform, tiny_dir: Path,
                               worker: Worker) -> None:
    seen = {}
    pending = _create(client, key, tiny_dir)
    seen["pending"] = _get(client, key, pending)

    processing = _create(client, key, tiny_dir)
    assert lease.claim(platform.db, processing, "test-owner", 60, 3)
    lease.heartbeat(platform.db, processing, "test-owner", 60, 42.0, "render")
    seen["processing"] = _get(client, key, processing)
    assert seen["processing"]["progress"] == {"percent": 42.0, "stage": "render"}

    cancelled = _create(client, key, tiny_dir)
    client.post(f"/v1/generations/{cancelled}/cancel", headers=v1_headers(key))
    seen["cancelled"] = _get(client, key, cancelled)

    failed = _create(client, key, tiny_dir)
    assert lease.claim(platform.db, failed, "test-owner", 60, 3)
    assert lease.finish(platform.db, failed, "test-owner", lease.JobStatus.FAILED, error="engine exploded",
                        error_code="generation_pipeline_failed", cost=0.0)
    seen["failed"] = _get(client, key, failed)

    rejected = platform.jobs.reject(key.tenant_id, "lipsync-2", [{"type": "video", "url": "http://x/v.mp4"}], {},
                                    "inputs refused")
    seen["rejected"] = _get(client, key, rejected.id)

    worker.drain()  # completes the pending one
    seen["completed"] = _get(client, key, pending)

    for state, obj in seen.items():
        assert_seed_valid(obj)
        assert obj["duration_seconds"] >= 0, state
    assert [seen[s]["status"] for s in ("processing", "completed", "cancelled", "failed", "rejected")] == \
        ["processing", "completed", "failed", "failed", "failed"]
    assert seen["completed"]["video_url"].startswith("http") and seen["completed"]["completed_at"]
    for state in ("cancelled", "failed", "rejected"):
        assert seen[state]["error"] and seen[state]["completed_at"] and seen[state]["cost"] == 0.0
    assert {seen[s]["state"] for s in ("cancelled", "rejected")} == {"canceled", "rejected"}

    listed = client.get("/v1/generations?limit=100", headers=v1_headers(key)).json()["data"]
    assert len(listed) == 5
    for obj in listed:
        assert_seed_valid(obj)
