"""The Sync-compatible /v2 surface over HTTP: shapes, casing, filters, errors, batch, assets, models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey
from openlipsync.jobs.worker import Worker
from tests.api.conftest import v1_headers, v2_headers


def _body(media_url: str, **extra: object) -> dict:
    return {"model": "lipsync-2", "input": [{"type": "video", "url": f"{media_url}/face.mp4"},
                                            {"type": "audio", "url": f"{media_url}/hello.wav"}], **extra}


def test_generate_echoes_the_request_in_sync_casing(client: TestClient, key: CreatedKey, media_url: str) -> None:
    body = _body(media_url, options={"sync_mode": "cut_off", "temperature": 0.7}, outputFileName="quick",
                 unknownField=1)
    r = client.post("/v2/generate", headers=v2_headers(key), json=body)
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["status"] == "PENDING" and g["model"] == "lipsync-2" and g["createdAt"].endswith("Z")
    assert g["input"] == body["input"] and g["options"] == body["options"]
    for k in ("webhookUrl", "outputUrl", "outputDuration", "error", "error_code", "segments"):
        assert k in g and g[k] is None


def test_model_alias_is_echoed_on_v2_and_canonical_on_v1(client: TestClient, key: CreatedKey,
                                                         media_url: str) -> None:
    g = client.post("/v2/generate", headers=v2_headers(key), json={**_body(media_url),
                                                                     "model": "lipsync-1.9.0-beta"}).json()
    assert g["model"] == "lipsync-1.9.0-beta"
    assert client.get(f"/v1/generations/{g['id']}", headers=v1_headers(key)).json()["model"] == "lipsync-1.9"


def test_both_apis_are_views_of_the_same_jobs(client: TestClient, key: CreatedKey, media_url: str,
                                              worker: Worker) -> None:
    v1 = client.post("/v1/generations", headers=v1_headers(key), json={
        "video": {"url": f"{media_url}/face.mp4"}, "audio": {"url": f"{media_url}/hello.wav"}}).json()
    v2 = client.get(f"/v2/generate/{v1['id']}", headers=v2_headers(key)).json()
    assert v2["status"] == "PENDING" and v2["input"][0]["type"] == "video" and v2["input"][0]["assetId"]
    worker.drain()
    v2 = client.get(f"/v2/generate/{v1['id']}", headers=v2_headers(key)).json()
    v1 = client.get(f"/v1/generations/{v1['id']}", headers=v1_headers(key)).json()
    assert v2["status"] == "COMPLETED" and v1["status"] == "completed"
    # the same output object (the signed query carries its own expiry second, which may differ)
    assert v2["outputUrl"].split("?")[0] == v1["video_url"].split("?")[0]
    assert v2["outputDuration"] == v1["duration_seconds"]
    assert client.get(v2["outputUrl"]).status_code == 200  # fetchable without the API key
    assert client.get(v1["video_url"]).status_code == 200


@pytest.mark.parametrize("query", [
    "status=COMPLETED&status=CANCELED",
    "status=COMPLETED,CANCELED",
    "status=%5B%22COMPLETED%22%2C%22CANCELED%22%5D",
])
def test_list_accepts_all_three_filter_encodings(client: TestClient, key: CreatedKey, media_url: str,
                                                 worker: Worker, query: str) -> None:
    ids = [client.post("/v2/generate", headers=v2_headers(key), json=_body(media_url)).json()["id"] for _ in range(3)]
    client.post(f"/v2/generate/{ids[0]}/cancel", headers=v2_headers(key))
    worker.drain()
    client.post("/v2/generate", headers=v2_headers(key), json=_body(media_url))  # stays PENDING
    r = client.get(f"/v2/generations?{query}&unknownParam=1", headers=v2_headers(key))
    assert r.status_code == 200
    assert isinstance(r.json(), list)
    assert {g["id"] for g in r.json()} == set(ids)
    by_ids = client.get(f"/v2/generations?ids={ids[1]}&ids={ids[2]}", headers=v2_headers(key)).json()
    assert {g["id"] for g in by_ids} == {ids[1], ids[2]}
    newest = client.get("/v2/generations?limit=2", headers=v2_headers(key)).json()
    after = client.get(f"/v2/generations?limit=2&cursor={newest[-1]['id']}", headers=v2_headers(key)).json()
    assert len(newest) == 2 and len(after) == 2 and not {g["id"] for g in newest} & {g["id"] for g in after}


def test_errors_use_the_nestjs_shape(client: TestClient, key: CreatedKey, media_url: str) -> None:
    r = client.get("/v2/generations")
    assert r.status_code == 401 and r.json()["statusCode"] == 401 and r.json()["message"] == "Unauthorized"
    r = client.get("/v2/generate/does-not-exist", headers=v2_headers(key))
    assert r.status_code == 404 and r.json()["error"] == "Not Found" and r.json()["statusCode"] == 404
    for bad in ({"model": "lipsync-2"}, {**_body(media_url), "model": "nope"},
                {"model": "lipsync-2", "input": [{"type": "video", "url": f"{media_url}/face.mp4"}]},
                {**_body(media_url), "options": {"sync_mode": "sideways"}}):
        r = client.post("/v2/generate", headers=v2_headers(key), json=bad)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "Bad Request" and r.json()["statusCode"] == 400 and r.json()["message"]
    r = client.post("/v2/generate", headers=v2_headers(key), json=_body("http://169.254.169.254/latest"))
    assert r.status_code == 400 and r.json()["errorCode"] == "generation_input_url_forbidden"  # SSRF refused


def test_analyze_cost_returns_an_array_and_matches_the_final_cost(client: TestClient, key: CreatedKey,
                                                                  media_url: str, worker: Worker) -> None:
    body = _body(media_url, options={"sync_mode": "silence"})
    est = client.post("/v2/analyze/cost", headers=v2_headers(key), json=body)
    assert est.status_code == 200 and isinstance(est.json(), list)
    frames, cost = est.json()[0]["estimatedFrameCount"], est.json()[0]["estimatedGenerationCost"]
    assert cost == pytest.approx(frames * 0.05 / 25, abs=1e-4)
    job = client.post("/v2/generate", headers=v2_headers(key), json=body).json()
    worker.drain()
    done = client.get(f"/v1/generations/{job['id']}", headers=v1_headers(key)).json()
    assert done["status"] == "completed" and done["cost"] == cost
    flat = client.post("/v2/generations/estimate", headers=v2_headers(key),
                       json={"model": "sync-3", "duration": 10, "fps": 25}).json()
    assert flat["estimatedFrameCount"] == 250 and flat["estimatedGenerationCost"] == pytest.approx(1.33)


def test_multipart_generate_with_json_string_fields(client: TestClient, key: CreatedKey, tiny_dir: Path,
                                                    media_url: str) -> None:
    with open(tiny_dir / "face.mp4", "rb") as v:
        r = client.post("/v2/generate", headers=v2_headers(key),
                        data={"model": "sync-3", "options": json.dumps({"sync_mode": "bounce"}),
                              "input": json.dumps({"type": "audio", "url": f"{media_url}/hello.wav"})},
                        files={"video": ("face.mp4", v, "video/mp4")})
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["options"] == {"sync_mode": "bounce"} and g["model"] == "sync-3"
    assert [i["type"] for i in g["input"]] == ["audio", "video"]


def test_text_input_is_spoken_offline(client: TestClient, key: CreatedKey, media_url: str, worker: Worker) -> None:
    body = {"model": "lipsync-2", "input": [
        {"type": "video", "url": f"{media_url}/face.mp4"},
        {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "en-us", "script": "Good morning."}}]}
    g = client.post("/v2/generate", headers=v2_headers(key), json=body).json()
    assert g["input"][1]["provider"]["script"] == "Good morning."
    worker.drain()
    assert client.get(f"/v2/generate/{g['id']}", headers=v2_headers(key)).json()["status"] == "COMPLETED"
    tts = client.get("/v2/assets?types=AUDIO", headers=v2_headers(key)).json()["items"]
    assert [a["inputType"] for a in tts] == ["TTS"]


def test_assets_and_models(client: TestClient, key: CreatedKey, tiny_dir: Path) -> None:
    with open(tiny_dir / "hello.wav", "rb") as f:
        created = client.post("/v2/assets", headers=v2_headers(key), files={"file": ("hello.wav", f)})
    assert created.status_code == 201
    a = created.json()
    assert a["type"] == "AUDIO" and a["inputType"] == "UPLOAD" and a["durationSeconds"] > 0
    page = client.get("/v2/assets?limit=10&sortBy=dateDesc&types=AUDIO&types=VIDEO", headers=v2_headers(key)).json()
    assert page["totalCount"] == 1 and page["items"][0]["id"] == a["id"] and page["nextCursor"] is None
    assert client.get(f"/v2/assets/{a['id']}", headers=v2_headers(key)).json()["name"] == "hello.wav"
    assert client.get(a["url"]).content == (tiny_dir / "hello.wav").read_bytes()
    models = client.get("/v2/models", headers=v2_headers(key)).json()
    assert {m["name"] for m in models} == {"lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3", "react-1"}
    assert all(m["type"] in ("lipsync", "react") and m["deprecatedAt"] is None for m in models)
    v1 = client.get("/v1/models", headers=v1_headers(key)).json()
    assert {m["id"]: m["price_per_second"] for m in v1}["lipsync-2-pro"] == 0.083


def test_batch_creates_one_generation_per_line_and_rejects_bad_lines(
        client: TestClient, key: CreatedKey, media_url: str, worker: Worker, platform: Platform) -> None:
    lines = [{"request_id": "r1", "endpoint": "/v2/generate", "payload": _body(media_url)},
             {"request_id": "r2", "endpoint": "/v2/generate",
              "payload": {**_body(media_url), "input": [{"type": "video", "url": f"{media_url}/notes.txt"},
                                                        {"type": "audio", "url": f"{media_url}/hello.wav"}]}}]
    jsonl = "\n".join(json.dumps(x) for x in lines).encode()
    dry = client.post("/v2/batch", headers=v2_headers(key), files={"input": ("b.jsonl", jsonl)},
                      data={"dry_run": "true"})
    assert dry.json()["status"] == "VALIDATED"
    assert client.get("/v2/generations", headers=v2_headers(key)).json() == []
    r = client.post("/v2/batch", headers=v2_headers(key), files={"input": ("b.jsonl", jsonl)})
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["metrics"] == {"total_generations": 2, "success_count": 0, "failed_count": 1, "pending_count": 1}
    worker.drain()
    batch = client.get(f"/v2/batch/{batch['id']}", headers=v2_headers(key)).json()
    assert batch["status"] == "COMPLETED" and batch["metrics"]["success_count"] == 1
    results = [json.loads(x) for x in client.get(batch["outputUrl"]).text.splitlines()]
    by_id = {x["request_id"]: x for x in results}
    assert by_id["r1"]["status"] == "COMPLETED" and by_id["r1"]["outputUrl"]
    assert by_id["r2"]["status"] == "REJECTED" and by_id["r2"]["error"]
    listed = client.get("/v2/batch?status=COMPLETED&created_after=2020-01-01T00%3A00%3A00Z",
                        headers=v2_headers(key)).json()
    assert [b["id"] for b in listed] == [batch["id"]]
    bad = client.post("/v2/batch", headers=v2_headers(key), files={"input": ("b.jsonl", b"{not json}\n")})
    assert bad.status_code == 400 and "line 1" in str(bad.json()["message"])


def test_long_poll_count_and_download_url(client: TestClient, key: CreatedKey, media_url: str,
                                          worker: Worker) -> None:
    g = client.post("/v2/generate", headers=v2_headers(key), json=_body(media_url)).json()
    r = client.get(f"/v2/generate/{g['id']}?wait=true&timeout=1", headers=v2_headers(key))
    assert r.status_code == 200 and r.json()["status"] == "PENDING"  # nothing runs it: the wait times out
    assert r.headers["x-sync-wait-mode"] == "long_poll" and r.headers["retry-after"] == "2"
    assert client.get(f"/v2/generations/{g['id']}/download", headers=v2_headers(key)).status_code == 404
    worker.drain()
    done = client.get(f"/v2/generate/{g['id']}?wait=true&timeout=5", headers=v2_headers(key)).json()
    assert done["status"] == "COMPLETED"
    text = client.get(f"/v2/generations/{g['id']}/download", headers=v2_headers(key))
    assert text.headers["content-type"].startswith("text/plain") and text.text == done["outputUrl"]
    assert client.get("/v2/generations/count?status=COMPLETED", headers=v2_headers(key)).json() == {"count": 1}
    assert client.get("/v2/generations/count?status=PENDING", headers=v2_headers(key)).json() == {"count": 0}


def test_asset_upload_flow(client: TestClient, key: CreatedKey, tiny_dir: Path, other_key: CreatedKey) -> None:
    data = (tiny_dir / "hello.wav").read_bytes()
    up = client.post("/v2/assets/upload", headers=v2_headers(key),
                     json={"fileName": "hello.wav", "contentType": "audio/wav", "size": len(data)})
    assert up.status_code == 201
    grant = up.json()
    put = client.put(grant["uploadUrl"], content=data, headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 200, put.text
    assert put.json()["id"] == grant["assetId"] and put.json()["type"] == "AUDIO"
    again = client.put(grant["uploadUrl"], content=data, headers={"Content-Type": "application/octet-stream"})
    assert again.status_code == 409
    registered = client.post("/v2/assets", headers=v2_headers(key), json={"url": grant["url"]})
    assert registered.status_code == 201 and registered.json()["id"] == grant["assetId"]
    assert client.post("/v2/assets", headers=v2_headers(other_key), json={"url": grant["url"]}).status_code == 404
    tampered = grant["uploadUrl"].replace("size=", "size=1")
    assert client.put(tampered, content=data, headers={"Content-Type": "application/octet-stream"}).status_code == 404


def test_served_under_a_path_prefix(tmp_path: Path, media_url: str, worker: Worker) -> None:
    """The SDK's base_url may carry a prefix (``http://host/api`` → ``/api/v2/...``); links keep it."""
    from openlipsync.api import create_app
    from openlipsync.jobs.tenants import create_key
    from tests.api.support import fast_runner, make_settings

    p = Platform.build(make_settings(tmp_path / "data", path_prefix="/api"), runner=fast_runner)
    k = create_key(p.db, "prefixed")
    with TestClient(create_app(p.settings, platform=p, studio=False)) as c:
        g = c.post("/api/v2/generate", headers=v2_headers(k), json=_body(media_url))
        assert g.status_code == 201, g.text
        Worker(p).drain()
        done = c.get(f"/api/v2/generate/{g.json()['id']}", headers=v2_headers(k)).json()
        assert done["status"] == "COMPLETED" and "/api/v1/generations/" in done["outputUrl"]
        assert c.get(done["outputUrl"]).status_code == 200
        assert c.get("/api/v2/generate/nope", headers=v2_headers(k)).json()["statusCode"] == 404
        assert c.get("/api/health").status_code == 200 and c.get("/health").status_code == 200
    p.close()


def test_segments_place_audio_clips_on_the_video_timeline(platform: Platform, client: TestClient, key: CreatedKey,
                                                         media_url: str, worker: Worker) -> None:
    seen: list = []

    def capture(video: Path, audio: Path | None, output: Path, options: object, **kw: object) -> object:
        seen.append((audio, options, [s.audio.is_file() for s in options.segments]))  # type: ignore[attr-defined]
        from tests.api.support import fast_runner

        return fast_runner(video, audio, output, options, **kw)  # type: ignore[arg-type]

    platform.runner = capture
    body = {"model": "lipsync-2", "input": [
        {"type": "video", "url": f"{media_url}/face.mp4"},
        {"type": "audio", "url": f"{media_url}/tone.wav", "refId": "a1"},
        {"type": "text", "provider": {"name": "x", "voiceId": "en-us", "script": "Hi."}, "refId": "t1"}],
        "segments": [{"startTime": 0.0, "endTime": 0.4, "audioInput": {"refId": "a1", "startTime": 0, "endTime": 0.4}},
                     {"startTime": 0.5, "endTime": 0.9, "audioInput": {"refId": "t1"}}]}
    est = client.post("/v2/analyze/cost", headers=v2_headers(key), json=body).json()[0]
    assert est["estimatedFrameCount"] == 25  # with segments the 1 s video is the timeline
    g = client.post("/v2/generate", headers=v2_headers(key), json=body)
    assert g.status_code == 201, g.text
    assert g.json()["segments"] == body["segments"]
    worker.drain()
    audio, options, present = seen[0]
    assert audio is None
    assert [(s.start, s.end, s.audio_start, s.audio_end) for s in options.segments] == [(0.0, 0.4, 0.0, 0.4),
                                                                                         (0.5, 0.9, None, None)]
    assert present == [True, True]  # the worker handed the engine local files for every clip
    bad = {**body, "segments": [{"startTime": 0, "endTime": 1, "audioInput": {"refId": "nope"}}]}
    r = client.post("/v2/generate", headers=v2_headers(key), json=bad)
    assert r.status_code == 400 and "refId" in str(r.json()["message"])
