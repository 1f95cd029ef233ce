"""In-memory ``Storage`` for tests (and nothing else: contents vanish with the process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from openlipsync.storage.base import CHUNK, ObjectNotFound, check_key


class MemoryStorage:
    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _get(self, key: str) -> bytes:
        with self._lock:
            data = self._objects.get(check_key(key))
        if data is None:
            raise ObjectNotFound(f"object {key} not found")
        return data

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self.put_bytes(key, Path(path).read_bytes(), content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._lock:
            self._objects[check_key(key)] = bytes(data)

    def iter_bytes(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        data = self._get(key)
        stop = len(data) if end is None else end + 1
        view = data[start:stop]
        return iter([view[i:i + CHUNK] for i in range(0, len(view), CHUNK)])

    def local_path(self, key: str) -> Path | None:
        return None

    def download(self, key: str, dest: Path) -> Path:
        dest.write_bytes(self._get(key))
        return dest

    def size(self, key: str) -> int:
        return len(self._get(key))

    def exists(self, key: str) -> bool:
        with self._lock:
            return check_key(key) in self._objects

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(check_key(key), None)

    def delete_prefix(self, prefix: str) -> int:
        with self._lock:
            doomed = [k for k in self._objects if k == prefix.rstrip("/") or k.startswith(prefix.rstrip("/") + "/")]
            for k in doomed:
                del self._objects[k]
        return len(doomed)

    def presigned_url(self, key: str, expires_in: int, filename: str | None = None) -> str | None:
        return None
