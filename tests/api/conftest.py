"""Fixtures for the API tests: tiny media, a platform on the configured backends, a client and keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openlipsync.api import create_app
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey, create_key
from openlipsync.jobs.worker import Worker
from tests import factories
from tests.api.support import fast_runner, file_server, make_settings


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny inputs the engine runs on in well under a second each (served over HTTP by ``media_url``)."""
    d = tmp_path_factory.mktemp("tiny")
    factories.make_face_video(d / "face.mp4", seconds=1.0, size=160)
    factories.make_speech(d / "hello.wav", text="Hello, my friend.")
    factories.make_tone(d / "tone.wav", seconds=0.6)
    (d / "notes.txt").write_text("this is not media\n")
    from skimage.io import imsave

    imsave(d / "face.png", factories.astronaut_frame(128), check_contrast=False)
    return d


@pytest.fixture(scope="session")
def media_url(tiny_dir: Path) -> Iterator[str]:
    with file_server(tiny_dir) as url:
        yield url


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """The platform with the ffmpeg stand-in engine (tests about jobs, not lip-sync quality)."""
    p = Platform.build(make_settings(tmp_path / "data"), runner=fast_runner)
    yield p
    p.close()


@pytest.fixture
def engine_platform(tmp_path: Path) -> Iterator[Platform]:
    """The platform with the real engine (``openlipsync.lipsync``); used sparingly, on tiny inputs."""
    p = Platform.build(make_settings(tmp_path / "data"))
    yield p
    p.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform.settings, platform=platform, studio=False)) as c:
        yield c


@pytest.fixture
def key(platform: Platform) -> CreatedKey:
    return create_key(platform.db, f"tenant-{uuid.uuid4().hex[:10]}", "test")


@pytest.fixture
def other_key(platform: Platform) -> CreatedKey:
    return create_key(platform.db, f"tenant-{uuid.uuid4().hex[:10]}", "other")


@pytest.fixture
def worker(platform: Platform) -> Worker:
    return Worker(platform)


def v1_headers(k: CreatedKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {k.key}"}


def v2_headers(k: CreatedKey) -> dict[str, str]:
    return {"x-api-key": k.key}
