"""Outgoing webhook requests obey the SSRF rules: checked address, pinned connection, no redirects."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openlipsync.security.transport import SafeTransport, safe_client
from openlipsync.security.urlfetch import FetchPolicy
from tests.security.servers import serving

pytestmark = pytest.mark.timeout(60)


def _client(policy: FetchPolicy, resolver=None) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=SafeTransport(policy, resolver=resolver), follow_redirects=False)


def test_post_reaches_an_allowed_address_with_body_headers_and_capped_response() -> None:
    with serving() as server, _client(FetchPolicy(allow_networks=("127.0.0.0/8",))) as client:
        r = client.post(f"http://127.0.0.1:{server.port}/hook", content=b'{"id":"x"}',
                        headers={"Sync-Signature": "t=1,v1=ab", "Content-Type": "application/json"})
    assert r.status_code == 200 and len(r.content) == 64 * 1024  # 200 KB answer capped
    assert server.seen[0]["body"] == b'{"id":"x"}' and server.seen[0]["signature"] == "t=1,v1=ab"


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook",
                                 "http://[::1]:9/hook", "file:///etc/passwd", "http://user:pw@example.com/"])
def test_forbidden_webhook_targets_fail_as_connect_errors(url: str) -> None:
    with _client(FetchPolicy()) as client, pytest.raises(httpx.ConnectError, match="forbidden"):
        client.post(url, content=b"{}")


def test_loopback_is_refused_without_allow_list_and_not_contacted() -> None:
    with serving() as server, _client(FetchPolicy()) as client:
        with pytest.raises(httpx.ConnectError):
            client.post(f"http://127.0.0.1:{server.port}/hook", content=b"{}")
        assert server.seen == []


def test_redirects_are_returned_not_followed() -> None:
    with serving() as server, _client(FetchPolicy(allow_networks=("127.0.0.0/8",))) as client:
        r = client.post(f"http://127.0.0.1:{server.port}/redirect", content=b"{}")
    assert r.status_code == 307 and len(server.seen) == 1


def test_rebinding_name_is_resolved_once_and_pinned() -> None:
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    with serving() as server, _client(FetchPolicy(allow_networks=("127.0.0.0/8",)), resolver) as client:
        assert client.post(f"http://hooks.test:{server.port}/hook", content=b"{}").status_code == 200
    assert calls == ["hooks.test"] and server.seen[0]["host"] == f"hooks.test:{server.port}"


def test_safe_client_uses_the_platform_settings(tmp_path: Path) -> None:
    from tests.api.support import make_settings

    settings = make_settings(tmp_path, url_allow_networks=[])
    with serving() as server, safe_client(settings) as client, pytest.raises(httpx.ConnectError):
        client.post(f"http://127.0.0.1:{server.port}/hook", content=b"{}")
    allowed = make_settings(tmp_path, url_allow_networks=["127.0.0.1/32"])
    with serving() as server, safe_client(allowed) as client:
        assert client.post(f"http://127.0.0.1:{server.port}/hook", content=b"{}").status_code == 200
