"""The seam for fetching input URLs. The security layer (``openlipsync.security``) provides the SSRF-safe
fetcher; this module adapts it to the platform's settings so the job service has one call to make."""

from __future__ import annotations

from pathlib import Path

from openlipsync.config import Settings


def fetch_url_to_file(url: str, dest: Path, settings: Settings) -> Path:
    """Download ``url`` (http/https only, size and time capped, SSRF-checked) to ``dest``."""
    from openlipsync.security.urlfetch import FetchPolicy, fetch_url

    policy = FetchPolicy(max_bytes=settings.max_upload_bytes, total_timeout=settings.url_fetch_timeout_seconds,
                         allow_networks=tuple(settings.url_allow_networks),
                         allow_hosts=tuple(settings.url_allow_hosts))
    fetch_url(url, dest, policy)
    return dest
