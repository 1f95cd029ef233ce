"""Fixtures for the API-level security tests: a platform with the ffmpeg stand-in engine, keys, tiny media."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from openlipsync.api import create_app
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey, create_key
from tests import factories
from tests.api.support import fast_runner, make_settings


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sec-tiny")
    factories.make_face_video(d / "face.mp4", seconds=0.6, size=96)
    factories.make_tone(d / "tone.wav", seconds=0.5)
    (d / "notes.txt").write_text("this is not media, just text\n" * 10)
    return d


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Platform]]]:
    """``make_client(**settings_overrides)`` → (TestClient, Platform) with the stand-in engine."""
    opened: list[tuple[TestClient, Platform]] = []

    def make(**overrides: Any) -> tuple[TestClient, Platform]:
        overrides.setdefault("rate_limit_requests_per_second", 0)  # tests about other limits
        platform = Platform.build(make_settings(tmp_path / f"data{len(opened)}", **overrides), runner=fast_runner)
        client = TestClient(create_app(platform.settings, platform=platform, studio=False))
        client.__enter__()
        opened.append((client, platform))
        return client, platform

    yield make
    for client, platform in opened:
        client.__exit__(None, None, None)
        platform.close()


def new_key(platform: Platform) -> CreatedKey:
    return create_key(platform.db, f"tenant-{uuid.uuid4().hex[:10]}", "sec")


def v1(k: CreatedKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {k.key}"}


def v2(k: CreatedKey) -> dict[str, str]:
    return {"x-api-key": k.key}
