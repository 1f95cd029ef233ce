"""ffmpeg as the media layer runs it only reads local files and pipes: no network input, ever."""

from __future__ import annotations

import http.server
import subprocess
import threading
from pathlib import Path

import pytest

from openlipsync.errors import LipSyncError
from openlipsync.media import _ffmpeg

pytestmark = pytest.mark.timeout(60)


class _Recorder(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Recorder.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


def _segment_server(tmp_path: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=64x64:r=25",
                    "-t", "1", "-f", "mpegts", str(tmp_path / "seg.ts")], check=True, timeout=60)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Recorder(*a, directory=str(tmp_path)))  # type: ignore[misc]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/seg.ts", server


def test_media_layer_never_opens_a_network_input(tmp_path: Path) -> None:
    url, server = _segment_server(tmp_path)
    try:
        # control: plain ffprobe opens the URL (so the checks below would see a fetch)
        subprocess.run(["ffprobe", "-v", "error", url], capture_output=True, timeout=60)
        assert _Recorder.requests, "control: ffprobe without a whitelist should have fetched the URL"
        _Recorder.requests.clear()
        with pytest.raises(LipSyncError):
            _ffmpeg.run(["-i", url, "-f", "null", "-"], what="decoding a URL")
        assert _Recorder.requests == []
    finally:
        server.shutdown()
        server.server_close()


def test_local_inputs_puts_the_whitelist_before_every_input() -> None:
    args = _ffmpeg.local_inputs(["-f", "lavfi", "-i", "anullsrc", "-i", "a.wav", "out.wav"])
    assert args == ["-f", "lavfi", "-protocol_whitelist", "file,pipe", "-i", "anullsrc",
                    "-protocol_whitelist", "file,pipe", "-i", "a.wav", "out.wav"]
