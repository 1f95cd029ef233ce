"""The ``Storage`` protocol: where inputs and outputs live (local disk, memory for tests, S3 for scale-out).

Keys are plain strings like ``tenants/<tenant>/outputs/<job>/<file>``; ``tenant_key`` builds them so every
object of a tenant sits under its own prefix. Backends never interpret keys beyond that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from openlipsync.errors import NotFoundError

CHUNK = 256 * 1024
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class ObjectNotFound(NotFoundError):
    code = "storage_object_not_found"


@runtime_checkable
class Storage(Protocol):
    """Object storage used by the API and the workers."""

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Store the file at ``path`` under ``key`` (replacing any object there)."""

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` under ``key``."""

    def iter_bytes(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``start..end`` (inclusive, like HTTP Range) of ``key`` in chunks."""

    def local_path(self, key: str) -> Path | None:
        """A local file holding the object when the backend has one (no copy); else None."""

    def download(self, key: str, dest: Path) -> Path:
        """Copy the object to ``dest`` and return ``dest``."""

    def size(self, key: str) -> int:
        """Size in bytes; raises ``ObjectNotFound``."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix``; return how many were removed."""

    def presigned_url(self, key: str, expires_in: int, filename: str | None = None) -> str | None:
        """A direct download URL from the backend, or None when the API must serve the bytes itself."""


def tenant_key(tenant_id: str, *parts: str) -> str:
    """``tenants/<tenant>/<parts...>``; every part must be a safe single path segment."""
    for part in (tenant_id, *parts):
        if not _SAFE_PART.match(part) or part in (".", ".."):
            raise ValueError(f"unsafe storage key part: {part!r}")
    return "/".join(("tenants", tenant_id, *parts))


def check_key(key: str) -> str:
    """Reject keys that could escape a backend's root (absolute, ``..``, empty segments)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid storage key: {key!r}")
    return key
