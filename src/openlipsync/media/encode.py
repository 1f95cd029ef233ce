"""Streamed encoding: RGB frames are piped to ffmpeg/libx264 and muxed with the new audio track."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from pathlib import Path
from types import TracebackType

import numpy as np

from openlipsync.errors import MediaError
from openlipsync.media._ffmpeg import LOCAL_ONLY, binary
from openlipsync.media.decode import SWS_FLAGS
from openlipsync.media.yuv import YuvFrame


class FrameWriter:
    """Encode frames to H.264 (yuv420p) and mux ``audio`` (AAC) into ``output``.

    Frames are RGB arrays, or ``YuvFrame``s when ``yuv=True`` (then no colour conversion runs: the
    engine's path). A low CRF keeps the unavoidable re-encode loss outside the edited region small
    (SPEC §4: PSNR ≥ 45 dB). Frames reach ffmpeg from a feeder thread through a short queue, so the
    caller keeps working while the pipe drains; a ``YuvFrame`` must not be modified after ``write``.
    """

    QUEUE_FRAMES = 4

    def __init__(self, output: str | Path, *, width: int, height: int, fps: float,
                 audio: str | Path | None = None, crf: int = 18, preset: str = "veryfast",
                 threads: int = 0, color_matrix: str = "bt601", yuv: bool = False) -> None:
        self.output = Path(output)
        self.width, self.height, self.fps, self.yuv = width, height, fps, yuv
        self.frames_written = 0
        # yuv420p needs even dimensions; pad by one pixel rather than rescale (keeps native pixels).
        pad = "" if width % 2 == 0 and height % 2 == 0 else ",pad=ceil(iw/2)*2:ceil(ih/2)*2"
        argv = [binary("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "rawvideo", "-pix_fmt", "yuv420p" if yuv else "rgb24", "-s", f"{width}x{height}",
                "-r", f"{fps:.6f}", "-i", "pipe:0"]
        if audio is not None:
            argv += [*LOCAL_ONLY, "-i", str(audio)]
        argv += ["-map", "0:v:0"]
        if audio is not None:
            argv += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"]
        # Encode with the matrix the input was decoded with; tag it only when it is unambiguous.
        convert = "" if yuv else f"scale=out_color_matrix={color_matrix}:out_range=tv:flags={SWS_FLAGS},"
        argv += ["-vf", f"{convert}format=yuv420p{pad}", "-c:v", "libx264", "-preset", preset,
                 "-crf", str(crf), "-threads", str(threads), "-color_range", "tv"]
        if color_matrix == "bt709":
            argv += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
        argv += ["-movflags", "+faststart", str(self.output)]
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stderr = b""
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self._queue: queue.Queue[memoryview | None] = queue.Queue(self.QUEUE_FRAMES)
        self._broken = threading.Event()
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _drain(self) -> None:
        assert self._proc.stderr is not None
        self._stderr = self._proc.stderr.read()

    def _feed(self) -> None:
        assert self._proc.stdin is not None
        while (data := self._queue.get()) is not None:
            if self._broken.is_set():
                continue  # keep draining so a blocked ``write`` returns
            try:
                self._proc.stdin.write(data)
            except (BrokenPipeError, ValueError):
                self._broken.set()

    def _stop_feeder(self) -> None:
        if self._feeder.is_alive():
            self._queue.put(None)
            self._feeder.join()

    def _failed(self) -> MediaError:
        self._stop_feeder()
        self._proc.wait()
        self._reader.join()
        return MediaError("ffmpeg stopped accepting frames", stderr=self._stderr.decode(errors="replace"))

    def write(self, frame: np.ndarray | YuvFrame) -> None:
        """Append one frame: ``H×W×3 uint8`` RGB, or a ``YuvFrame`` of this size when ``yuv=True``."""
        if self.yuv:
            if not isinstance(frame, YuvFrame) or (frame.width, frame.height) != (self.width, self.height):
                raise ValueError(f"expected a {self.width}x{self.height} YuvFrame, got {type(frame).__name__}")
            data = frame.data.data
        else:
            if not isinstance(frame, np.ndarray) or frame.shape != (self.height, self.width, 3) \
                    or frame.dtype != np.uint8:
                raise ValueError(f"frame has shape {getattr(frame, 'shape', None)}, expected "
                                 f"({self.height}, {self.width}, 3) uint8")
            data = memoryview(frame.tobytes())  # a copy: callers may reuse their array
        if self._broken.is_set():
            raise self._failed()
        self._queue.put(data)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; raise MediaError if ffmpeg failed."""
        self._stop_feeder()
        if self._broken.is_set():
            raise self._failed()
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        code = self._proc.wait()
        self._reader.join()
        if code != 0:
            raise MediaError("encoding failed", stderr=self._stderr.decode(errors="replace"))

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial output."""
        self._proc.kill()
        self._stop_feeder()
        self._proc.wait()
        self._reader.join()
        self.output.unlink(missing_ok=True)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
