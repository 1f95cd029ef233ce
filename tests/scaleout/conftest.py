"""Fixtures for the scale-out backends: real Redis and a moto S3 server on loopback.

When ``QUEUE_URL`` / ``STORAGE_URL`` point at running services (``eval "$(scripts/services.sh start)"``),
the tests use them. Otherwise they start throw-away ``redis-server`` / ``moto_server`` processes on free
loopback ports for the session, and skip only if those programs are not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://`` URL of a live Redis (QUEUE_URL's server, or one started for the session)."""
    env = os.environ.get("QUEUE_URL", "")
    if env.startswith("redis://"):
        yield env.split("?")[0]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh --test)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc)
    yield f"redis://127.0.0.1:{port}/0"
    _stop(proc)


@pytest.fixture()
def redis_queue_url(redis_base_url: str) -> str:
    """A queue URL with a queue name of its own, so tests never see each other's messages."""
    return f"{redis_base_url}?queue=t-{uuid.uuid4().hex[:10]}&namespace=olstest&heartbeat_timeout=1" \
           "&min_backoff=0.05&max_backoff=0.2&shutdown_timeout=5"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of an S3-compatible server: AWS_ENDPOINT_URL_S3's, or a moto server for the session."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if env:
        yield env
        return
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc)
    yield f"http://127.0.0.1:{port}"
    _stop(proc)


@pytest.fixture()
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh bucket on the S3 server."""
    import boto3

    name = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@dataclass(frozen=True)
class ScaleOut:
    """URLs of a running scale-out stack, each made private to one test (queue name, key prefix)."""

    database_url: str
    queue_url: str
    storage_url: str

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "QUEUE_URL": self.queue_url, "STORAGE_URL": self.storage_url}


@pytest.fixture()
def scaleout() -> ScaleOut:
    """The services of ``scripts/services.sh`` (PostgreSQL, Redis, S3), or skip when not configured."""
    db, queue, storage = (os.environ.get(k, "") for k in ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL"))
    if not (db.startswith("postgresql") and queue.startswith("redis://") and storage.startswith("s3://")):
        pytest.skip("needs the scale-out services: eval \"$(scripts/services.sh start)\"")
    tag = uuid.uuid4().hex[:10]
    sep = "&" if "?" in queue else "?"
    bucket_and_prefix, _, query = storage.partition("?")
    return ScaleOut(
        database_url=db,
        # short heartbeat timeout: a killed worker's messages come back within seconds
        queue_url=f"{queue}{sep}queue=jobs-{tag}&heartbeat_timeout=3",
        storage_url=f"{bucket_and_prefix.rstrip('/')}/t-{tag}" + (f"?{query}" if query else ""),
    )
