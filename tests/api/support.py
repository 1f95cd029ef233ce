"""Helpers shared by the platform tests (api, jobs): settings per backend, tiny servers, schema checks.

The backends come from the environment, so the same tests run embedded (SQLite, local queue, local
files; the default) or scale-out (``DATABASE_URL``/``QUEUE_URL``/``STORAGE_URL`` pointing at PostgreSQL,
Redis and S3). Every test works in its own tenant, so a shared database never mixes their data.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import http.server
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft7Validator, FormatChecker

from openlipsync.config import Settings

SCHEMA_PATH = Path(__file__).with_name("seed-generation.schema.json")


def backend_env() -> dict[str, str]:
    """The backend URLs given by the environment (empty: embedded defaults)."""
    return {k.lower(): os.environ[k] for k in ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL") if os.environ.get(k)}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(data_dir=data_dir, url_allow_networks=["127.0.0.1/32"], lease_seconds=5.0,
                                  heartbeat_seconds=0.5, sweep_interval_seconds=0.5, pending_requeue_seconds=30.0,
                                  webhook_backoff_seconds=0.2, secret_key="test-secret-key-0123456789")
    # shared servers (PostgreSQL, Redis, S3) get a schema / queue / prefix of this data dir's own
    from tests.scaleout.isolation import private_backends

    values.update(private_backends(backend_env(), str(data_dir)))
    values.update(overrides)
    return Settings(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# --- seed schema ------------------------------------------------------------------------------------


def _nullable_to_union(node: Any) -> Any:
    """OpenAPI ``nullable: true`` → JSON Schema ``type: [T, "null"]`` (SPEC §1); recursive."""
    if isinstance(node, dict):
        node = {k: _nullable_to_union(v) for k, v in node.items()}
        if node.pop("nullable", False) is True:
            t = node.get("type")
            node["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        return node
    if isinstance(node, list):
        return [_nullable_to_union(v) for v in node]
    return node


@functools.cache
def seed_validator() -> Draft7Validator:
    schema = _nullable_to_union(copy.deepcopy(json.loads(SCHEMA_PATH.read_text())))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=FormatChecker())


def assert_seed_valid(obj: dict[str, Any]) -> None:
    """Validate ``obj`` against the seed schema (draft-07, formats checked); show every error."""
    assert FormatChecker().conforms("not a uri", "uri") is False, "uri format checking needs rfc3986-validator"
    errors = sorted(seed_validator().iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        raise jsonschema.ValidationError("; ".join(f"{list(e.path)}: {e.message}" for e in errors))


# --- tiny HTTP servers on loopback ----------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class WebhookReceiver:
    """Records POSTs; answers with the next status from ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_sync_signature(secret: str, header: str, raw_body: bytes, tolerance: float = 300) -> bool:
    """The documented receiver algorithm (reference §9), written independently of the server code:
    parse the JSON, re-serialise it compactly, HMAC-SHA256 ``f"{t}.{compact}"`` with the secret."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    t = int(parts["t"])
    compact = json.dumps(json.loads(raw_body), separators=(",", ":"))
    expected = hmac.new(secret.encode(), f"{t}.{compact}".encode(), hashlib.sha256).hexdigest()
    return abs(time.time() - t) <= tolerance and hmac.compare_digest(expected, parts["v1"])


# --- engine stand-ins for platform tests ------------------------------------------------------------------


def fast_runner(video: Path, audio: Path | None, output: Path, options: Any, *, progress: Callable[[str, float], None],
                workdir: Any = None) -> Any:
    """Stand-in for ``openlipsync.lipsync`` in tests about the platform, not the engine: it plans the same
    output timeline (so durations and costs are the real ones) and encodes the input re-timed with the
    new audio using ffmpeg, without editing the mouth. Calls ``progress`` so cancellation works."""
    import subprocess

    from openlipsync.media.probe import probe
    from openlipsync.media.timeline import plan_timeline
    from openlipsync.options import LipSyncResult, SyncReport

    progress("probe", 0.0)
    visual, sound = probe(video), probe(audio) if audio is not None else None
    seconds = sound.duration if sound is not None and sound.duration else visual.video_duration
    tl = plan_timeline(visual.frame_count, visual.fps, seconds or 0.0, options.sync_mode, is_image=visual.is_image)
    progress("render", 0.3)
    src = ["-loop", "1", "-framerate", f"{tl.fps:g}", "-i", str(video)] if visual.is_image else \
        ["-stream_loop", "-1", "-i", str(video)]
    aud = ["-i", str(audio)] if audio is not None else ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono"]
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *src, *aud, "-map", "0:v:0", "-map", "1:a:0",
            "-af", "apad", "-frames:v", str(tl.frame_count), "-t", f"{tl.duration:.6f}", "-r", f"{tl.fps:g}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:a", "aac", str(output)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    progress("encode", 0.9)
    report = SyncReport(None, 0.0, tl.frame_count, 0, tl.frame_count, {"test_stand_in": tl.frame_count})
    return LipSyncResult(Path(output), tl.duration, tl.frame_count, tl.fps, visual.width, visual.height, report)


class SlowRunner:
    """Reports progress every ``step`` seconds for ``seconds``, then delegates to ``fast_runner``; counts runs."""

    def __init__(self, seconds: float, step: float = 0.05) -> None:
        self.seconds, self.step = seconds, step
        self.started: list[str] = []
        self.finished: list[str] = []

    def __call__(self, video: Path, audio: Path | None, output: Path, options: Any, *,
                 progress: Callable[[str, float], None], workdir: Any = None) -> Any:
        self.started.append(str(output))
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.seconds:
            progress("render", min(0.9, (time.monotonic() - t0) / self.seconds))
            time.sleep(self.step)
        result = fast_runner(video, audio, output, options, progress=progress, workdir=workdir)
        self.finished.append(str(output))
        return result
