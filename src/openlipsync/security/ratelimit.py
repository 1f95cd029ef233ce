"""Rate limits, concurrency limits and quotas per API key.

- ``RateLimiter``: a token bucket per key (``rate`` tokens per second, ``burst`` capacity). A refused request
  gets ``RateLimitedError`` with ``retry_after`` = seconds until one token is back.
- ``ConcurrencyLimiter``: at most N requests in flight per key.
- ``check_active_jobs`` / ``check_storage_quota``: limits on jobs queued or running and on stored bytes,
  given counts the job store provides.
- ``RateLimitMiddleware``: a pure ASGI middleware that applies the first two before routing, keyed by a
  hash of the presented API key (``x-api-key`` or ``Authorization: Bearer``), or by client address when no
  key is presented; it also throttles addresses that keep failing authentication (key guessing).
  Refusals are ``429`` with ``Retry-After`` and the body ``{message, error, statusCode, errorCode}``.

State is in process memory, or for the token buckets in Redis (``ratelimit_redis``) when configured, so
that several API processes share one limit per key.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from openlipsync.errors import QuotaExceededError, RateLimitedError

Clock = Callable[[], float]


@dataclass(frozen=True)
class RateLimits:
    """Per-key limits; 0 disables a limit. ``from_settings`` reads ``rate_limit_*`` / ``quota_*`` fields."""

    requests_per_second: float = 20.0
    burst: int = 60
    max_inflight_requests: int = 32
    max_active_jobs: int = 16
    max_stored_bytes: int = 20 * 1024**3
    anonymous_requests_per_second: float = 10.0  # API requests without a key (signed links), per address
    anonymous_burst: int = 50
    auth_failures_per_minute: float = 30.0  # 401s per client address before it is throttled

    @classmethod
    def from_settings(cls, settings: Any) -> RateLimits:
        values = {}
        for name in cls.__dataclass_fields__:
            for attr in ("rate_limit_" + name, "quota_" + name, name):
                value = getattr(settings, attr, None)
                if value is not None:
                    values[name] = value
                    break
        return cls(**values)


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens, self.stamp = tokens, stamp


class RateLimiter:
    """Token buckets keyed by string; thread-safe; idle full buckets are forgotten."""

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must be >= 0")
        self.rate, self.burst, self.clock, self.max_keys = rate, float(burst), clock, max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now

    def try_acquire(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; 0.0 on success, else the seconds to wait (nothing is taken)."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            self._refill(bucket, now)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate

    def available(self, key: str) -> float:
        """Tokens ``key`` has now (``burst`` for an unknown key), without taking any."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return self.burst
            return min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)

    def wait_for(self, key: str, cost: float = 1.0) -> float:
        """Seconds until ``key`` has ``cost`` tokens."""
        missing = cost - self.available(key)
        return max(0.0, missing / self.rate) if self.rate > 0 else 0.0

    def hit(self, key: str, cost: float = 1.0) -> None:
        """Take a token or raise ``RateLimitedError`` with ``retry_after``."""
        wait = self.try_acquire(key, cost)
        if wait > 0:
            raise RateLimitedError(f"rate limit of {self.rate:g} requests/s (burst {self.burst:g}) exceeded; "
                                   f"retry in {wait:.1f} s", retry_after=wait)

    def _forget_full(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # still full: drop the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].stamp)[: self.max_keys // 2]:
                del self._buckets[key]


class ConcurrencyLimiter:
    """At most ``limit`` holders per key at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        if self.limit <= 0:
            return True
        with self._lock:
            count = self._counts.get(key, 0)
            if count >= self.limit:
                return False
            self._counts[key] = count + 1
            return True

    def release(self, key: str) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            count = self._counts.get(key, 0) - 1
            if count > 0:
                self._counts[key] = count
            else:
                self._counts.pop(key, None)

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        if not self.acquire(key):
            raise RateLimitedError(f"more than {self.limit} requests in flight for this key",
                                   code="concurrency_limit_exceeded", retry_after=1)
        try:
            yield
        finally:
            self.release(key)


def check_active_jobs(active: int, limit: int) -> None:
    """Refuse a new job when the key already has ``limit`` jobs pending or processing."""
    if limit > 0 and active >= limit:
        raise RateLimitedError(f"{active} jobs are already queued or running for this key (limit {limit}); "
                               "wait for some to finish", code="concurrent_jobs_limit_exceeded", retry_after=10)


def check_storage_quota(used: int, incoming: int, limit: int) -> None:
    """Refuse storing ``incoming`` more bytes when the tenant would pass ``limit``."""
    if limit > 0 and used + incoming > limit:
        raise QuotaExceededError(f"storage quota exceeded: {used} bytes stored + {incoming} new > {limit}")


def error_body(exc: RateLimitedError | QuotaExceededError, path: str = "/v2") -> dict[str, Any]:
    """The error body in the caller's API: native ``/v1`` shape, else Sync's ``{message, error, statusCode,
    errorCode}`` (the same shapes as ``api/errors.py``)."""
    if path.startswith("/v1"):
        return {"error": {"code": exc.code, "message": exc.message, "status": exc.http_status}}
    return {"message": exc.message, "error": "Too Many Requests" if exc.http_status == 429 else "Forbidden",
            "statusCode": exc.http_status, "errorCode": exc.code}


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The API key a request presents (``x-api-key`` or ``Authorization: Bearer``), unverified."""
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1").strip()
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


async def _value(result: Any) -> Any:
    """Limiters may be sync (in memory) or async (Redis)."""
    return await result if inspect.isawaitable(result) else result


class RateLimitMiddleware:
    """ASGI middleware: token bucket + in-flight limit per presented key, per address without one.

    ``keyed`` / ``anonymous`` may be shared limiters (``RedisRateLimiter``) so several API processes enforce
    one rate per key; by default all state is in this process.
    """

    def __init__(self, app: Any, limits: RateLimits | None = None, *, clock: Clock = time.monotonic,
                 keyed: Any = None, anonymous: Any = None,
                 limited_prefixes: tuple[str, ...] = ("/v1/", "/v2/"),
                 exempt_prefixes: tuple[str, ...] = ("/v1/health", "/v1/ready")) -> None:
        self.app = app
        self.limits = limits or RateLimits()
        self.limited, self.exempt = limited_prefixes, exempt_prefixes
        lim = self.limits
        self.keyed = keyed or RateLimiter(lim.requests_per_second, lim.burst, clock=clock)
        self.anonymous = anonymous or RateLimiter(lim.anonymous_requests_per_second, lim.anonymous_burst,
                                                  clock=clock)
        self.auth_failures = RateLimiter(lim.auth_failures_per_minute / 60.0, lim.auth_failures_per_minute,
                                         clock=clock)
        self.inflight = ConcurrencyLimiter(lim.max_inflight_requests)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(self.limited) or path.startswith(self.exempt):  # studio, docs, health: free
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = presented_key(headers)
        client = (scope.get("client") or ("unknown", 0))[0]
        try:
            bucket = await self._admit(key, client)
        except RateLimitedError as exc:
            await _send_429(send, exc, scope.get("path", ""))
            return
        status: list[int] = []

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.inflight.release(bucket)
            if status and status[0] == 401:
                self.auth_failures.try_acquire(client)

    async def _admit(self, key: str | None, client: str) -> str:
        """Charge the request; the in-flight slot key to release afterwards."""
        if self.auth_failures.enabled and self.auth_failures.available(client) < 1.0:
            raise RateLimitedError("too many failed authentications from this address",
                                   retry_after=self.auth_failures.wait_for(client), code="auth_rate_limit_exceeded")
        if key:
            bucket, limiter = "key:" + hashlib.sha256(key.encode()).hexdigest(), self.keyed
        else:
            bucket, limiter = "ip:" + client, self.anonymous
        wait = await _value(limiter.try_acquire(bucket))
        if wait > 0:
            raise RateLimitedError(f"rate limit of {limiter.rate:g} requests/s (burst {limiter.burst:g}) exceeded; "
                                   f"retry in {wait:.1f} s", retry_after=wait)
        if not self.inflight.acquire(bucket):
            raise RateLimitedError(f"more than {self.inflight.limit} requests in flight for this key",
                                   code="concurrency_limit_exceeded", retry_after=1)
        return bucket


async def _send_429(send: Any, exc: RateLimitedError, path: str) -> None:
    body = json.dumps(error_body(exc, path)).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(exc.retry_after).encode())]})
    await send({"type": "http.response.body", "body": body})
