"""Object storage chosen by URL: ``file:///dir`` (default), ``memory://``, ``s3://bucket/prefix``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from openlipsync.errors import ConfigError
from openlipsync.storage.base import ObjectNotFound, Storage, tenant_key
from openlipsync.storage.local import LocalStorage
from openlipsync.storage.memory import MemoryStorage

__all__ = ["LocalStorage", "MemoryStorage", "ObjectNotFound", "Storage", "open_storage", "tenant_key"]

# scheme -> "module:callable" taking the URL; lazy so that boto3 is imported only when S3 is used.
BACKENDS: dict[str, str] = {
    "file": "openlipsync.storage:_local_from_url",
    "memory": "openlipsync.storage:_memory_from_url",
    "s3": "openlipsync.storage.s3:S3Storage.from_url",
}


def _local_from_url(url: str) -> Storage:
    parts = urlsplit(url)
    return LocalStorage(unquote(parts.netloc + parts.path))


def _memory_from_url(url: str) -> Storage:
    return MemoryStorage()


def open_storage(url: str) -> Storage:
    """Instantiate the backend named by ``url``'s scheme."""
    scheme = urlsplit(url).scheme or "file"
    target = BACKENDS.get(scheme)
    if target is None:
        raise ConfigError(f"unsupported STORAGE_URL scheme {scheme!r} (use one of {sorted(BACKENDS)})")
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for name in attr.split("."):
        obj = getattr(obj, name)
    factory: Callable[[str], Storage] = obj  # type: ignore[assignment]
    return factory(url)
