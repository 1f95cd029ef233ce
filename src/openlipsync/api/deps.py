"""Request-scoped dependencies: the platform, the caller's principal, the public base URL."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from openlipsync.api.errors import Unauthorized
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import Principal, authenticate
from openlipsync.jobs.views import Links


class RateLimiter(Protocol):
    """Hook for the security layer: raise ``RateLimitedError`` to refuse a request."""

    def check(self, principal: Principal, action: str) -> None: ...


def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def base_url(request: Request) -> str:
    """The external base of links for this request (public URL or host, plus the path prefix)."""
    return get_platform(request).settings.external_base(str(request.base_url))


def get_links(request: Request) -> Links:
    return get_platform(request).links(base_url(request))


LinksDep = Annotated[Links, Depends(get_links)]


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


async def _principal(request: Request, key: str | None) -> Principal:
    platform = get_platform(request)
    principal = await run_in_threadpool(authenticate, platform.db, key)
    if principal is None:
        raise Unauthorized("a valid API key is required")
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        route = request.scope.get("route")
        action = f"{request.method} {getattr(route, 'path', request.url.path)}"
        await run_in_threadpool(limiter.check, principal, action)
    request.state.principal = principal
    return principal


async def v1_principal(request: Request) -> Principal:
    """Native API: ``Authorization: Bearer <key>`` (``x-api-key`` is accepted too)."""
    return await _principal(request, _bearer(request) or request.headers.get("x-api-key"))


async def v2_principal(request: Request) -> Principal:
    """Sync-compatible API: ``x-api-key: <key>`` (Bearer accepted too)."""
    return await _principal(request, request.headers.get("x-api-key") or _bearer(request))


V1Auth = Annotated[Principal, Depends(v1_principal)]
V2Auth = Annotated[Principal, Depends(v2_principal)]


async def optional_principal(request: Request) -> Principal | None:
    key = _bearer(request) or request.headers.get("x-api-key")
    if not key:
        return None
    return await _principal(request, key)


OptionalAuth = Annotated[Principal | None, Depends(optional_principal)]
