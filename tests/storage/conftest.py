"""Storage backends under contract test. Add a backend by adding a factory to ``BACKENDS``; a backend
named by ``STORAGE_URL`` in the environment (e.g. S3 on moto) is tested too."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openlipsync.storage import LocalStorage, MemoryStorage, Storage, open_storage

BACKENDS: dict[str, Callable[[Path], Storage]] = {
    "local": lambda tmp: LocalStorage(tmp / "files"),
    "memory": lambda tmp: MemoryStorage(),
    "local-url": lambda tmp: open_storage(f"file://{tmp / 'by-url'}"),
}
if os.environ.get("STORAGE_URL"):
    BACKENDS["env"] = lambda tmp: open_storage(os.environ["STORAGE_URL"])


@pytest.fixture(params=sorted(BACKENDS))
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    yield BACKENDS[request.param](tmp_path)


@pytest.fixture
def prefix() -> str:
    """A fresh tenant id, so runs against a shared bucket never collide."""
    return f"t{uuid.uuid4().hex[:12]}"
