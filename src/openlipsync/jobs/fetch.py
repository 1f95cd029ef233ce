"""The seam for fetching input URLs. The security layer (``openlipsync.security``) provides the SSRF-safe
fetcher; this module adapts it to the platform's settings so the job service has one call to make."""

from __future__ import annotations

from pathlib import Path

from openlipsync.config import Settings


def fetch_url_to_file(url: str, dest: Path, settings: Settings) -> Path:
    """Download ``url`` (http/https only, size and time capped, SSRF-checked) to ``dest``."""
    from openlipsync.security.admission import fetch_policy
    from openlipsync.security.limits import reject_non_media
    from openlipsync.security.urlfetch import fetch_url

    fetch_url(url, dest, fetch_policy(settings), sniff=reject_non_media)
    return dest
