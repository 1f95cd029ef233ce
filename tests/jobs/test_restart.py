"""Stop the server while one job is processing and one is queued; after a restart both complete,
none is stuck, and none is run to completion twice (SPEC §7 durability)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import create_key
from openlipsync.storage import tenant_key
from tests.api.support import free_port, make_settings, wait_until

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log, self.port = data_dir, log, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.jobs.restart_server", str(self.data_dir),
                                      str(self.port), str(self.log)], cwd=ROOT, env=dict(os.environ))

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "server exited"
            try:
                return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=120, interval=0.2)

    def stop(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    s = ServerProcess(tmp_path / "data", tmp_path / "runs.log")
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.stop(signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_jobs_survive_a_server_restart(server: ServerProcess, tiny_dir: Path, sig: int) -> None:
    settings = make_settings(server.data_dir)
    platform = Platform.build(settings)
    key = create_key(platform.db, "restart")
    headers = {"Authorization": f"Bearer {key.key}"}
    server.start()

    def create() -> str:
        with open(tiny_dir / "face.mp4", "rb") as v, open(tiny_dir / "hello.wav", "rb") as a:
            r = httpx.post(f"{server.base}/v1/generations", headers=headers, files={"video": v, "audio": a},
                           timeout=60)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def get(job_id: str) -> dict:
        return dict(httpx.get(f"{server.base}/v1/generations/{job_id}", headers=headers, timeout=30).json())

    running, queued = create(), create()
    wait_until(lambda: get(running)["progress"]["percent"] > 0, timeout=120)
    assert get(queued)["status"] == "pending"
    server.stop(sig)
    assert server.proc is not None and server.proc.returncode is not None

    server.start()
    for job_id in (running, queued):
        wait_until(lambda j=job_id: get(j)["status"] in ("completed", "failed"), timeout=180, interval=0.3)
    jobs = {j: get(j) for j in (running, queued)}
    assert all(g["status"] == "completed" and g["error"] is None for g in jobs.values()), jobs
    runs = Counter(tuple(line.split()) for line in server.log.read_text().splitlines())
    for job_id in (running, queued):
        assert runs[("finish", job_id[:8])] == 1, runs  # completed exactly once
    assert runs[("start", running[:8])] == 2 and runs[("start", queued[:8])] == 1
    # killed: the lost attempt counts; terminated: the job was handed back and the attempt refunded
    assert jobs[running]["attempts"] == (2 if sig == signal.SIGKILL else 1)
    assert jobs[queued]["attempts"] == 1
    for job_id in (running, queued):  # one output file per job: the interrupted attempt stored nothing
        assert platform.storage.delete_prefix(tenant_key(key.tenant_id, "outputs", job_id)) == 1
    server.stop(signal.SIGTERM)
    platform.close()
