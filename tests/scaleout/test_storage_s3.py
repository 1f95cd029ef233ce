"""S3Storage against a real S3 wire protocol (a moto server on loopback)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openlipsync.errors import ConfigError
from openlipsync.storage import ObjectNotFound, Storage, open_storage, tenant_key
from openlipsync.storage.s3 import S3Location, S3Storage


@pytest.fixture()
def store(s3_bucket: str, s3_endpoint: str) -> S3Storage:
    storage = open_storage(f"s3://{s3_bucket}/deploy-a?endpoint_url={s3_endpoint}")
    assert isinstance(storage, S3Storage)
    return storage


def test_url_options_and_credentials_are_parsed() -> None:
    loc = S3Location.parse("s3://AKID:se%2Fcret@my-bucket/a/b/?endpoint_url=http://m:9000&region=eu-west-1"
                           "&addressing_style=path&public_endpoint_url=https://files.example.com")
    assert (loc.bucket, loc.prefix, loc.endpoint_url, loc.region) == ("my-bucket", "a/b", "http://m:9000",
                                                                     "eu-west-1")
    assert (loc.access_key_id, loc.secret_access_key) == ("AKID", "se/cret")
    assert loc.addressing_style == "path" and loc.public_endpoint_url == "https://files.example.com"
    with pytest.raises(ConfigError):
        S3Location.parse("s3://bucket/p?endpoint=typo")
    with pytest.raises(ConfigError):
        S3Location.parse("s3:///no-bucket")


def test_it_satisfies_the_storage_protocol(store: S3Storage) -> None:
    assert isinstance(store, Storage)
    assert store.local_path("tenants/t/x") is None


def test_put_file_then_read_whole_ranges_size_and_download(store: S3Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000  # 1 MB, several chunks
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    key = tenant_key("tenant1", "outputs", "job1", "out.mp4")
    store.put_file(key, src, "video/mp4")
    assert store.exists(key) and store.size(key) == len(data)
    assert b"".join(store.iter_bytes(key)) == data
    assert b"".join(store.iter_bytes(key, 1000, 1999)) == data[1000:2000]
    assert b"".join(store.iter_bytes(key, len(data) - 10)) == data[-10:]
    assert store.download(key, tmp_path / "d" / "copy.bin").read_bytes() == data


def test_keys_are_stored_under_the_url_prefix(store: S3Storage) -> None:
    key = tenant_key("t1", "assets", "a.wav")
    store.put_bytes(key, b"abc")
    client = store._client
    listed = client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["deploy-a/tenants/t1/assets/a.wav"]


def test_missing_objects_raise_not_found_and_delete_is_quiet(store: S3Storage, tmp_path: Path) -> None:
    key = tenant_key("t1", "outputs", "nope.mp4")
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.size(key)
    with pytest.raises(ObjectNotFound):
        b"".join(store.iter_bytes(key))
    with pytest.raises(ObjectNotFound):
        store.download(key, tmp_path / "x")
    store.delete(key)  # no error


def test_empty_objects_read_as_empty(store: S3Storage) -> None:
    key = tenant_key("t1", "empty")
    store.put_bytes(key, b"")
    assert store.size(key) == 0 and b"".join(store.iter_bytes(key)) == b""


def test_delete_prefix_removes_one_tenant_only(store: S3Storage) -> None:
    for tenant in ("ta", "tab"):
        for i in range(3):
            store.put_bytes(tenant_key(tenant, "outputs", f"f{i}"), b"x")
    assert store.delete_prefix("tenants/ta/") == 3
    assert not store.exists(tenant_key("ta", "outputs", "f0"))
    assert all(store.exists(tenant_key("tab", "outputs", f"f{i}")) for i in range(3))


def test_delete_prefix_has_path_semantics(store: S3Storage) -> None:
    for name in ("job1/out.mp4", "job1/thumb.jpg", "job10/out.mp4"):
        store.put_bytes(tenant_key("t", "outputs", *name.split("/")), b"x")
    store.put_bytes(tenant_key("t", "outputs", "job1"), b"exact")
    assert store.list_keys("tenants/t/outputs/job1") == ["tenants/t/outputs/job1/out.mp4",
                                                         "tenants/t/outputs/job1/thumb.jpg"]
    assert store.delete_prefix(tenant_key("t", "outputs", "job1")) == 3
    assert store.exists(tenant_key("t", "outputs", "job10", "out.mp4"))
    assert store.delete_prefix(tenant_key("t", "nothing")) == 0


def test_unsafe_keys_are_refused(store: S3Storage) -> None:
    for bad in ("../other/x", "/abs", "tenants//x", ""):
        with pytest.raises(ValueError):
            store.put_bytes(bad, b"x")


def test_presigned_url_downloads_the_object_with_ranges(store: S3Storage) -> None:
    key = tenant_key("t1", "outputs", "job9", "result.mp4")
    store.put_bytes(key, b"0123456789", "video/mp4")
    url = store.presigned_url(key, 300, filename="result.mp4")
    assert url is not None and "X-Amz-Signature=" in url and "t1" in url
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == b"0123456789"
    assert "result.mp4" in whole.headers.get("content-disposition", "")
    part = httpx.get(url, headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"


def test_public_endpoint_signs_links_for_the_public_host(s3_bucket: str, s3_endpoint: str) -> None:
    store = S3Storage.from_url(f"s3://{s3_bucket}/p?endpoint_url={s3_endpoint}"
                               "&public_endpoint_url=https://files.example.com&addressing_style=path")
    url = store.presigned_url(tenant_key("t", "o.mp4"), 60)
    assert url is not None and url.startswith(f"https://files.example.com/{s3_bucket}/p/tenants/t/o.mp4?")
