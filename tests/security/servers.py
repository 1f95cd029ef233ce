"""A small local HTTP(S) server whose paths misbehave on purpose (redirects, drips, lies)."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAYLOAD = bytes(range(256)) * 64  # 16 KiB of known bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.seen.append({"path": parts.path, "host": self.headers.get("Host")})  # type: ignore[attr-defined]
        route = getattr(self, "_r_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self._send(404, b"not found")
        else:
            route(query)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        self.server.seen.append({"path": parts.path, "host": self.headers.get("Host"),  # type: ignore[attr-defined]
                                 "body": body, "signature": self.headers.get("Sync-Signature")})
        if parts.path == "/redirect":
            self._send(307, b"", Location="http://169.254.169.254/")
        else:
            self._send(200, b"ok" * 100_000)

    def _send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _r_ok(self, q: dict[str, str]) -> None:
        self._send(200, PAYLOAD, Content_Type="application/octet-stream")

    def _r_host(self, q: dict[str, str]) -> None:
        self._send(200, (self.headers.get("Host") or "").encode())

    def _r_redirect(self, q: dict[str, str]) -> None:
        self._send(int(q.get("code", "302")), b"", Location=q["to"])

    def _r_loop(self, q: dict[str, str]) -> None:
        self._send(302, b"", Location="/loop")

    def _r_big(self, q: dict[str, str]) -> None:
        self._send(200, b"x" * int(q["n"]))

    def _r_chunked(self, q: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(int(q["chunks"])):
            self.wfile.write(b"4000\r\n" + b"y" * 0x4000 + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _r_drip(self, q: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(1000):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(float(q.get("every", "0.1")))

    def _r_stall(self, q: dict[str, str]) -> None:
        time.sleep(float(q.get("seconds", "3")))
        with contextlib.suppress(OSError):
            self._send(200, b"late")

    def _r_short(self, q: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"only ten b")
        self.close_connection = True

    def _r_gzip(self, q: dict[str, str]) -> None:
        self._send(200, b"\x1f\x8b" + b"\0" * 30, Content_Encoding="gzip")

    def _r_html(self, q: dict[str, str]) -> None:
        self._send(200, b"<!doctype html><html><body>hello</body></html>", Content_Type="text/html")


class LocalServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 with a list of the requests it saw."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.seen = []  # type: ignore[attr-defined]
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def seen(self) -> list[dict[str, str]]:
        return self.httpd.seen  # type: ignore[attr-defined,no-any-return]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    with LocalServer(tls) as server:
        yield server


def self_signed_cert(directory: Path, hostname: str) -> tuple[Path, Path]:
    """A throwaway certificate for ``hostname`` made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={hostname}",
         "-addext", f"subjectAltName=DNS:{hostname}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key
