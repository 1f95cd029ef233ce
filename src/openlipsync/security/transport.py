"""An httpx transport that applies the SSRF rules of ``urlfetch`` to outgoing requests (webhooks).

Each request is checked (scheme, credentials, every resolved address), sent to the checked address with the
original ``Host`` and SNI, never redirected, and its response body is capped. A refused or failed request
raises ``httpx.ConnectError`` so callers handle it like any unreachable endpoint.
"""

from __future__ import annotations

from typing import Any

import httpx

from openlipsync.errors import UrlFetchError
from openlipsync.security.urlfetch import FetchPolicy, Resolver, SafeFetcher


class SafeTransport(httpx.BaseTransport):
    def __init__(self, policy: FetchPolicy | None = None, *, resolver: Resolver | None = None,
                 max_response_bytes: int = 64 * 1024) -> None:
        self.fetcher = SafeFetcher(policy, resolver=resolver)
        self.max_response_bytes = max_response_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            status, resp_headers, body = self.fetcher.send(
                request.method, str(request.url), body=request.read(), headers=headers,
                max_response_bytes=self.max_response_bytes)
        except UrlFetchError as exc:
            raise httpx.ConnectError(f"{exc.code}: {exc.message}", request=request) from exc
        drop = ("content-length", "transfer-encoding", "content-encoding", "connection")
        kept = [(k, v) for k, v in resp_headers.items() if k.lower() not in drop]
        return httpx.Response(status, headers=kept, content=body, request=request)


def safe_client(settings: Any, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` whose requests obey the URL policy built from ``settings``."""
    from openlipsync.security.admission import fetch_policy

    timeout = float(getattr(settings, "webhook_timeout_seconds", 10.0))
    policy = fetch_policy(settings)
    policy = FetchPolicy(**{**policy.__dict__, "connect_timeout": min(policy.connect_timeout, timeout),
                            "read_timeout": timeout, "total_timeout": timeout * 2})
    return httpx.Client(transport=SafeTransport(policy), timeout=timeout, follow_redirects=False, **kwargs)
