"""API keys (Bearer on v1, x-api-key on v2, revocation) and Idempotency-Key on create."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey, hash_key, list_keys, revoke_key
from tests.api.conftest import v1_headers, v2_headers


def _body(client: TestClient, key: CreatedKey, tiny_dir: Path) -> dict:
    with open(tiny_dir / "face.mp4", "rb") as v:
        asset = client.post("/v1/assets", headers=v1_headers(key), files={"file": ("face.mp4", v)}).json()
    return {"video": {"asset_id": asset["id"]}, "audio": {"text": "Hello there."}}


def test_keys_are_required_and_stored_hashed(client: TestClient, key: CreatedKey, platform: Platform) -> None:
    assert client.get("/v1/generations").status_code == 401
    assert client.get("/v1/generations", headers={"Authorization": "Bearer ols_wrong"}).status_code == 401
    assert client.get("/v1/generations", headers=v1_headers(key)).status_code == 200
    assert client.get("/v1/generations", headers=v2_headers(key)).status_code == 200  # x-api-key works on v1
    assert client.get("/v2/generations", headers=v2_headers(key)).status_code == 200
    rows = [k for k, _t in list_keys(platform.db) if k.id == key.key_id]
    assert rows[0].key_hash == hash_key(key.key) and key.key not in rows[0].key_hash
    assert rows[0].last_used_at is not None


def test_revoked_key_is_refused(client: TestClient, key: CreatedKey, platform: Platform) -> None:
    revoke_key(platform.db, key.key_id)
    r = client.get("/v1/generations", headers=v1_headers(key))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_same_idempotency_key_returns_the_same_job(client: TestClient, key: CreatedKey, tiny_dir: Path) -> None:
    body = _body(client, key, tiny_dir)
    h = {**v1_headers(key), "Idempotency-Key": "order-42"}
    first = client.post("/v1/generations", headers=h, json=body)
    again = client.post("/v1/generations", headers=h, json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(client.get("/v1/generations", headers=v1_headers(key)).json()["data"]) == 1
    other = client.post("/v1/generations", headers=h, json={**body, "options": {"sync_mode": "bounce"}})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    bad = client.post("/v1/generations", headers={**v1_headers(key), "Idempotency-Key": "no spaces!"}, json=body)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_idempotency_key"


def test_idempotency_is_per_tenant(client: TestClient, key: CreatedKey, other_key: CreatedKey,
                                   tiny_dir: Path) -> None:
    a = client.post("/v1/generations", headers={**v1_headers(key), "Idempotency-Key": "k1"},
                    json=_body(client, key, tiny_dir))
    b = client.post("/v1/generations", headers={**v1_headers(other_key), "Idempotency-Key": "k1"},
                    json=_body(client, other_key, tiny_dir))
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


def test_v2_create_honours_idempotency_key(client: TestClient, key: CreatedKey, media_url: str) -> None:
    body = {"model": "lipsync-2", "input": [{"type": "video", "url": f"{media_url}/face.mp4"},
                                            {"type": "audio", "url": f"{media_url}/hello.wav"}]}
    h = {**v2_headers(key), "Idempotency-Key": "abc.123"}
    first = client.post("/v2/generate", headers=h, json=body).json()
    second = client.post("/v2/generate", headers=h, json=body).json()
    assert first["id"] == second["id"]


def test_health_and_readiness_and_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["checks"]["database"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/v1/generations" in spec["paths"] and "/v2/generate" in spec["paths"]
    assert "GenerationCreate" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
