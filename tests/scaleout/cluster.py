"""A small multi-process deployment on loopback: one API server and N ``openlipsync worker`` processes.

Used by the fault test and by ``benchmarks/throughput``. Every process is a real ``openlipsync`` command
with the scale-out URLs in its environment, exactly as on separate machines; logs go to ``workdir``.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from openlipsync.jobs.webhooks import verify_signature

SECRET_KEY = "scaleout-cluster-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """Starts, stops and kills the processes of one deployment; ``env`` holds the backend URLs."""

    env: dict[str, str]
    workdir: Path
    api_port: int = field(default_factory=free_port)
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _count: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **self.env, "OPENLIPSYNC_SECRET_KEY": SECRET_KEY,
               "OPENLIPSYNC_PUBLIC_URL": self.base_url, "PYTHONUNBUFFERED": "1",
               # webhooks go to a receiver on loopback, which the SSRF guard refuses by default
               "OPENLIPSYNC_URL_ALLOW_NETWORKS": '["127.0.0.1/32"]'}
        env.update(extra or {})
        return env

    def _spawn(self, name: str, args: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self._count += 1
        data_dir = self.workdir / f"{name}-{self._count}"
        log = open(self.workdir / f"{name}-{self._count}.log", "wb")  # noqa: SIM115 (kept open by the child)
        cmd = [sys.executable, "-m", "openlipsync.cli.main", *args, "--data-dir", str(data_dir)]
        proc = subprocess.Popen(cmd, env=self._environ(extra), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        log.close()
        return proc

    def start_api(self, timeout: float = 120.0) -> None:
        """Start ``openlipsync serve --no-worker`` and wait until ``/ready`` answers 200."""
        self.api = self._spawn("api", ["serve", "--no-worker", "--host", "127.0.0.1",
                                       "--port", str(self.api_port)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"API server exited with {self.api.returncode}; see {self.workdir}")
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("API server did not become ready")

    def stop_api(self) -> None:
        """Graceful stop (SIGTERM), as a rolling restart would do."""
        if self.api is not None:
            _terminate(self.api)
            self.api = None

    def start_worker(self, concurrency: int = 1, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = self._spawn("worker", ["worker", "--concurrency", str(concurrency)], extra_env)
        self.workers.append(proc)
        return proc

    def kill_worker(self, pid: int) -> None:
        """``kill -9`` one of this cluster's workers (never any other process)."""
        proc = next(p for p in self.workers if p.pid == pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop(self) -> None:
        self.stop_api()
        for proc in self.workers:
            if proc.poll() is None:
                _terminate(proc)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.workdir.glob("*.log")))


def _terminate(proc: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class WebhookLog:
    """What a webhook receiver got: (generation id, verified signature, body) per delivery."""

    secret: str = ""
    deliveries: list[tuple[str, bool, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_job(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        with self.lock:
            for job_id, _ok, body in self.deliveries:
                out.setdefault(job_id, []).append(body)
        return out


@contextmanager
def webhook_receiver(log: WebhookLog) -> Iterator[str]:
    """An HTTP server on loopback recording every POST; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            ok = verify_signature(log.secret, body, self.headers.get("Sync-Signature", ""))
            payload = json.loads(body)
            with log.lock:
                log.deliveries.append((str(payload.get("id")), ok, payload))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def submit(client: httpx.Client, base_url: str, api_key: str, video: Path, audio: Path, *,
           model: str = "lipsync-1.9", webhook_url: str | None = None, attempts: int = 20) -> dict[str, Any]:
    """Create a generation with uploaded files through ``/v1/generations`` (retrying 429 and 5xx)."""
    data = {"model": model}
    if webhook_url:
        data["webhook_url"] = webhook_url
    for _ in range(attempts):
        with open(video, "rb") as v, open(audio, "rb") as a:
            resp = client.post(f"{base_url}/v1/generations", headers={"Authorization": f"Bearer {api_key}"},
                               data=data, files={"video": (video.name, v, "video/mp4"),
                                                 "audio": (audio.name, a, "audio/wav")})
        if resp.status_code == 201:
            return dict(resp.json())
        if resp.status_code not in (429, 500, 502, 503):
            raise AssertionError(f"create failed: {resp.status_code} {resp.text}")
        time.sleep(float(resp.headers.get("retry-after") or 1.0))
    raise AssertionError("create kept being refused")
