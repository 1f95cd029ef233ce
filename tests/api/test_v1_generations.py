"""Native /v1 generations: create (JSON, multipart), read, list, cancel, delete, estimate, video."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openlipsync.api import create_app
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey, create_key
from openlipsync.jobs.worker import Worker
from tests import factories
from tests.api.conftest import v1_headers
from tests.api.support import assert_seed_valid


def upload(client: TestClient, key: CreatedKey, tiny_dir: Path, **fields: str) -> dict:
    with open(tiny_dir / "face.mp4", "rb") as v, open(tiny_dir / "hello.wav", "rb") as a:
        r = client.post("/v1/generations", headers=v1_headers(key), data=fields,
                        files={"video": ("face.mp4", v, "video/mp4"), "audio": ("hello.wav", a, "audio/wav")})
    assert r.status_code == 201, r.text
    return r.json()


def test_real_engine_job_completes_with_cost_equal_to_estimate(engine_platform: Platform, tiny_dir: Path) -> None:
    """Multipart create → the worker runs ``openlipsync.lipsync`` → the output matches the estimate."""
    key = create_key(engine_platform.db, "engine-tenant")
    worker = Worker(engine_platform)
    with TestClient(create_app(engine_platform.settings, platform=engine_platform, studio=False)) as client:
        _check_engine_job(client, key, tiny_dir, worker)


def _check_engine_job(client: TestClient, key: CreatedKey, tiny_dir: Path, worker: Worker) -> None:
    with open(tiny_dir / "face.mp4", "rb") as v, open(tiny_dir / "hello.wav", "rb") as a:
        est = client.post("/v1/generations/estimate", headers=v1_headers(key), data={"model": "lipsync-2"},
                          files={"video": ("face.mp4", v), "audio": ("hello.wav", a)})
    assert est.status_code == 200, est.text
    created = upload(client, key, tiny_dir, model="lipsync-2", output_file_name="my_clip")
    assert created["status"] == "pending" and created["cost"] is None and created["video_url"] is None
    assert_seed_valid(created)
    assert worker.drain() == 1
    done = client.get(f"/v1/generations/{created['id']}", headers=v1_headers(key)).json()
    assert_seed_valid(done)
    assert done["status"] == "completed", done
    assert done["progress"] == {"percent": 100.0, "stage": "done"}
    assert done["cost"] == est.json()["cost"] == created["estimated_cost"]
    assert done["duration_seconds"] == pytest.approx(est.json()["duration_seconds"])
    # loop mode follows the audio: billed frames are the audio length at 25 fps
    speech = factories.ffprobe_streams(tiny_dir / "hello.wav")["duration"]
    assert est.json()["billed_frames"] == pytest.approx(speech * 25, abs=1.01)
    assert done["sync_report"]["frames_total"] >= 1
    video = client.get(done["video_url"])  # signed link: no API key
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert "my_clip.mp4" in video.headers["content-disposition"]
    out = tiny_dir.parent / f"out-{created['id']}.mp4"
    out.write_bytes(video.content)
    facts = factories.ffprobe_streams(out)
    assert facts["duration"] == pytest.approx(done["duration_seconds"], abs=0.05)
    assert facts["width"] == 160 and facts["audio"] == 1


def test_video_supports_http_range(client: TestClient, key: CreatedKey, tiny_dir: Path, worker: Worker) -> None:
    job = upload(client, key, tiny_dir)
    worker.drain()
    url = client.get(f"/v1/generations/{job['id']}", headers=v1_headers(key)).json()["video_url"]
    full = client.get(url).content
    part = client.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{len(full)}"
    assert part.content == full[10:100]
    tail = client.get(url, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == full[-16:]
    assert client.get(url, headers={"Range": f"bytes={len(full)}-"}).status_code == 416
    head = client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(full)


def test_signed_link_is_checked_and_api_key_works_instead(client: TestClient, key: CreatedKey,
                                                        other_key: CreatedKey, tiny_dir: Path,
                                                        worker: Worker) -> None:
    job = upload(client, key, tiny_dir)
    worker.drain()
    url = client.get(f"/v1/generations/{job['id']}", headers=v1_headers(key)).json()["video_url"]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert client.get(tampered).status_code == 401
    bare = url.split("?")[0]
    assert client.get(bare).status_code == 401
    assert client.get(bare, headers=v1_headers(key)).status_code == 200
    assert client.get(bare, headers=v1_headers(other_key)).status_code == 404


def test_json_create_with_asset_ids_and_text_audio(client: TestClient, key: CreatedKey, tiny_dir: Path,
                                                   worker: Worker) -> None:
    with open(tiny_dir / "face.png", "rb") as f:
        asset = client.post("/v1/assets", headers=v1_headers(key), files={"file": ("face.png", f)}).json()
    assert asset["type"] == "image"
    body = {"model": "lipsync-1.9", "video": {"asset_id": asset["id"]},
            "audio": {"text": "Hola, buenos dias.", "voice": "es"}, "options": {"temperature": 0.3}}
    r = client.post("/v1/generations", headers=v1_headers(key), json=body)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["input"]["video"]["asset_id"] == asset["id"]
    assert job["input"]["audio"]["text"] == "Hola, buenos dias."
    worker.drain()
    done = client.get(f"/v1/generations/{job['id']}", headers=v1_headers(key)).json()
    assert done["status"] == "completed", done
    assert done["model"] == "lipsync-1.9"
    assert done["cost"] == job["estimated_cost"] > 0


def test_url_inputs_are_fetched_and_stored_as_assets(client: TestClient, key: CreatedKey, media_url: str) -> None:
    body = {"video": {"url": f"{media_url}/face.mp4"}, "audio": {"url": f"{media_url}/hello.wav"}}
    job = client.post("/v1/generations", headers=v1_headers(key), json=body).json()
    assert job["input"]["video"]["url"] == f"{media_url}/face.mp4"
    assets = client.get("/v1/assets", headers=v1_headers(key)).json()
    assert {a["input_type"] for a in assets["data"]} == {"url"}
    assert {a["source_url"] for a in assets["data"]} == {f"{media_url}/face.mp4", f"{media_url}/hello.wav"}


@pytest.mark.parametrize("body, code", [
    ({"video": {"url": "x"}, "audio": {"asset_id": "nope"}}, 400),
    ({"model": "lipsync-9", "video": {"asset_id": "a"}, "audio": {"asset_id": "b"}}, 400),
    ({"video": {"asset_id": "a"}, "audio": {"asset_id": "b"}, "options": {"temperature": 3}}, 400),
    ({"video": {"asset_id": "a"}, "audio": {"asset_id": "b"}, "options": {"sync_mode": "stretch"}}, 400),
    ({"video": {"asset_id": "a", "url": "http://x/y"}, "audio": {"asset_id": "b"}}, 400),
    ({"video": {"asset_id": "missing"}, "audio": {"text": "hi"}}, 404),
    ({"audio": {"text": "hi"}}, 400),
])
def test_invalid_create_requests_are_refused_with_a_clear_error(client: TestClient, key: CreatedKey,
                                                               body: dict, code: int) -> None:
    r = client.post("/v1/generations", headers=v1_headers(key), json=body)
    assert r.status_code == code, r.text
    err = r.json()["error"]
    assert err["status"] == code and err["code"] and err["message"]


def test_unreadable_and_wrong_role_uploads_are_refused(client: TestClient, key: CreatedKey, tiny_dir: Path) -> None:
    with open(tiny_dir / "notes.txt", "rb") as v, open(tiny_dir / "hello.wav", "rb") as a:
        r = client.post("/v1/generations", headers=v1_headers(key),
                        files={"video": ("notes.mp4", v), "audio": ("hello.wav", a)})
    assert r.status_code in (400, 415) and r.json()["error"]["code"].startswith("generation_")
    with open(tiny_dir / "hello.wav", "rb") as v, open(tiny_dir / "face.mp4", "rb") as a:
        r = client.post("/v1/generations", headers=v1_headers(key),
                        files={"video": ("hello.wav", v), "audio": ("face.mp4", a)})
    assert r.status_code == 400
    assert r.json()["error"]["code"] in ("generation_video_missing", "generation_audio_missing")


def test_list_filters_and_cursor_paging_newest_first(client: TestClient, key: CreatedKey, platform: Platform,
                                                     tiny_dir: Path) -> None:
    ids = [upload(client, key, tiny_dir, model=m)["id"] for m in ("lipsync-2", "lipsync-2", "sync-3")]
    client.post(f"/v1/generations/{ids[1]}/cancel", headers=v1_headers(key))
    page1 = client.get("/v1/generations?limit=2", headers=v1_headers(key)).json()
    assert [g["id"] for g in page1["data"]] == [ids[2], ids[1]]
    page2 = client.get(f"/v1/generations?limit=2&cursor={page1['next_cursor']}", headers=v1_headers(key)).json()
    assert [g["id"] for g in page2["data"]] == [ids[0]] and page2["next_cursor"] is None
    failed = client.get("/v1/generations?status=failed", headers=v1_headers(key)).json()["data"]
    assert [g["id"] for g in failed] == [ids[1]] and failed[0]["state"] == "canceled"
    pending = client.get("/v1/generations?status=pending&model=lipsync-2", headers=v1_headers(key)).json()["data"]
    assert [g["id"] for g in pending] == [ids[0]]
    assert client.get("/v1/generations?status=bogus", headers=v1_headers(key)).status_code == 400


def test_cancel_pending_then_cancel_again_conflicts(client: TestClient, key: CreatedKey, tiny_dir: Path,
                                                    worker: Worker) -> None:
    job = upload(client, key, tiny_dir)
    r = client.post(f"/v1/generations/{job['id']}/cancel", headers=v1_headers(key))
    assert r.status_code == 200
    cancelled = r.json()
    assert_seed_valid(cancelled)
    assert cancelled["status"] == "failed" and cancelled["state"] == "canceled"
    assert cancelled["error_code"] == "generation_canceled" and cancelled["cost"] == 0.0
    assert client.post(f"/v1/generations/{job['id']}/cancel", headers=v1_headers(key)).status_code == 409
    assert worker.drain() == 0  # a cancelled job never runs


def test_delete_removes_job_and_output_files(client: TestClient, key: CreatedKey, platform: Platform,
                                             tiny_dir: Path, worker: Worker) -> None:
    job = upload(client, key, tiny_dir)
    worker.drain()
    done = client.get(f"/v1/generations/{job['id']}", headers=v1_headers(key)).json()
    from openlipsync.db import Job

    with platform.db.session() as s:
        output_key = s.get(Job, job["id"]).output_key
    assert platform.storage.exists(output_key)
    assert client.delete(f"/v1/generations/{job['id']}", headers=v1_headers(key)).status_code == 204
    assert not platform.storage.exists(output_key)
    assert client.get(f"/v1/generations/{job['id']}", headers=v1_headers(key)).status_code == 404
    assert client.get(done["video_url"]).status_code == 404


def test_tenants_cannot_see_each_other(client: TestClient, key: CreatedKey, other_key: CreatedKey,
                                       tiny_dir: Path) -> None:
    job = upload(client, key, tiny_dir)
    assert client.get(f"/v1/generations/{job['id']}", headers=v1_headers(other_key)).status_code == 404
    assert client.post(f"/v1/generations/{job['id']}/cancel", headers=v1_headers(other_key)).status_code == 404
    assert client.delete(f"/v1/generations/{job['id']}", headers=v1_headers(other_key)).status_code == 404
    assert client.get("/v1/generations", headers=v1_headers(other_key)).json()["data"] == []
    asset_id = job["input"]["video"]["asset_id"]
    assert client.get(f"/v1/assets/{asset_id}", headers=v1_headers(other_key)).status_code == 404
    body = {"video": {"asset_id": asset_id}, "audio": {"text": "hi"}}
    assert client.post("/v1/generations", headers=v1_headers(other_key), json=body).status_code == 404
