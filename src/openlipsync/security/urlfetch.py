"""SSRF-safe fetching of input URLs to a local file.

Rules (docs/SECURITY.md has the table):

- http and https only; no credentials in the URL; port 1..65535.
- The host is resolved **once** per hop; every resolved address must be public (not loopback, private,
  link-local, multicast, reserved, unspecified, CGNAT, documentation, or a cloud metadata address),
  including IPv4 addresses embedded in IPv6 (v4-mapped, 6to4, NAT64). The connection then goes to the
  checked address, with the original ``Host`` header and TLS SNI / certificate check on the hostname, so
  a DNS answer that changes between check and connect (DNS rebinding) cannot redirect the request.
- Redirects are followed by hand (at most ``max_redirects``) and every hop is checked again.
- The body is streamed to disk; the download stops past ``max_bytes`` or after ``total_timeout`` seconds
  (a watchdog shuts the socket, so a server dribbling bytes cannot hold a worker).
- An allow-list (CIDRs and host names) lets self-hosters fetch from internal addresses on purpose.
  Metadata addresses stay forbidden even when an allowed CIDR covers them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
import urllib3.exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

from openlipsync.errors import InputLimitError, UrlFetchError, UrlForbiddenError

log = logging.getLogger("openlipsync.security")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
Sniffer = Callable[[bytes], None]

# Cloud metadata / host-agent endpoints: never fetched, whatever the allow-list says.
METADATA_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",      # AWS/GCP/Azure/OpenStack IMDS 169.254.169.254, ECS 169.254.170.2
    "fd00:ec2::/32",        # AWS IMDS over IPv6 (fd00:ec2::254)
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "168.63.129.16/32",    # Azure WireServer (a public address!)
))
# Not "global" in Python's sense or special-purpose anyway; checked on top of ``is_global``.
_EXTRA_BLOCKED = tuple(ipaddress.ip_network(n) for n in (
    "100.64.0.0/10",   # CGNAT (RFC 6598)
    "192.0.0.0/24",    # IETF protocol assignments
    "198.18.0.0/15",   # benchmarking
    "fec0::/10",       # deprecated site-local
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = {301, 302, 303, 307, 308}
_SNIFF_BYTES = 4096
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and allow-list of the fetcher; the platform's Settings fill it from configuration."""

    max_bytes: int = 1024 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 300.0
    max_redirects: int = 5
    allow_networks: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    ca_certs: str | None = None
    user_agent: str = "openlipsync-fetch/0.1"

    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.allow_networks)


@dataclass(frozen=True)
class FetchResult:
    """What was written to ``path``."""

    path: Path
    size_bytes: int
    final_url: str
    content_type: str | None
    redirects: int
    addresses: tuple[str, ...] = field(default=())


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of ``host`` from the system resolver (A and AAAA)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlFetchError(f"cannot resolve host {host!r}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one (v4-mapped, 6to4, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_metadata_address(ip: IPAddress) -> bool:
    inner = embedded_ipv4(ip)
    return any(ip in net for net in METADATA_NETWORKS) or (
        inner is not None and any(inner in net for net in METADATA_NETWORKS))


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (and the same for any embedded IPv4)."""
    inner = embedded_ipv4(ip)
    if inner is not None:  # v4-mapped / 6to4 / NAT64: what matters is the IPv4 address it reaches
        return is_public_address(inner)
    if (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback or ip.is_link_local
            or ip.is_private or not ip.is_global):
        return False
    return not any(ip in net for net in _EXTRA_BLOCKED) and not is_metadata_address(ip)


def check_address(address: str, host: str, policy: FetchPolicy) -> IPAddress:
    """Parse ``address`` and raise ``UrlForbiddenError`` unless the policy allows connecting to it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if is_metadata_address(ip):
        raise UrlForbiddenError(f"{host}: address {ip} is a cloud metadata endpoint")
    if is_public_address(ip) or _host_allowed(host, policy):
        return ip
    if any(ip in net or (embedded_ipv4(ip) or ip) in net for net in policy.allowed_networks()):
        return ip
    raise UrlForbiddenError(f"{host}: address {ip} is not a public address")


def _host_allowed(host: str, policy: FetchPolicy) -> bool:
    host = host.lower().rstrip(".")
    for pattern in policy.allow_hosts:
        pattern = pattern.lower().rstrip(".")
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    host_header: str


def parse_target(url: str) -> _Target:
    """Validate scheme, credentials, host and port of ``url``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlForbiddenError(f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlForbiddenError(f"URL scheme {scheme or '(none)'!r} is not allowed; use http or https")
    if parts.username is not None or parts.password is not None:
        raise UrlForbiddenError("credentials in URLs are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlForbiddenError("URL has no host")
    if any(c in host for c in " \t\r\n\\"):
        raise UrlForbiddenError("URL host contains invalid characters")
    if not host.isascii():  # internationalised names go on the wire (Host, SNI, DNS) in their IDNA form
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UrlForbiddenError("URL host is not a valid internationalised name") from exc
    default = 443 if scheme == "https" else 80
    port = default if port is None else port
    if not 0 < port < 65536:
        raise UrlForbiddenError(f"URL port {port} is not valid")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    shown = f"[{host}]" if ":" in host else host
    return _Target(scheme, host, port, path, shown if port == default else f"{shown}:{port}")


def check_url_shape(url: str, policy: FetchPolicy | None = None) -> None:
    """Checks that need no DNS (scheme, credentials, port, a literal IP address): for URLs stored now and
    used later, such as webhooks, whose names are resolved and checked again when they are used."""
    target = parse_target(url)
    literal = _literal(target.host)
    if literal is not None:
        check_address(literal, target.host, policy or FetchPolicy())


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class _Watchdog:
    """Shuts every socket it was given once the deadline passes (bounds slow-drip servers)."""

    def __init__(self, seconds: float) -> None:
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.fired:
                _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._socks:
                _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTP(HTTPConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        self._watchdog.watch(self.sock)


class _WatchedHTTPS(HTTPSConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        # Register the raw TCP socket before the TLS handshake so a stalled handshake is bounded too.
        sock = super()._new_conn()
        self._watchdog.watch(sock)
        return sock


class SafeFetcher:
    """Fetch URLs under a ``FetchPolicy``; ``resolver`` is injectable for tests."""

    def __init__(self, policy: FetchPolicy | None = None, *, resolver: Resolver | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self.resolver = resolver or system_resolver

    def resolve_checked(self, target: _Target) -> IPAddress:
        """Resolve once, check every address, return the one to connect to."""
        literal = _literal(target.host)
        addresses = [literal] if literal else list(self.resolver(target.host, target.port))
        if not addresses:
            raise UrlFetchError(f"cannot resolve host {target.host!r}")
        checked = [check_address(a, target.host, self.policy) for a in addresses]
        return checked[0]

    def fetch(self, url: str, dest: str | Path, *, sniff: Sniffer | None = None) -> FetchResult:
        """Download ``url`` into ``dest``; raise an ``InputError`` subclass on any refusal or failure."""
        dest = Path(dest)
        deadline = time.monotonic() + self.policy.total_timeout
        watchdog = _Watchdog(self.policy.total_timeout)
        try:
            return self._follow(url, dest, deadline, watchdog, sniff)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        finally:
            watchdog.cancel()

    def _follow(self, url: str, dest: Path, deadline: float, watchdog: _Watchdog,
                sniff: Sniffer | None) -> FetchResult:
        addresses: list[str] = []
        for hop in range(self.policy.max_redirects + 1):
            target = parse_target(url)
            ip = self.resolve_checked(target)
            addresses.append(str(ip))
            log.debug("fetch hop %d: %s -> %s", hop, target.host, ip)
            pool = self._pool(target, ip, watchdog)
            response = self._request(pool, target, deadline, watchdog)
            try:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    url = urljoin(url, location)
                    continue
                if response.status >= 400:
                    raise UrlFetchError(f"{target.host} answered HTTP {response.status}")
                if not 200 <= response.status < 300:
                    raise UrlFetchError(f"{target.host} answered HTTP {response.status} without content")
                size = self._stream(response, dest, deadline, watchdog, sniff)
                return FetchResult(dest, size, url, response.headers.get("Content-Type"), hop,
                                   tuple(addresses))
            finally:
                response.close()
                pool.close()
        raise UrlFetchError(f"too many redirects (more than {self.policy.max_redirects})",
                            code="generation_input_url_redirect_loop")

    def send(self, method: str, url: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
             max_response_bytes: int = 64 * 1024) -> tuple[int, dict[str, str], bytes]:
        """One checked request without following redirects (webhooks): (status, headers, capped body)."""
        target = parse_target(url)
        ip = self.resolve_checked(target)
        watchdog = _Watchdog(self.policy.total_timeout)
        pool = self._pool(target, ip, watchdog)
        timeout = urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout)
        sent = {"User-Agent": self.policy.user_agent, **(headers or {}), "Host": target.host_header}
        try:
            response = pool.urlopen(method, target.path, body=body, headers=sent, redirect=False, retries=False,
                                    timeout=timeout, preload_content=False, decode_content=False,
                                    assert_same_host=False)
            try:
                content = response.read(max_response_bytes)
                return response.status, dict(response.headers), content
            finally:
                response.close()
        except Urllib3Error as exc:
            raise self._transport_error(target, exc, watchdog) from exc
        finally:
            watchdog.cancel()
            pool.close()

    def _request(self, pool: urllib3.HTTPConnectionPool, target: _Target, deadline: float,
                 watchdog: _Watchdog) -> urllib3.BaseHTTPResponse:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UrlFetchError("download time limit reached", code="generation_input_url_timeout")
        timeout = urllib3.Timeout(connect=min(self.policy.connect_timeout, remaining),
                                  read=min(self.policy.read_timeout, remaining))
        headers = {"Host": target.host_header, "User-Agent": self.policy.user_agent,
                   "Accept-Encoding": "identity", "Accept": "*/*"}
        try:
            return pool.urlopen("GET", target.path, headers=headers, redirect=False, retries=False,
                                timeout=timeout, preload_content=False, decode_content=False,
                                assert_same_host=False)
        except Urllib3Error as exc:
            pool.close()
            raise self._transport_error(target, exc, watchdog) from exc

    def _pool(self, target: _Target, ip: IPAddress, watchdog: _Watchdog) -> urllib3.HTTPConnectionPool:
        if target.scheme == "http":
            pool = urllib3.HTTPConnectionPool(str(ip), target.port, maxsize=1,
                                              watchdog=watchdog)
            pool.ConnectionCls = _WatchedHTTP
            return pool
        sni = None if _literal(target.host) else target.host
        pool = urllib3.HTTPSConnectionPool(
            str(ip), target.port, maxsize=1, cert_reqs="CERT_REQUIRED",
            ca_certs=self.policy.ca_certs, server_hostname=sni, assert_hostname=target.host,
            watchdog=watchdog)
        pool.ConnectionCls = _WatchedHTTPS
        return pool

    def _transport_error(self, target: _Target, exc: Exception, watchdog: _Watchdog) -> UrlFetchError:
        if watchdog.fired:
            return UrlFetchError("download time limit reached", code="generation_input_url_timeout")
        if isinstance(exc, urllib3.exceptions.NewConnectionError):  # (a TimeoutError subclass in urllib3)
            return UrlFetchError(f"{target.host}: cannot connect ({exc.__class__.__name__})")
        if isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
            return UrlFetchError(f"{target.host}: connection timed out", code="generation_input_url_timeout")
        if isinstance(exc, ssl.SSLError | ssl.CertificateError | urllib3.exceptions.SSLError):
            return UrlFetchError(f"{target.host}: TLS verification failed",
                                 code="generation_input_url_tls_failed")
        return UrlFetchError(f"{target.host}: cannot connect ({type(exc).__name__})")

    def _stream(self, response: urllib3.BaseHTTPResponse, dest: Path, deadline: float,
                watchdog: _Watchdog, sniff: Sniffer | None) -> int:
        encoding = (response.headers.get("Content-Encoding") or "identity").lower()
        if encoding not in ("identity", ""):
            raise UrlFetchError(f"compressed responses ({encoding}) are not accepted",
                                code="generation_input_url_encoding")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise self._too_large()
        size, head, sniffed = 0, b"", sniff is None
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            while True:
                try:
                    chunk = response.read1(_CHUNK)  # type: ignore[attr-defined]
                except (Urllib3Error, OSError) as exc:
                    raise self._transport_error(_Target("", "server", 0, "", ""), exc, watchdog) from exc
                if watchdog.fired or time.monotonic() > deadline:
                    raise UrlFetchError("download time limit reached", code="generation_input_url_timeout")
                if not chunk:
                    break
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise self._too_large()
                if not sniffed:
                    head += chunk[: _SNIFF_BYTES - len(head)]
                    if len(head) >= _SNIFF_BYTES:
                        sniff(head)  # type: ignore[misc]
                        sniffed = True
                out.write(chunk)
        if not sniffed:
            sniff(head)  # type: ignore[misc]
        if declared and declared.isdigit() and size < int(declared):
            raise UrlFetchError(f"download ended early ({size} of {declared} bytes)",
                                code="generation_input_url_incomplete")
        return size

    def _too_large(self) -> InputLimitError:
        return InputLimitError(f"download is larger than the limit of {self.policy.max_bytes} bytes",
                               code="generation_input_too_large")


def fetch_url(url: str, dest: str | Path, policy: FetchPolicy | None = None, *,
              resolver: Resolver | None = None, sniff: Sniffer | None = None) -> FetchResult:
    """Download ``url`` to ``dest`` under ``policy`` (see the module docstring for the rules)."""
    return SafeFetcher(policy, resolver=resolver).fetch(url, dest, sniff=sniff)
