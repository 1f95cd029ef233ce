"""The ``Storage`` contract every backend honours (local disk, memory, and S3 via ``STORAGE_URL``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlipsync.storage import ObjectNotFound, Storage, tenant_key
from openlipsync.storage.base import check_key

DATA = bytes(range(256)) * 1200  # 300 KiB: more than one read chunk


def test_put_file_then_read_back(storage: Storage, prefix: str, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(DATA)
    key = tenant_key(prefix, "outputs", "job1", "out.mp4")
    assert not storage.exists(key)
    storage.put_file(key, src, "video/mp4")
    assert storage.exists(key) and storage.size(key) == len(DATA)
    assert b"".join(storage.iter_bytes(key)) == DATA
    dest = storage.download(key, tmp_path / "copy.bin")
    assert dest.read_bytes() == DATA
    local = storage.local_path(key)
    assert local is None or local.read_bytes() == DATA


@pytest.mark.parametrize("start, end", [(0, 0), (10, 99), (1000, len(DATA) - 1), (262143, 262145)])
def test_ranges_are_inclusive_like_http(storage: Storage, prefix: str, start: int, end: int) -> None:
    key = tenant_key(prefix, "r.bin")
    storage.put_bytes(key, DATA)
    assert b"".join(storage.iter_bytes(key, start, end)) == DATA[start:end + 1]


def test_put_replaces_and_delete_is_idempotent(storage: Storage, prefix: str) -> None:
    key = tenant_key(prefix, "x")
    storage.put_bytes(key, b"old")
    storage.put_bytes(key, b"new!")
    assert b"".join(storage.iter_bytes(key)) == b"new!" and storage.size(key) == 4
    storage.delete(key)
    storage.delete(key)
    assert not storage.exists(key)


def test_missing_objects_raise_not_found(storage: Storage, prefix: str, tmp_path: Path) -> None:
    key = tenant_key(prefix, "missing")
    with pytest.raises(ObjectNotFound):
        storage.size(key)
    with pytest.raises(ObjectNotFound):
        b"".join(storage.iter_bytes(key))
    with pytest.raises(ObjectNotFound):
        storage.download(key, tmp_path / "nope")


def test_delete_prefix_has_path_semantics(storage: Storage, prefix: str) -> None:
    for name in ("a/1", "a/2", "a/sub/3", "ab/4", "b/5"):
        storage.put_bytes(f"tenants/{prefix}/{name}", b"x")
    assert storage.delete_prefix(f"tenants/{prefix}/a") == 3
    assert not storage.exists(f"tenants/{prefix}/a/sub/3")
    assert storage.exists(f"tenants/{prefix}/ab/4") and storage.exists(f"tenants/{prefix}/b/5")
    assert storage.delete_prefix(f"tenants/{prefix}/nothing") == 0
    assert storage.delete_prefix(f"tenants/{prefix}") == 2


def test_presigned_url_is_absent_or_absolute(storage: Storage, prefix: str) -> None:
    key = tenant_key(prefix, "p")
    storage.put_bytes(key, b"x")
    url = storage.presigned_url(key, 60, "p.mp4")
    assert url is None or url.startswith(("http://", "https://"))


@pytest.mark.parametrize("bad", ["../etc", "a/../b", "/abs", "a//b", "", "a\\b"])
def test_unsafe_keys_are_refused(storage: Storage, bad: str) -> None:
    with pytest.raises(ValueError):
        check_key(bad)
    with pytest.raises(ValueError):
        storage.put_bytes(bad, b"x")


def test_tenant_keys_only_take_single_safe_segments() -> None:
    assert tenant_key("t1", "outputs", "j", "o.mp4") == "tenants/t1/outputs/j/o.mp4"
    for bad in ("..", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            tenant_key("t1", bad)
