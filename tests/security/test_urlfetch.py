"""SSRF-safe fetching: every rule of security/urlfetch.py against a local server and a fake resolver."""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import time
from pathlib import Path

import pytest

from openlipsync.errors import InputLimitError, UrlFetchError, UrlForbiddenError, WrongTypeError
from openlipsync.security.urlfetch import FetchPolicy, fetch_url, is_public_address, parse_target
from tests.security.servers import PAYLOAD, self_signed_cert, serving

pytestmark = pytest.mark.timeout(30)

LOOPBACK = FetchPolicy(allow_networks=("127.0.0.0/8",))


class FakeResolver:
    """Maps names to addresses; a list of answers is served one per call (to simulate rebinding)."""

    def __init__(self, answers: dict[str, list[list[str]] | list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answer = self.answers[host]
        if answer and isinstance(answer[0], list):
            return answer.pop(0) if len(answer) > 1 else answer[0]  # type: ignore[return-value]
        return answer  # type: ignore[return-value]


BLOCKED = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "169.254.170.2", "100.64.0.1", "100.127.255.254", "100.100.100.200", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8", "192.0.2.1",
    "198.18.0.1", "198.51.100.7", "203.0.113.9", "168.63.129.16",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fd00:ec2::254", "fec0::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:0001::1",
    "2002:a9fe:a9fe::", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2001:db8::1", "100::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:81c::200e",
          "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_accepted(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/a.mp4", "gopher://example.com:70/_x", "data:text/plain,hi",
    "javascript:alert(1)", "dict://example.com:11211/stat", "http://user:pw@example.com/a.mp4",
    "http://@example.com/", "http:///nohost", "http://example.com:0/", "http://example.com:70000/",
    "//example.com/a.mp4", "example.com/a.mp4",
])
def test_bad_schemes_credentials_and_ports_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(UrlForbiddenError) as err:
        fetch_url(url, tmp_path / "x", resolver=FakeResolver({"example.com": ["93.184.216.34"]}))
    assert err.value.code == "generation_input_url_forbidden"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/",
    "http://localhost/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
    "http://0.0.0.0/", "http://10.0.0.1/", "http://192.168.0.1:8080/",
])
def test_loopback_private_and_metadata_targets_are_refused_with_the_system_resolver(
        url: str, tmp_path: Path) -> None:
    # Numeric tricks (decimal, hex, octal, short forms) are all parsed by getaddrinfo into the address we check.
    with pytest.raises(UrlForbiddenError):
        fetch_url(url, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_loopback_server_is_refused_without_allow_list_and_never_contacted(tmp_path: Path) -> None:
    with serving() as server:
        with pytest.raises(UrlForbiddenError):
            fetch_url(f"http://127.0.0.1:{server.port}/ok", tmp_path / "x")
        assert server.seen == []


def test_allow_listed_network_is_fetched_to_disk(tmp_path: Path) -> None:
    with serving() as server:
        result = fetch_url(f"http://127.0.0.1:{server.port}/ok", tmp_path / "sub" / "x", LOOPBACK)
    assert result.path.read_bytes() == PAYLOAD
    assert result.size_bytes == len(PAYLOAD) and result.redirects == 0
    assert result.content_type == "application/octet-stream"


def test_allow_listed_host_name_may_resolve_to_an_internal_address(tmp_path: Path) -> None:
    resolver = FakeResolver({"media.internal": ["127.0.0.1"]})
    with serving() as server:
        result = fetch_url(f"http://media.internal:{server.port}/ok", tmp_path / "x",
                           FetchPolicy(allow_hosts=("*.internal",)), resolver=resolver)
    assert result.size_bytes == len(PAYLOAD)


def test_metadata_address_is_refused_even_when_an_allowed_cidr_covers_it(tmp_path: Path) -> None:
    policy = FetchPolicy(allow_networks=("169.254.0.0/16", "fd00::/8"), allow_hosts=("meta.test",))
    for answer in (["169.254.169.254"], ["fd00:ec2::254"], ["::ffff:169.254.169.254"]):
        with pytest.raises(UrlForbiddenError, match="metadata"):
            fetch_url("http://meta.test/latest", tmp_path / "x", policy,
                      resolver=FakeResolver({"meta.test": answer}))


def test_host_resolving_to_any_private_address_is_refused(tmp_path: Path) -> None:
    resolver = FakeResolver({"mixed.test": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(UrlForbiddenError, match="10.0.0.7"):
        fetch_url("http://mixed.test/a.mp4", tmp_path / "x", resolver=resolver)


def test_dns_rebinding_is_defeated_by_connecting_to_the_checked_address(tmp_path: Path) -> None:
    # First answer passes the check (allow-listed loopback); later answers point at the metadata service.
    resolver = FakeResolver({"rebind.test": [["127.0.0.1"], ["169.254.169.254"]]})
    with serving() as server:
        result = fetch_url(f"http://rebind.test:{server.port}/host", tmp_path / "x", LOOPBACK,
                           resolver=resolver)
    assert resolver.calls == ["rebind.test"]  # resolved exactly once
    assert result.path.read_bytes() == f"rebind.test:{server.port}".encode()  # right Host header
    assert result.addresses == ("127.0.0.1",)


def test_redirects_are_followed_and_rechecked(tmp_path: Path) -> None:
    with serving() as server:
        url = f"http://127.0.0.1:{server.port}/redirect?code=301&to=/redirect%3Fto%3D/ok"
        result = fetch_url(url, tmp_path / "x", LOOPBACK)
    assert result.redirects == 2 and result.path.read_bytes() == PAYLOAD
    assert [s["path"] for s in server.seen] == ["/redirect", "/redirect", "/ok"]


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/", "http://[::1]:1/",
    "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "http://internal.test/",
    "http://127.0.0.1:{port}/ok",
])
def test_redirect_to_a_forbidden_target_is_refused(location: str, tmp_path: Path) -> None:
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]})
    policy = FetchPolicy(allow_hosts=("public.test",))  # only this name may reach loopback
    with serving() as server:
        to = location.format(port=server.port)
        with pytest.raises(UrlForbiddenError):
            fetch_url(f"http://public.test:{server.port}/redirect?to={to}", tmp_path / "x", policy,
                      resolver=resolver)
        assert [s["path"] for s in server.seen] == ["/redirect"]


def test_redirect_loop_stops_at_the_limit(tmp_path: Path) -> None:
    with serving() as server:
        with pytest.raises(UrlFetchError) as err:
            fetch_url(f"http://127.0.0.1:{server.port}/loop", tmp_path / "x",
                      FetchPolicy(allow_networks=("127.0.0.1/32",), max_redirects=3))
        assert len(server.seen) == 4
    assert err.value.code == "generation_input_url_redirect_loop"


def test_declared_size_over_the_cap_is_refused_before_download(tmp_path: Path) -> None:
    policy = FetchPolicy(allow_networks=("127.0.0.0/8",), max_bytes=10_000)
    with serving() as server, pytest.raises(InputLimitError) as err:
        fetch_url(f"http://127.0.0.1:{server.port}/big?n=10001", tmp_path / "x", policy)
    assert err.value.code == "generation_input_too_large" and err.value.http_status == 413
    assert not (tmp_path / "x").exists()


def test_streamed_size_over_the_cap_aborts_and_removes_the_partial_file(tmp_path: Path) -> None:
    policy = FetchPolicy(allow_networks=("127.0.0.0/8",), max_bytes=100_000)
    with serving() as server:
        with pytest.raises(InputLimitError):
            fetch_url(f"http://127.0.0.1:{server.port}/chunked?chunks=50", tmp_path / "x", policy)
        ok = fetch_url(f"http://127.0.0.1:{server.port}/chunked?chunks=6", tmp_path / "y", policy)
    assert not (tmp_path / "x").exists()
    assert ok.size_bytes == 6 * 0x4000


def test_slow_drip_is_cut_at_the_total_time_limit(tmp_path: Path) -> None:
    policy = FetchPolicy(allow_networks=("127.0.0.0/8",), total_timeout=1.0, read_timeout=5.0)
    with serving() as server:
        start = time.monotonic()
        with pytest.raises(UrlFetchError) as err:
            fetch_url(f"http://127.0.0.1:{server.port}/drip?every=0.05", tmp_path / "x", policy)
        elapsed = time.monotonic() - start
    assert err.value.code == "generation_input_url_timeout"
    assert elapsed < 4.0  # bounded by the total limit, not by 1000 drips × 50 ms
    assert not (tmp_path / "x").exists()


def test_stalled_response_hits_the_read_timeout(tmp_path: Path) -> None:
    policy = FetchPolicy(allow_networks=("127.0.0.0/8",), read_timeout=0.5)
    with serving() as server, pytest.raises(UrlFetchError) as err:
        fetch_url(f"http://127.0.0.1:{server.port}/stall?seconds=3", tmp_path / "x", policy)
    assert err.value.code == "generation_input_url_timeout"


def test_http_error_status_and_early_close_are_reported(tmp_path: Path) -> None:
    with serving() as server:
        with pytest.raises(UrlFetchError, match="HTTP 404") as err404:
            fetch_url(f"http://127.0.0.1:{server.port}/missing", tmp_path / "x", LOOPBACK)
        with pytest.raises(UrlFetchError) as short:
            fetch_url(f"http://127.0.0.1:{server.port}/short", tmp_path / "y", LOOPBACK)
    assert err404.value.code == "generation_input_url_unreachable"
    assert short.value.code in ("generation_input_url_incomplete", "generation_input_url_unreachable")
    assert not (tmp_path / "y").exists()


def test_compressed_responses_are_refused(tmp_path: Path) -> None:
    with serving() as server, pytest.raises(UrlFetchError) as err:
        fetch_url(f"http://127.0.0.1:{server.port}/gzip", tmp_path / "x", LOOPBACK)
    assert err.value.code == "generation_input_url_encoding"


def test_sniff_hook_sees_the_head_and_can_refuse(tmp_path: Path) -> None:
    seen: list[bytes] = []

    def sniff(head: bytes) -> None:
        seen.append(head)
        if head.lstrip().lower().startswith(b"<!doctype html"):
            raise WrongTypeError("HTML is not media")

    with serving() as server:
        with pytest.raises(WrongTypeError):
            fetch_url(f"http://127.0.0.1:{server.port}/html", tmp_path / "x", LOOPBACK, sniff=sniff)
        fetch_url(f"http://127.0.0.1:{server.port}/ok", tmp_path / "y", LOOPBACK, sniff=sniff)
    assert not (tmp_path / "x").exists()
    assert seen[1] == PAYLOAD[:4096]


def test_unresolvable_host_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UrlFetchError, match="resolve"):
        fetch_url("http://does-not-exist.invalid/a.mp4", tmp_path / "x")


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    with serving() as server:
        port = server.port
    with pytest.raises(UrlFetchError) as err:
        fetch_url(f"http://127.0.0.1:{port}/ok", tmp_path / "x", LOOPBACK)
    assert err.value.code == "generation_input_url_unreachable"


def test_internationalised_names_are_sent_in_idna_form(tmp_path: Path) -> None:
    resolver = FakeResolver({"xn--bcher-kva.test": ["127.0.0.1"]})
    with serving() as server:
        result = fetch_url(f"http://bücher.test:{server.port}/host", tmp_path / "x", LOOPBACK, resolver=resolver)
    assert result.path.read_bytes() == f"xn--bcher-kva.test:{server.port}".encode()


def test_host_header_keeps_name_and_port() -> None:
    assert parse_target("http://Media.Example.com:8080/a?b=1").host_header == "media.example.com:8080"
    assert parse_target("https://example.com/a").host_header == "example.com"
    assert parse_target("http://[2606:4700::1]:81/").host_header == "[2606:4700::1]:81"


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = self_signed_cert(tmp_path_factory.mktemp("tls"), "media.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def test_https_connects_to_the_checked_address_with_sni_and_certificate_check(
        tls_context: tuple[ssl.SSLContext, Path], tmp_path: Path) -> None:
    context, cert = tls_context
    policy = FetchPolicy(allow_networks=("127.0.0.0/8",), ca_certs=str(cert))
    resolver = FakeResolver({"media.test": [["127.0.0.1"], ["169.254.169.254"]],
                             "other.test": ["127.0.0.1"]})
    with serving(tls=context) as server:
        result = fetch_url(f"https://media.test:{server.port}/host", tmp_path / "x", policy,
                           resolver=resolver)
        assert result.path.read_bytes() == f"media.test:{server.port}".encode()
        with pytest.raises(UrlFetchError) as err:  # certificate is for media.test, not other.test
            fetch_url(f"https://other.test:{server.port}/ok", tmp_path / "y", policy, resolver=resolver)
    assert err.value.code == "generation_input_url_tls_failed"
