"""A live uvicorn server on loopback, in a thread, with the embedded worker (for real-client tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from openlipsync.api import create_app
from openlipsync.jobs.platform import Platform
from tests.api.support import free_port


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    platform: Platform


@contextmanager
def live_server(platform: Platform, *, concurrency: int = 1) -> Iterator[LiveServer]:
    port = free_port()
    app = create_app(platform.settings, platform=platform, embedded_worker=True, worker_concurrency=concurrency,
                     studio=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    assert httpx.get(f"{base}/health").status_code == 200
    try:
        yield LiveServer(base, platform)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
