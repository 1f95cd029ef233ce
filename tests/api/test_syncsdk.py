"""The official Sync Python SDK (``syncsdk`` 0.3.0, unchanged) against a live server on loopback."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey, create_key
from tests import factories
from tests.api.live import LiveServer, live_server
from tests.api.support import fast_runner, make_settings

sync = pytest.importorskip("sync", reason="syncsdk is a test dependency")
from sync.common.errors import BadRequestError, NotFoundError, UnauthorizedError  # noqa: E402

TERMINAL = ("COMPLETED", "FAILED", "REJECTED", "CANCELED")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Live server with the ffmpeg stand-in engine (the SDK contract, not lip-sync quality, is tested here)."""
    platform = Platform.build(make_settings(tmp_path_factory.mktemp("sdk") / "data"), runner=fast_runner)
    with live_server(platform) as live:
        yield live
    platform.close()


@pytest.fixture
def sdk_key(server: LiveServer) -> CreatedKey:
    return create_key(server.platform.db, f"sdk-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def client(server: LiveServer, sdk_key: CreatedKey) -> object:
    return sync.Sync(base_url=server.base_url, api_key=sdk_key.key)


def poll(client: object, gen_id: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    generation = client.generations.get(gen_id)  # type: ignore[attr-defined]
    while generation.status not in TERMINAL:
        assert time.monotonic() < deadline, f"generation {gen_id} still {generation.status}"
        time.sleep(0.3)
        generation = client.generations.get(gen_id)  # type: ignore[attr-defined]
    return generation


def test_quickstart_with_the_real_engine(tmp_path: Path, tiny_dir: Path, media_url: str) -> None:
    """The docs quickstart, unchanged: create with URLs → poll → download ``output_url``."""
    from sync.common import Audio, GenerationOptions, Video

    platform = Platform.build(make_settings(tmp_path / "data"))  # real openlipsync.lipsync
    key = create_key(platform.db, "quickstart")
    with live_server(platform) as live:
        client = sync.Sync(base_url=live.base_url, api_key=key.key)
        response = client.generations.create(
            input=[Video(url=f"{media_url}/face.mp4"), Audio(url=f"{media_url}/hello.wav")],
            model="lipsync-2", options=GenerationOptions(sync_mode="cut_off"), output_file_name="quickstart")
        assert response.status == "PENDING"
        generation = poll(client, response.id, timeout=300)
        assert generation.status == "COMPLETED", generation.error
        out = tmp_path / "quickstart.mp4"
        out.write_bytes(httpx.get(generation.output_url).content)  # no API key needed
        facts = factories.ffprobe_streams(out)
        assert facts["duration"] == pytest.approx(generation.output_duration, abs=0.05)
        assert facts["duration"] == pytest.approx(1.0, abs=0.05)  # cut_off: the 1 s video is the shorter
        assert facts["width"] == 160 and facts["frames"] == 25
    platform.close()


def test_create_with_files(client: object, tiny_dir: Path) -> None:
    with open(tiny_dir / "face.mp4", "rb") as video, open(tiny_dir / "hello.wav", "rb") as audio:
        response = client.generations.create_with_files(  # type: ignore[attr-defined]
            model="lipsync-2", video=video, audio=audio)
    assert response.status == "PENDING" and len(response.input) == 2
    generation = poll(client, response.id)
    assert generation.status == "COMPLETED" and generation.output_url.startswith("http://127.0.0.1")


def test_list_with_filters_and_ids(client: object, media_url: str) -> None:
    from sync.common import Audio, Video

    inputs = [Video(url=f"{media_url}/face.mp4"), Audio(url=f"{media_url}/hello.wav")]
    ids = [client.generations.create(input=inputs, model="lipsync-2").id for _ in range(2)]  # type: ignore[attr-defined]
    for gen_id in ids:
        poll(client, gen_id)
    done = client.generations.list(status=["COMPLETED", "FAILED"])  # type: ignore[attr-defined]
    assert {g.id for g in done} == set(ids)
    assert client.generations.list(status=["PENDING"]) == []  # type: ignore[attr-defined]
    one = client.generations.list(ids=[ids[0]])  # type: ignore[attr-defined]
    assert [g.id for g in one] == [ids[0]]


def test_estimate_cost(client: object, media_url: str) -> None:
    from sync.common import Audio, GenerationOptions, Video

    inputs = [Video(url=f"{media_url}/face.mp4"), Audio(url=f"{media_url}/tone.wav")]
    costs = client.generations.estimate_cost(  # type: ignore[attr-defined]
        input=inputs, model="lipsync-2-pro", options=GenerationOptions(sync_mode="loop"))
    assert len(costs) == 1
    assert costs[0].estimated_frame_count == 15  # loop follows the 0.6 s audio: 15 frames at 25 fps
    assert costs[0].estimated_generation_cost == pytest.approx(15 * 0.083 / 25, abs=1e-4)


def test_models_and_assets(client: object, tiny_dir: Path) -> None:
    names = {m.name for m in client.models.list()}  # type: ignore[attr-defined]
    assert {"lipsync-2", "lipsync-2-pro", "sync-3", "react-1", "lipsync-1.9.0-beta"} <= names
    with open(tiny_dir / "face.mp4", "rb") as video, open(tiny_dir / "hello.wav", "rb") as audio:
        client.generations.create_with_files(model="lipsync-2", video=video, audio=audio)  # type: ignore[attr-defined]
    page = client.assets.list(limit=10, types=["VIDEO", "AUDIO"])  # type: ignore[attr-defined]
    assert page.total_count == 2 and {a.type for a in page.items} == {"VIDEO", "AUDIO"}
    one = client.assets.get(page.items[0].id)  # type: ignore[attr-defined]
    assert one.id == page.items[0].id and one.size > 0


def test_batch_create(client: object, media_url: str) -> None:
    line = {"endpoint": "/v2/generate", "payload": {
        "model": "lipsync-2", "input": [{"type": "video", "url": f"{media_url}/face.mp4"},
                                        {"type": "audio", "url": f"{media_url}/tone.wav"}]}}
    jsonl = "\n".join(json.dumps({**line, "request_id": f"r{i}"}) for i in range(2)).encode()
    batch = client.batch.create(input=("batch.jsonl", io.BytesIO(jsonl)))  # type: ignore[attr-defined]
    assert batch.metrics.total_generations == 2
    deadline = time.monotonic() + 120
    while (b := client.batch.get(batch.id)).status != "COMPLETED":  # type: ignore[attr-defined]
        assert time.monotonic() < deadline and b.status != "FAILED"
        time.sleep(0.3)
    assert b.metrics.success_count == 2
    assert [x.id for x in client.batch.list(status="COMPLETED")] == [batch.id]  # type: ignore[attr-defined]


def test_error_mapping(server: LiveServer, client: object) -> None:
    from sync.common import Audio, Video

    with pytest.raises(UnauthorizedError) as unauthorized:
        sync.Sync(base_url=server.base_url, api_key="ols_wrong").generations.list()
    assert unauthorized.value.status_code == 401
    with pytest.raises(NotFoundError) as missing:
        client.generations.get("00000000-0000-0000-0000-000000000000")  # type: ignore[attr-defined]
    assert missing.value.status_code == 404 and missing.value.body.status_code == 404
    with pytest.raises(BadRequestError) as bad:
        client.generations.create(input=[Video(url="http://127.0.0.1:1/x.mp4"),  # type: ignore[attr-defined]
                                         Audio(url="http://127.0.0.1:1/a.wav")], model="lipsync-2")
    assert bad.value.status_code == 400 and bad.value.body.message
