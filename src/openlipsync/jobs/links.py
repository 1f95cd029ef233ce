"""Unguessable, expiring download links: HMAC-SHA256 over what the link grants and until when."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode


class LinkSigner:
    """Signs ``(kind, object id, storage key, expiry)``; a new output key invalidates old links."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret.encode()
        self.ttl_seconds = ttl_seconds

    def _mac(self, kind: str, object_id: str, key: str, expires: int) -> str:
        msg = f"{kind}\n{object_id}\n{key}\n{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def query(self, kind: str, object_id: str, key: str, *, now: float | None = None) -> str:
        """``expires=...&sig=...`` for a link valid ``ttl_seconds`` from now."""
        expires = int((now or time.time()) + self.ttl_seconds)
        return urlencode({"expires": expires, "sig": self._mac(kind, object_id, key, expires)})

    def verify(self, kind: str, object_id: str, key: str, expires: str | int | None, sig: str | None) -> bool:
        if expires is None or not sig:
            return False
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return False
        if exp < time.time():
            return False
        return hmac.compare_digest(self._mac(kind, object_id, key, exp), sig)
