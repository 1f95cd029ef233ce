"""Where the security layer plugs into the platform.

- ``install(app, settings)``: the rate-limit middleware and the per-tenant guard (``app.state.rate_limiter``,
  called by ``api/deps`` after authentication) on a FastAPI app.
- ``admit_asset(settings, db, tenant_id, path)``: the storage quota and every input check, before an
  uploaded or fetched file becomes an asset.
- ``fetch_policy(settings)`` / ``input_limits(settings)``: the limits built from Settings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from openlipsync.errors import UrlForbiddenError
from openlipsync.media.probe import MediaInfo
from openlipsync.security.bodylimit import BodyLimitMiddleware
from openlipsync.security.limits import InputLimits, inspect_media
from openlipsync.security.ratelimit import (
    RateLimitMiddleware,
    RateLimits,
    check_active_jobs,
    check_storage_quota,
)
from openlipsync.security.urlfetch import FetchPolicy, check_url_shape

log = logging.getLogger("openlipsync.security")

# Actions (``"METHOD /route/path"``) that create jobs, and those that may store new bytes.
JOB_CREATING = {"POST /v1/generations", "POST /v2/generate", "POST /v2/batch"}
STORING = JOB_CREATING | {"POST /v1/assets", "POST /v2/assets"}
_ACTIVE = ("PENDING", "PROCESSING")


def input_limits(settings: Any) -> InputLimits:
    return InputLimits.from_settings(settings)


def fetch_policy(settings: Any) -> FetchPolicy:
    """The URL fetcher's policy from Settings (size cap = upload cap, allow-lists, timeouts)."""
    values: dict[str, Any] = {}
    for attr, name in (("max_upload_bytes", "max_bytes"), ("url_fetch_timeout_seconds", "total_timeout"),
                       ("url_connect_timeout_seconds", "connect_timeout"),
                       ("url_read_timeout_seconds", "read_timeout"), ("url_max_redirects", "max_redirects"),
                       ("url_ca_certs", "ca_certs")):
        value = getattr(settings, attr, None)
        if value is not None:
            values[name] = value
    values["allow_networks"] = tuple(getattr(settings, "url_allow_networks", None) or ())
    values["allow_hosts"] = tuple(getattr(settings, "url_allow_hosts", None) or ())
    return FetchPolicy(**values)


def check_webhook_url(url: str, settings: Any) -> None:
    """Refuse a webhook URL that can never be delivered safely (``generation_webhook_url_forbidden``)."""
    try:
        check_url_shape(url, fetch_policy(settings))
    except UrlForbiddenError as exc:
        raise UrlForbiddenError(f"webhookUrl: {exc.message}", code="generation_webhook_url_forbidden") from exc


def stored_bytes(db: Any, tenant_id: str) -> int:
    """Bytes of input assets the tenant keeps (outputs are not counted)."""
    from openlipsync.db import Asset

    with db.session() as s:
        return int(s.scalar(select(func.coalesce(func.sum(Asset.size), 0)).where(Asset.tenant_id == tenant_id)) or 0)


def active_jobs(db: Any, tenant_id: str) -> int:
    from openlipsync.db import Job

    with db.session() as s:
        q = select(func.count()).select_from(Job).where(Job.tenant_id == tenant_id, Job.status.in_(_ACTIVE))
        return int(s.scalar(q) or 0)


def admit_asset(settings: Any, db: Any, tenant_id: str, path: Path) -> MediaInfo:
    """Quota first (cheap), then every input check; the ``MediaInfo`` of an acceptable file."""
    limits = RateLimits.from_settings(settings)
    if limits.max_stored_bytes > 0:
        check_storage_quota(stored_bytes(db, tenant_id), path.stat().st_size, limits.max_stored_bytes)
    return inspect_media(path, input_limits(settings))


class TenantGuard:
    """``api/deps`` calls ``check(principal, action)`` after authentication on every request."""

    def __init__(self, db: Any, limits: RateLimits) -> None:
        self.db, self.limits = db, limits

    def check(self, principal: Any, action: str) -> None:
        if action in JOB_CREATING and self.limits.max_active_jobs > 0:
            check_active_jobs(active_jobs(self.db, principal.tenant_id), self.limits.max_active_jobs)
        if action in STORING and self.limits.max_stored_bytes > 0:
            check_storage_quota(stored_bytes(self.db, principal.tenant_id), 1, self.limits.max_stored_bytes)


def rate_limit_url(settings: Any) -> str | None:
    """Where shared token buckets live: ``rate_limit_url``, else a Redis ``QUEUE_URL``, else nowhere."""
    url = getattr(settings, "rate_limit_url", None) or getattr(settings, "queue_url", None) or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    from openlipsync.jobs.queue_redis import RedisQueueOptions

    return RedisQueueOptions.split_url(url)[0]  # without the queue's own options (queue=, heartbeat_timeout=...)


def shared_limiters(settings: Any, limits: RateLimits) -> dict[str, Any]:
    """Redis token buckets for the middleware when a Redis URL is configured (scale-out), else none."""
    url = rate_limit_url(settings)
    if url is None:
        return {}
    from openlipsync.security.ratelimit_redis import RedisRateLimiter

    log.info("security: rate limits shared through Redis")
    return {"keyed": RedisRateLimiter.from_url(url, limits.requests_per_second, limits.burst),
            "anonymous": RedisRateLimiter.from_url(url, limits.anonymous_requests_per_second, limits.anonymous_burst,
                                                   prefix="openlipsync:rl-anon:")}


def install(app: Any, settings: Any) -> None:
    """Add the rate-limit middleware and the tenant guard to a FastAPI ``app``."""
    limits = RateLimits.from_settings(settings)
    upload = int(getattr(settings, "max_upload_bytes", 0) or 0)
    if upload > 0:  # a video and an audio upload plus form fields
        app.add_middleware(BodyLimitMiddleware, max_bytes=2 * upload + 16 * 1024 * 1024)
    app.add_middleware(RateLimitMiddleware, limits=limits, **shared_limiters(settings, limits))  # runs first
    app.state.rate_limiter = TenantGuard(app.state.platform.db, limits)
    log.info("security: %g req/s (burst %d) per key, %d in flight, %d active jobs, %d bytes stored",
             limits.requests_per_second, limits.burst, limits.max_inflight_requests, limits.max_active_jobs,
             limits.max_stored_bytes)
