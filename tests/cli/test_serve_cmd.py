"""``openlipsync serve``: one command starts API + docs + worker and prints a first key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.support import free_port, wait_until


def test_serve_starts_everything_and_prints_a_first_key(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "openlipsync.cli.main", "serve", "--port", str(port),
                                 "--data-dir", str(tmp_path / "data")], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return httpx.get(f"{base}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=120, interval=0.3)
        key = next(line.split()[-1] for line in log.read_text().splitlines() if "API key:" in line)
        assert httpx.get(f"{base}/v2/models", headers={"x-api-key": key}).status_code == 200
        assert httpx.get(f"{base}/v2/models").status_code == 401
        assert httpx.get(f"{base}/docs").status_code == 200
        assert "workers: 1" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()[-2000:]
    assert "Application shutdown complete" in log.read_text()
