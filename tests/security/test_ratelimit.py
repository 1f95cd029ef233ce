"""Token buckets, in-flight limits, quotas and the 429 middleware (fake clock, tiny ASGI app)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openlipsync.errors import QuotaExceededError, RateLimitedError
from openlipsync.security.ratelimit import (
    ConcurrencyLimiter,
    RateLimiter,
    RateLimitMiddleware,
    RateLimits,
    check_active_jobs,
    check_storage_quota,
)

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_refuses_with_retry_after_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.hit("k")
    with pytest.raises(RateLimitedError) as err:
        limiter.hit("k")
    assert err.value.http_status == 429 and err.value.retry_after == 1  # 0.5 s rounded up to whole seconds
    assert limiter.try_acquire("k") == pytest.approx(0.5)
    limiter.hit("other")  # keys are independent
    clock.now += 0.5
    limiter.hit("k")
    clock.now += 100
    assert limiter.available("k") == 3  # never more than the burst


def test_bucket_forgets_idle_keys_when_full() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, max_keys=10)
    for i in range(10):
        limiter.hit(f"k{i}")
    clock.now += 5
    limiter.hit("new")
    assert len(limiter._buckets) == 1


def test_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(rate=0, burst=0)
    for _ in range(1000):
        limiter.hit("k")


def test_concurrency_limiter_counts_per_key_and_releases() -> None:
    limiter = ConcurrencyLimiter(2)
    with limiter.slot("a"), limiter.slot("a"):
        with pytest.raises(RateLimitedError) as err, limiter.slot("a"):
            pass
        assert err.value.code == "concurrency_limit_exceeded"
        with limiter.slot("b"):
            assert limiter.in_flight("a") == 2 and limiter.in_flight("b") == 1
    assert limiter.in_flight("a") == 0


def test_active_jobs_and_storage_quota() -> None:
    check_active_jobs(3, 4)
    with pytest.raises(RateLimitedError) as err:
        check_active_jobs(4, 4)
    assert err.value.code == "concurrent_jobs_limit_exceeded" and err.value.retry_after == 10
    check_active_jobs(10**6, 0)  # 0 = unlimited
    check_storage_quota(900, 100, 1000)
    with pytest.raises(QuotaExceededError) as q:
        check_storage_quota(900, 101, 1000)
    assert q.value.http_status == 403 and q.value.code == "quota_exceeded"


def test_limits_from_settings_like_objects() -> None:
    class S:
        rate_limit_requests_per_second = 3.5
        quota_max_stored_bytes = 1234

    limits = RateLimits.from_settings(S())
    assert limits.requests_per_second == 3.5 and limits.max_stored_bytes == 1234
    assert limits.burst == RateLimits().burst


# --- middleware -------------------------------------------------------------------------------------------

async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def _slow(request: Request) -> JSONResponse:
    await asyncio.sleep(0.3)
    return JSONResponse({"ok": True})


async def _auth(request: Request) -> JSONResponse:
    if request.headers.get("x-api-key") != "good":
        return JSONResponse({"message": "bad key"}, status_code=401)
    return JSONResponse({"ok": True})


def _app(limits: RateLimits, clock: Clock) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/v2/x", _ok), Route("/v1/x", _ok), Route("/v2/slow", _slow),
                            Route("/v2/auth", _auth), Route("/health", _ok)])
    wrapped = RateLimitMiddleware(app, limits, clock=clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://test")


def test_middleware_returns_429_with_retry_after_and_sync_style_body() -> None:
    async def run() -> None:
        clock = Clock()
        async with _app(RateLimits(requests_per_second=1, burst=2), clock) as client:
            h = {"x-api-key": "tenant-a"}
            assert [(await client.get("/v2/x", headers=h)).status_code for _ in range(2)] == [200, 200]
            refused = await client.get("/v2/x", headers=h)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert refused.json() == {"message": refused.json()["message"], "error": "Too Many Requests",
                                      "statusCode": 429, "errorCode": "rate_limit_exceeded"}
            # another key, Bearer on v1, and health checks are not affected
            other = await client.get("/v1/x", headers={"authorization": "Bearer tenant-b"})
            assert other.status_code == 200
            assert (await client.get("/health", headers=h)).status_code == 200
            native = await client.get("/v1/x", headers=h)  # the native API answers in its own shape
            assert native.status_code == 429
            assert native.json()["error"]["code"] == "rate_limit_exceeded" and native.json()["error"]["status"] == 429
            clock.now += 1.0
            assert (await client.get("/v1/x", headers=h)).status_code == 200

    asyncio.run(run())


def test_middleware_limits_requests_in_flight_per_key() -> None:
    async def run() -> None:
        async with _app(RateLimits(requests_per_second=0, max_inflight_requests=2), Clock()) as client:
            h = {"x-api-key": "k"}
            results = await asyncio.gather(*[client.get("/v2/slow", headers=h) for _ in range(5)])
            codes = sorted(r.status_code for r in results)
            assert codes == [200, 200, 429, 429, 429]
            assert {r.json()["errorCode"] for r in results if r.status_code == 429} == {"concurrency_limit_exceeded"}
            assert (await client.get("/v2/slow", headers=h)).status_code == 200  # slots were released

    asyncio.run(run())


def test_middleware_throttles_addresses_that_keep_failing_authentication() -> None:
    async def run() -> None:
        clock = Clock()
        limits = RateLimits(requests_per_second=0, auth_failures_per_minute=5)
        async with _app(limits, clock) as client:
            for i in range(5):
                assert (await client.get("/v2/auth", headers={"x-api-key": f"guess{i}"})).status_code == 401
            blocked = await client.get("/v2/auth", headers={"x-api-key": "good"})
            assert blocked.status_code == 429 and blocked.json()["errorCode"] == "auth_rate_limit_exceeded"
            assert int(blocked.headers["retry-after"]) >= 1
            clock.now += 60
            assert (await client.get("/v2/auth", headers={"x-api-key": "good"})).status_code == 200

    asyncio.run(run())


def test_requests_without_a_key_use_a_per_address_bucket() -> None:
    async def run() -> None:
        limits = RateLimits(anonymous_requests_per_second=1, anonymous_burst=3)
        async with _app(limits, Clock()) as client:
            codes = [(await client.get("/v1/x")).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            assert (await client.get("/v1/x", headers={"x-api-key": "k"})).status_code == 200

    asyncio.run(run())
