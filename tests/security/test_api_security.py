"""Tenancy (BOLA), signed links, keys at rest, filenames, limits and hostile inputs through the live API."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from openlipsync.db import ApiKey
from openlipsync.jobs.tenants import authenticate, revoke_key
from openlipsync.jobs.worker import Worker
from tests.security.conftest import new_key, v1, v2

pytestmark = pytest.mark.timeout(120)


def _create(client: TestClient, headers: dict[str, str], tiny: Path, **fields: str) -> dict:
    with open(tiny / "face.mp4", "rb") as v, open(tiny / "tone.wav", "rb") as a:
        r = client.post("/v1/generations", headers=headers, data=fields,
                        files={"video": ("face.mp4", v, "video/mp4"), "audio": ("tone.wav", a, "audio/wav")})
    assert r.status_code == 201, r.text
    return r.json()


def _asset(client: TestClient, headers: dict[str, str], path: Path, name: str) -> dict:
    with open(path, "rb") as fh:
        r = client.post("/v1/assets", headers=headers, files={"file": (name, fh, "application/octet-stream")})
    assert r.status_code == 201, r.text
    return r.json()


def test_tenant_gets_404_for_another_tenants_jobs_assets_and_outputs(make_client, tiny: Path) -> None:
    client, platform = make_client()
    a, b = new_key(platform), new_key(platform)
    job = _create(client, v1(a), tiny)
    Worker(platform).drain()
    asset = _asset(client, v1(a), tiny / "tone.wav", "tone.wav")
    jid, aid = job["id"], asset["id"]
    line = json.dumps({"request_id": "r1", "payload": {"model": "lipsync-2", "input": [
        {"type": "video", "assetId": aid}, {"type": "audio", "assetId": aid}]}})
    batch = client.post("/v2/batch", headers=v2(a), files={"input": ("b.jsonl", line.encode())})
    assert batch.status_code == 201, batch.text
    bid = batch.json()["id"]
    for method, path, headers in [
        ("GET", f"/v2/batch/{bid}", v2(b)), ("GET", f"/v2/batch/{bid}/results.jsonl", v2(b)),
        ("GET", f"/v1/generations/{jid}", v1(b)), ("GET", f"/v2/generate/{jid}", v2(b)),
        ("GET", f"/v2/generations/{jid}", v2(b)), ("POST", f"/v1/generations/{jid}/cancel", v1(b)),
        ("POST", f"/v2/generate/{jid}/cancel", v2(b)), ("GET", f"/v1/generations/{jid}/video", v1(b)),
        ("DELETE", f"/v1/generations/{jid}", v1(b)), ("GET", f"/v1/assets/{aid}", v1(b)),
        ("GET", f"/v2/assets/{aid}", v2(b)), ("GET", f"/v1/assets/{aid}/content", v1(b)),
        ("DELETE", f"/v1/assets/{aid}", v1(b)),
    ]:
        r = client.request(method, path, headers=headers)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        # indistinguishable from an id that does not exist (no existence oracle)
        ghost = str(uuid.uuid4())
        missing = client.request(method, path.replace(jid, ghost).replace(aid, ghost).replace(bid, ghost),
                                 headers=headers)
        assert missing.status_code == 404
        assert r.text.replace(jid, ghost).replace(aid, ghost).replace(bid, ghost) == missing.text
    # lists never show another tenant's objects
    assert jid not in client.get("/v1/generations", headers=v1(b)).text
    assert jid not in client.get("/v2/generations", headers=v2(b)).text
    assert aid not in client.get("/v1/assets", headers=v1(b)).text
    assert aid not in client.get("/v2/assets", headers=v2(b)).text
    assert bid not in client.get("/v2/batch", headers=v2(b)).text
    # another tenant's asset id cannot be used as an input
    r = client.post("/v2/generate", headers=v2(b), json={"model": "lipsync-2", "input": [
        {"type": "video", "assetId": aid}, {"type": "audio", "assetId": aid}]})
    assert r.status_code == 404, r.text
    # nothing was changed by B's attempts
    mine = client.get(f"/v1/generations/{jid}", headers=v1(a)).json()
    assert mine["status"] == "completed"
    assert client.get(f"/v1/assets/{aid}", headers=v1(a)).status_code == 200


def test_ids_are_random_uuid4(make_client, tiny: Path) -> None:
    client, platform = make_client()
    key = new_key(platform)
    ids = [_create(client, v1(key), tiny)["id"] for _ in range(3)]
    ids.append(_asset(client, v1(key), tiny / "tone.wav", "t.wav")["id"])
    for value in ids:
        assert uuid.UUID(value).version == 4  # 122 random bits: not guessable, not sequential
    assert len(set(ids)) == len(ids)


def test_output_links_are_signed_with_expiry_and_rejected_when_tampered_or_expired(make_client, tiny: Path) -> None:
    client, platform = make_client()
    key = new_key(platform)
    first, second = _create(client, v1(key), tiny), _create(client, v1(key), tiny)
    Worker(platform).drain()
    url = client.get(f"/v1/generations/{first['id']}", headers=v1(key)).json()["video_url"]
    other = client.get(f"/v1/generations/{second['id']}", headers=v1(key)).json()["video_url"]
    assert re.search(r"[?&]expires=\d+", url) and re.search(r"[?&]sig=[0-9a-f]{64}", url)
    assert client.get(url).status_code == 200  # no key needed with a valid signature
    sig = re.search(r"sig=([0-9a-f]+)", url).group(1)  # type: ignore[union-attr]
    expires = int(re.search(r"expires=(\d+)", url).group(1))  # type: ignore[union-attr]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    tampered = [url.replace(sig, flipped), url.replace(f"expires={expires}", f"expires={expires + 3600}"),
                url.split("?")[0], other.replace(second["id"], first["id"]),
                url.replace(first["id"], second["id"])]
    for bad in tampered:
        assert client.get(bad).status_code in (401, 404), bad
    job = platform.jobs.get(key.tenant_id, first["id"])
    old = platform.signer.query("video", job.id, job.output_key, now=1_000_000.0)  # expired long ago
    path = url.split("?")[0].replace(str(client.base_url), "")
    assert client.get(f"{path}?{old}").status_code == 401


def test_api_keys_are_hashed_at_rest_revocable_and_compared_in_constant_time(make_client, monkeypatch) -> None:
    client, platform = make_client()
    key = new_key(platform)
    with platform.db.session() as s:
        rows = s.scalars(select(ApiKey)).all()
        stored = [str(getattr(r, c.key)) for r in rows for c in ApiKey.__table__.columns]
    assert not any(key.key in value for value in stored)
    assert hashlib.sha256(key.key.encode()).hexdigest() in stored

    import openlipsync.jobs.tenants as tenants

    calls: list[tuple[str, str]] = []
    real = tenants.hmac.compare_digest
    monkeypatch.setattr(tenants.hmac, "compare_digest", lambda x, y: calls.append((x, y)) or real(x, y))
    assert authenticate(platform.db, key.key) is not None and calls
    monkeypatch.undo()

    assert client.get("/v1/generations", headers=v1(key)).status_code == 200
    revoke_key(platform.db, key.key_id)
    assert client.get("/v1/generations", headers=v1(key)).status_code == 401
    assert client.get("/v2/generations", headers=v2(key)).status_code == 401
    assert client.get("/v2/generations", headers={"x-api-key": key.key[:-1] + "x"}).status_code == 401


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/shadow",
                                  "a/../../b.wav", "..", ".hidden", "x" * 500 + ".wav", "nul\x00byte.wav",
                                  "%2e%2e%2fetc%2fpasswd"])
def test_upload_filenames_are_never_used_as_paths(make_client, tiny: Path, name: str) -> None:
    client, platform = make_client()
    key = new_key(platform)
    asset = _asset(client, v1(key), tiny / "tone.wav", name)
    stored = platform.assets.get(key.tenant_id, asset["id"])
    assert "/" not in stored.name and "\\" not in stored.name and not stored.name.startswith(".")
    assert len(stored.name) <= 120 and "\x00" not in stored.name
    local = platform.storage.local_path(stored.storage_key)
    data_dir = platform.settings.data_dir.resolve()
    if local is not None:
        assert local.resolve().is_relative_to(data_dir)
        assert local.read_bytes() == (tiny / "tone.wav").read_bytes()
    assert key.tenant_id in stored.storage_key


def test_output_file_name_cannot_traverse(make_client, tiny: Path) -> None:
    client, platform = make_client()
    key = new_key(platform)
    with open(tiny / "face.mp4", "rb") as v, open(tiny / "tone.wav", "rb") as a:
        r = client.post("/v1/generations", headers=v1(key), data={"output_file_name": "../../evil"},
                        files={"video": ("face.mp4", v), "audio": ("tone.wav", a)})
    assert r.status_code == 400


def test_hostile_inputs_get_clear_4xx_with_machine_codes(make_client, tiny: Path) -> None:
    client, platform = make_client()
    key = new_key(platform)
    with open(tiny / "notes.txt", "rb") as v, open(tiny / "tone.wav", "rb") as a:
        r = client.post("/v2/generate", headers=v2(key), data={"model": "lipsync-2"},
                        files={"video": ("clip.mp4", v), "audio": ("tone.wav", a)})
    assert r.status_code == 415 and r.json()["errorCode"] == "generation_input_wrong_type", r.text
    for url, code in [("http://169.254.169.254/latest/meta-data/", "generation_input_url_forbidden"),
                      ("file:///etc/passwd", "generation_input_url_forbidden"),
                      ("http://10.0.0.1/a.mp4", "generation_input_url_forbidden"),
                      ("http://[::ffff:169.254.169.254]/x", "generation_input_url_forbidden")]:
        r = client.post("/v2/generate", headers=v2(key), json={"model": "lipsync-2", "input": [
            {"type": "video", "url": url}, {"type": "audio", "url": url}]})
        assert r.status_code == 400 and r.json()["errorCode"] == code, (url, r.text)
    with open(tiny / "tone.wav", "rb") as a:  # audio as the visual input
        r = client.post("/v1/generations", headers=v1(key), files={"video": ("v.mp4", a), "audio": ("a.wav", a)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "generation_video_missing", r.text
    assert client.get("/v1/generations", headers=v1(key)).json()["data"] == []  # nothing was accepted


def test_rate_limit_gives_429_with_retry_after_through_the_app(make_client) -> None:
    client, platform = make_client(rate_limit_requests_per_second=0.5, rate_limit_burst=3)
    key = new_key(platform)
    codes = [client.get("/v2/generations", headers=v2(key)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/v2/generations", headers=v2(key))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert set(body) == {"message", "error", "statusCode", "errorCode"} and body["statusCode"] == 429
    assert client.get("/v2/generations", headers=v2(new_key(platform))).status_code == 200  # per key
    assert client.get("/health").status_code == 200


def test_active_jobs_per_tenant_are_limited(make_client, tiny: Path) -> None:
    client, platform = make_client(quota_max_active_jobs=2)
    key, other = new_key(platform), new_key(platform)
    _create(client, v1(key), tiny)
    _create(client, v1(key), tiny)
    with open(tiny / "face.mp4", "rb") as v, open(tiny / "tone.wav", "rb") as a:
        r = client.post("/v2/generate", headers=v2(key), files={"video": ("f.mp4", v), "audio": ("t.wav", a)})
    assert r.status_code == 429 and r.json()["errorCode"] == "concurrent_jobs_limit_exceeded"
    assert int(r.headers["retry-after"]) >= 1
    _create(client, v1(other), tiny)  # other tenants are unaffected
    Worker(platform).drain()
    _create(client, v1(key), tiny)  # finished jobs free the slots


def test_stored_bytes_quota(make_client, tiny: Path) -> None:
    size = (tiny / "tone.wav").stat().st_size
    client, platform = make_client(quota_max_stored_bytes=int(size * 2.5))
    key = new_key(platform)
    _asset(client, v1(key), tiny / "tone.wav", "one.wav")
    _asset(client, v1(key), tiny / "tone.wav", "two.wav")
    with open(tiny / "tone.wav", "rb") as fh:
        r = client.post("/v1/assets", headers=v1(key), files={"file": ("three.wav", fh)})
    assert r.status_code == 403 and r.json()["error"]["code"] == "quota_exceeded", r.text
    assert len(client.get("/v1/assets", headers=v1(key)).json()["data"]) == 2


def test_request_body_over_the_cap_is_refused_while_streaming(make_client) -> None:
    client, platform = make_client(max_upload_bytes=1000)
    key = new_key(platform)
    cap = 2 * 1000 + 16 * 1024 * 1024
    r = client.post("/v1/assets", headers={**v1(key), "content-length": str(cap + 1)}, content=b"x" * (cap + 1))
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"y" * (1024 * 1024)

    r = client.post("/v2/assets", headers={**v2(key), "content-type": "application/octet-stream"}, content=chunks())
    assert r.status_code == 413 and r.json()["errorCode"] == "request_too_large", r.text
    # JSON is parsed in memory: its cap is 8 MiB whatever the upload cap
    big_json = b'{"model": "lipsync-2", "input": [], "pad": "' + b"z" * (9 * 1024 * 1024) + b'"}'
    r = client.post("/v2/generate", headers={**v2(key), "content-type": "application/json"}, content=big_json)
    assert r.status_code == 413 and r.json()["errorCode"] == "request_too_large"


def test_crashing_engine_fails_only_its_job(make_client, tiny: Path) -> None:
    from openlipsync.security.isolation import IsolatedRunner

    client, platform = make_client()
    key = new_key(platform)
    crashed = _create(client, v1(key), tiny)
    platform.runner = IsolatedRunner(target="tests.security.engine_targets:segfault", time_limit_seconds=30)
    Worker(platform).drain()
    failed = client.get(f"/v1/generations/{crashed['id']}", headers=v1(key)).json()
    assert failed["status"] == "failed" and failed["error_code"] == "generation_engine_crashed", failed
    platform.runner = IsolatedRunner(target="tests.api.support:fast_runner", time_limit_seconds=60)
    ok = _create(client, v1(key), tiny)
    Worker(platform).drain()
    done = client.get(f"/v1/generations/{ok['id']}", headers=v1(key)).json()
    assert done["status"] == "completed", done


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_faceless_video_ends_in_a_recorded_outcome_never_a_hang(tmp_path: Path) -> None:
    """The real engine (isolated) on a video with no face: completed pass-through or failed with a code."""
    from fastapi.testclient import TestClient

    from openlipsync.api import create_app
    from openlipsync.jobs.platform import Platform
    from tests import factories
    from tests.api.support import make_settings

    video = factories.make_noface_video(tmp_path / "noface.mp4", seconds=0.6, size=96)
    audio = factories.make_tone(tmp_path / "tone.wav", seconds=0.5)
    platform = Platform.build(make_settings(tmp_path / "data", job_timeout_seconds=300))
    try:
        with TestClient(create_app(platform.settings, platform=platform, studio=False)) as client:
            key = new_key(platform)
            with open(video, "rb") as v, open(audio, "rb") as a:
                r = client.post("/v1/generations", headers=v1(key),
                                files={"video": ("n.mp4", v), "audio": ("t.wav", a)})
            if r.status_code != 201:  # refused at validation: must be a clear 4xx with a code
                assert 400 <= r.status_code < 500 and r.json()["error"]["code"], r.text
                return
            Worker(platform).drain()
            job = client.get(f"/v1/generations/{r.json()['id']}", headers=v1(key)).json()
            assert job["status"] in ("completed", "failed"), job
            print("faceless outcome:", job["status"], job.get("error_code"), job.get("sync_report"))
            if job["status"] == "failed":
                assert job["error_code"] and job["error"], job
    finally:
        platform.close()


def test_webhooks_to_internal_addresses_are_refused_at_delivery(make_client, tiny: Path) -> None:
    from openlipsync.db import WebhookDelivery

    client, platform = make_client(webhook_max_attempts=1, url_allow_networks=[])
    key = new_key(platform)
    # a name passes at creation (no DNS then); at delivery it resolves to loopback, which is not allowed
    with open(tiny / "face.mp4", "rb") as v, open(tiny / "tone.wav", "rb") as a:
        r = client.post("/v2/generate", headers=v2(key), data={"webhookUrl": "http://localhost:9/hook"},
                        files={"video": ("f.mp4", v), "audio": ("t.wav", a)})
    assert r.status_code == 201, r.text
    Worker(platform).drain()
    with platform.db.session() as s:
        deliveries = s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == r.json()["id"])).all()
        assert len(deliveries) == 1 and not deliveries[0].succeeded
        assert "generation_input_url_forbidden" in (deliveries[0].error or "")


def test_stored_files_are_served_with_the_probed_type_never_the_callers_name(make_client, tiny: Path) -> None:
    client, platform = make_client()
    key = new_key(platform)
    asset = _asset(client, v1(key), tiny / "tone.wav", "page.html")  # a WAV whose name says HTML
    assert asset["content_type"] == "audio/wav"
    r = client.get(asset["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none' covers scripts


@pytest.mark.parametrize("hook,accepted", [
    ("file:///etc/passwd", False), ("gopher://example.com/x", False), ("http://169.254.169.254/hook", False),
    ("http://[fd00:ec2::254]/hook", False), ("http://user:pw@example.com/hook", False), ("http://10.1.2.3/h", False),
    ("https://hooks.example.com/sync", True),  # names are resolved and checked at delivery
])
def test_webhook_urls_are_checked_when_the_job_is_created(make_client, tiny: Path, hook: str,
                                                           accepted: bool) -> None:
    client, platform = make_client()
    key = new_key(platform)
    with open(tiny / "face.mp4", "rb") as v, open(tiny / "tone.wav", "rb") as a:
        r = client.post("/v2/generate", headers=v2(key), data={"webhookUrl": hook},
                        files={"video": ("f.mp4", v), "audio": ("t.wav", a)})
    if accepted:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 400 and r.json()["errorCode"] == "generation_webhook_url_forbidden", r.text
