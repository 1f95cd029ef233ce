"""Token buckets shared by every API process, in Redis (the scale-out deployment).

Same contract as ``ratelimit.RateLimiter`` (``try_acquire`` → seconds to wait, ``available``), but async and
atomic: one Lua script refills and takes tokens using the Redis server's clock, so N API processes enforce
one limit per key instead of N. Buckets expire once they would be full again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("openlipsync.security")

_SCRIPT = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, stamp = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
elseif cost > 0 then
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / rate) + 1))
return {tostring(wait), tostring(tokens)}
"""


class RedisRateLimiter:
    """Async token buckets keyed by string, stored in Redis under ``prefix``.

    One client per event loop (redis.asyncio connections belong to the loop that opened them). If Redis
    cannot be reached the request is let through and a warning logged: the limiter fails open.
    """

    def __init__(self, url: str, rate: float, burst: float, *, prefix: str = "openlipsync:rl:") -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must be >= 0")
        parts = urlsplit(url)
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))  # queue options ride on ?query
        self.rate, self.burst, self.prefix = rate, float(burst), prefix
        self._clients: dict[int, Any] = {}
        self._failures = 0

    @classmethod
    def from_url(cls, url: str, rate: float, burst: float, **kwargs: Any) -> RedisRateLimiter:
        return cls(url, rate, burst, **kwargs)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _script(self) -> Any:
        import redis.asyncio as aioredis

        loop = id(asyncio.get_running_loop())
        entry = self._clients.get(loop)
        if entry is None:
            if len(self._clients) >= 4:  # loops come and go in tests; keep only recent ones
                self._clients.pop(next(iter(self._clients)))
            client = aioredis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
            entry = self._clients[loop] = (client, client.register_script(_SCRIPT))
        return entry[1]

    async def _run(self, key: str, cost: float) -> tuple[float, float]:
        from redis.exceptions import RedisError

        try:
            wait, tokens = await self._script()(keys=[self.prefix + key], args=[self.rate, self.burst, cost])
        except (RedisError, OSError) as exc:
            self._failures += 1
            if self._failures in (1, 10, 100) or self._failures % 1000 == 0:
                log.warning("rate limiter: Redis unavailable (%s); letting requests through", exc)
            return 0.0, self.burst
        return float(wait), float(tokens)

    async def try_acquire(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; 0.0 on success, else the seconds to wait (nothing is taken)."""
        if not self.enabled:
            return 0.0
        wait, _ = await self._run(key, cost)
        return wait if math.isfinite(wait) else 3600.0

    async def available(self, key: str) -> float:
        if not self.enabled:
            return self.burst
        _, tokens = await self._run(key, 0.0)
        return tokens

    async def wait_for(self, key: str, cost: float = 1.0) -> float:
        missing = cost - await self.available(key)
        return max(0.0, missing / self.rate) if self.rate > 0 else 0.0

    async def aclose(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()
