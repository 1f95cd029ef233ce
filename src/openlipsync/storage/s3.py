"""S3-compatible object storage with boto3 (``STORAGE_URL=s3://bucket/prefix``) for multi-machine setups.

Every key of the ``Storage`` protocol (``tenants/<tenant>/...``) is stored as ``<prefix>/<key>`` in the
bucket, so tenants stay under their own prefixes and several deployments can share a bucket. Outputs are
handed to clients as presigned GET URLs: the bytes flow from the object store, not through the API.

Configuration, most specific first:

- URL query: ``s3://bucket/prefix?endpoint_url=http://minio:9000&region=eu-west-1&addressing_style=path
  &public_endpoint_url=https://files.example.com`` (``public_endpoint_url`` signs download links for a
  host clients can reach when the workers talk to the store over an internal address);
- credentials in the URL (``s3://KEY:SECRET@bucket/prefix``), percent-encoded — convenient for compose
  files, but prefer the environment;
- boto3's own chain: ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles, instance roles.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import Config
from botocore.exceptions import ClientError

from openlipsync.errors import ConfigError
from openlipsync.storage.base import CHUNK, ObjectNotFound, check_key

log = logging.getLogger("openlipsync.storage.s3")

_MISSING = {"404", "NoSuchKey", "NotFound"}
_DELETE_BATCH = 1000  # the S3 DeleteObjects limit
# Multipart above 64 MiB keeps uploads of long outputs resumable part by part and memory flat.
_TRANSFER = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024)


@dataclass(frozen=True)
class S3Location:
    """What an ``s3://`` URL says: bucket, key prefix and client options."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    public_endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ConfigError(f"STORAGE_URL must look like s3://bucket/prefix, got {url!r}")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"endpoint_url", "public_endpoint_url", "region", "addressing_style"}
        if unknown:
            raise ConfigError(f"unknown STORAGE_URL option(s): {sorted(unknown)}")
        # urlsplit lower-cases hostname; bucket names are lower-case anyway, keep the raw text regardless.
        bucket = parts.netloc.rpartition("@")[2]
        return cls(
            bucket=bucket,
            prefix=unquote(parts.path).strip("/"),
            endpoint_url=query.get("endpoint_url"),
            public_endpoint_url=query.get("public_endpoint_url"),
            region=query.get("region"),
            addressing_style=query.get("addressing_style"),
            access_key_id=unquote(parts.username) if parts.username else None,
            secret_access_key=unquote(parts.password) if parts.password else None,
        )

    def client(self, *, public: bool = False) -> Any:
        """A boto3 S3 client; ``public`` uses the endpoint that clients downloading links can reach."""
        endpoint = (self.public_endpoint_url if public else None) or self.endpoint_url
        config = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"},
                        s3={"addressing_style": self.addressing_style} if self.addressing_style else None)
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=self.region, config=config,
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key)


class S3Storage:
    """``Storage`` on an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto...)."""

    def __init__(self, location: S3Location, client: Any | None = None) -> None:
        self.location = location
        self.bucket = location.bucket
        self._client = client or location.client()
        self._signer = location.client(public=True) if location.public_endpoint_url else self._client

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        """Build from ``STORAGE_URL`` (see the module docstring for the options)."""
        return cls(S3Location.parse(url))

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else None
        self._client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra, Config=_TRANSFER)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)

    def iter_bytes(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes ``start..end`` (inclusive) with one ranged GET."""
        rng = f"bytes={start}-{'' if end is None else end}"
        try:
            obj = self._client.get_object(Bucket=self.bucket, Key=self._key(key), Range=rng)
        except ClientError as exc:
            # An empty object answers any Range with 416; it simply has no bytes to give.
            if _code(exc) == "InvalidRange" and self.size(key) == 0:
                return
            raise _translate(exc, key) from exc
        body = obj["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def local_path(self, key: str) -> Path | None:
        return None

    def download(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._client.download_file(self.bucket, self._key(key), str(dest), Config=_TRANSFER)
        except ClientError as exc:
            raise _translate(exc, key) from exc
        return dest

    def size(self, key: str) -> int:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            raise _translate(exc, key) from exc
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list_keys(self, prefix: str) -> list[str]:
        """Keys (as the protocol names them) of every object under ``prefix/``, sorted."""
        full = self._key(prefix.rstrip("/")) + "/"
        strip = len(self.location.prefix) + 1 if self.location.prefix else 0
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
        return sorted(obj["Key"][strip:] for page in pages for obj in page.get("Contents", []))

    def delete_prefix(self, prefix: str) -> int:
        """Delete the object ``prefix`` and everything under ``prefix/`` (path semantics, like the other
        backends: ``outputs/job1`` never touches ``outputs/job10``), in batches of 1000."""
        full = self._key(prefix.rstrip("/"))
        removed = 0
        batch: list[dict[str, str]] = []
        for listing in (full + "/", full):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=listing)
            for page in pages:
                for obj in page.get("Contents", []):
                    if listing == full and obj["Key"] != full:
                        continue  # only the exact key on the second pass
                    batch.append({"Key": obj["Key"]})
                    if len(batch) == _DELETE_BATCH:
                        removed += self._delete_batch(batch)
                        batch = []
        if batch:
            removed += self._delete_batch(batch)
        return removed

    def _delete_batch(self, batch: list[dict[str, str]]) -> int:
        resp = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        errors = resp.get("Errors", [])
        if errors:
            log.warning("S3 refused to delete %d object(s), first: %s", len(errors), errors[0])
        return len(batch) - len(errors)

    def presigned_url(self, key: str, expires_in: int, filename: str | None = None) -> str | None:
        """A time-limited GET link signed with the store's credentials (SigV4, at most 7 days)."""
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            safe = filename.replace('"', "").replace("\\", "")
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        url: str = self._signer.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=max(1, min(int(expires_in), 7 * 24 * 3600)))
        return url


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: ClientError, key: str) -> Exception:
    if _code(exc) in _MISSING:
        return ObjectNotFound(f"no stored object {key!r}")
    return exc
