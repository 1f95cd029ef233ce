"""Rate limits shared by several API processes through Redis (a real redis-server on loopback)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openlipsync.security.ratelimit import RateLimitMiddleware, RateLimits
from openlipsync.security.ratelimit_redis import RedisRateLimiter

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0?queue=ignored"
    finally:
        proc.terminate()
        proc.wait(10)


def test_two_processes_share_one_bucket_per_key(redis_url: str) -> None:
    async def run() -> None:
        a = RedisRateLimiter(redis_url, rate=2.0, burst=3, prefix="t1:")  # as in two API processes
        b = RedisRateLimiter(redis_url, rate=2.0, burst=3, prefix="t1:")
        assert [await a.try_acquire("k"), await b.try_acquire("k"), await a.try_acquire("k")] == [0.0, 0.0, 0.0]
        wait = await b.try_acquire("k")
        assert 0.3 < wait <= 0.5  # one token comes back after 0.5 s at 2/s
        assert await a.try_acquire("other") == 0.0
        await asyncio.sleep(wait + 0.05)
        assert await b.try_acquire("k") == 0.0
        assert await a.available("k") < 1.0
        await a.aclose()
        await b.aclose()

    asyncio.run(run())


def test_limiter_works_across_event_loops(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, rate=1.0, burst=1, prefix="t2:")
    assert asyncio.run(limiter.try_acquire("k")) == 0.0
    assert asyncio.run(limiter.try_acquire("k")) > 0  # a second loop, the same shared bucket


def test_limiter_fails_open_when_redis_is_down() -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{_free_port()}/0", rate=1.0, burst=1)
    assert asyncio.run(limiter.try_acquire("k")) == 0.0
    assert asyncio.run(limiter.try_acquire("k")) == 0.0


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def test_middlewares_of_two_apps_enforce_one_limit(redis_url: str) -> None:
    limits = RateLimits(requests_per_second=0.2, burst=2)

    def app() -> httpx.AsyncClient:
        shared = RedisRateLimiter(redis_url, limits.requests_per_second, limits.burst, prefix="t3:")
        wrapped = RateLimitMiddleware(Starlette(routes=[Route("/v2/x", _ok)]), limits, keyed=shared)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://test")

    async def run() -> None:
        h = {"x-api-key": "tenant"}
        async with app() as one, app() as two:
            codes = [(await c.get("/v2/x", headers=h)).status_code for c in (one, two, one, two)]
            assert codes == [200, 200, 429, 429]
            refused = await two.get("/v2/x", headers=h)
            assert refused.json()["errorCode"] == "rate_limit_exceeded"
            assert int(refused.headers["retry-after"]) >= 1

    asyncio.run(run())
