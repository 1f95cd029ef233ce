"""Streamed decoding: frames come one at a time from an ffmpeg pipe, never the whole video in memory."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from openlipsync.errors import MediaError
from openlipsync.media._ffmpeg import LOCAL_ONLY, binary
from openlipsync.media.probe import MediaInfo, probe
from openlipsync.media.yuv import YuvFrame, frame_bytes
from openlipsync.prefetch import prefetched

SWS_FLAGS = "accurate_rnd+full_chroma_int+bitexact"
READ_AHEAD = 4  # frames decoded ahead of the caller


def iter_frames(source: str | Path | MediaInfo, *, start_frame: int = 0) -> Iterator[np.ndarray]:
    """Yield RGB frames (``H×W×3 uint8``, C-contiguous) of a video or the single frame of an image.

    Frames are decoded as stored (no frame-rate conversion) so frame ``k`` is the ``k``-th stored frame,
    except for a stream that skips frames (``MediaInfo.variable_rate``), which is decoded onto a constant
    rate; ``start_frame`` skips by frame-accurate seeking on the decoded stream.
    """
    info = source if isinstance(source, MediaInfo) else probe(source)
    w, h = info.width, info.height
    vf = f"scale=w={w}:h={h}:flags={SWS_FLAGS}:in_color_matrix={info.color_matrix},format=rgb24"
    for buf in _raw_frames(info, vf, "rgb24", w * h * 3, start_frame):
        yield buf.reshape(h, w, 3)


def iter_yuv_frames(source: str | Path | MediaInfo, *, start_frame: int = 0) -> Iterator[YuvFrame]:
    """Like ``iter_frames`` but yields the frames as yuv420p (limited range, the source's own matrix):
    no colour conversion at all for the usual yuv420p input (see ``media.yuv``)."""
    info = source if isinstance(source, MediaInfo) else probe(source)
    w, h, m = info.width, info.height, info.color_matrix
    vf = f"scale=w={w}:h={h}:flags={SWS_FLAGS}:in_color_matrix={m}:out_color_matrix={m}:out_range=tv," \
         "format=yuv420p"
    for buf in _raw_frames(info, vf, "yuv420p", frame_bytes(w, h), start_frame):
        yield YuvFrame(buf, w, h)


def _raw_frames(info: MediaInfo, vf: str, pix_fmt: str, size: int, start_frame: int) -> Iterator[np.ndarray]:
    """Raw frame buffers (``(size,) uint8``, each its own array) from an ffmpeg rawvideo pipe."""
    if start_frame > 0:
        vf = f"select=gte(n\\,{start_frame})," + vf
    limit = None
    if info.variable_rate:
        # onto the constant-rate grid the probe chose (MediaInfo.variable_rate); the fps filter gives the
        # last stored frame a slot only when a frame follows it, hence one clone at the end (and the cap)
        vf = f"tpad=stop=1:stop_mode=clone,fps={Fraction(info.fps).limit_denominator(1001)}," + vf
        limit = max(0, info.frame_count - start_frame)
    argv = [binary("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", *LOCAL_ONLY, "-i", str(info.path),
            "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-vf", vf,
            "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]
    if info.is_image:
        argv[argv.index("-fps_mode"):argv.index("-fps_mode") + 2] = ["-frames:v", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None
    # A reader thread keeps a few frames decoded ahead: the pipe alone holds 64 KiB, so without it
    # ffmpeg would wait for the caller after every frame instead of decoding on the other core.
    frames = prefetched(_read_frames(proc.stdout, size), READ_AHEAD)
    count = 0
    try:
        for buf in frames:
            if limit is not None and count >= limit:
                break
            count += 1
            yield buf
    finally:
        if proc.poll() is None:
            proc.kill()
        frames.close()  # type: ignore[attr-defined]
        proc.stdout.close()
        proc.wait()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    if count == 0 and start_frame == 0:
        raise MediaError(f"could not decode any frame from {info.path.name}", stderr=stderr)


def _read_frames(stream: object, size: int) -> Iterator[np.ndarray]:
    while True:
        buf = np.empty(size, np.uint8)
        try:
            if not _read_exactly(stream, buf.data):
                return
        except (OSError, ValueError):  # the pipe was closed under us: the consumer stopped
            return
        yield buf


def _read_exactly(stream: object, view: memoryview) -> bool:
    """Fill ``view`` from an unbuffered pipe; False at end of stream (a partial last frame is dropped)."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            return False
        got += n
    return True


def read_image(path: str | Path) -> np.ndarray:
    """The first frame of an image (or video) as RGB."""
    return next(iter_frames(path))
