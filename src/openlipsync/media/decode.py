"""Streamed decoding: frames come one at a time from an ffmpeg pipe, never the whole video in memory."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from openlipsync.errors import MediaError
from openlipsync.media._ffmpeg import LOCAL_ONLY, binary
from openlipsync.media.probe import MediaInfo, probe

SWS_FLAGS = "accurate_rnd+full_chroma_int+bitexact"


def iter_frames(source: str | Path | MediaInfo, *, start_frame: int = 0) -> Iterator[np.ndarray]:
    """Yield RGB frames (``H×W×3 uint8``, C-contiguous) of a video or the single frame of an image.

    Frames are decoded as stored (no frame-rate conversion) so frame ``k`` is the ``k``-th stored frame;
    ``start_frame`` skips by frame-accurate seeking on the decoded stream.
    """
    info = source if isinstance(source, MediaInfo) else probe(source)
    w, h = info.width, info.height
    frame_bytes = w * h * 3
    vf = f"scale=w={w}:h={h}:flags={SWS_FLAGS}:in_color_matrix={info.color_matrix},format=rgb24"
    if start_frame > 0:
        vf = f"select=gte(n\\,{start_frame})," + vf
    argv = [binary("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", *LOCAL_ONLY, "-i", str(info.path),
            "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-vf", vf,
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    if info.is_image:
        argv[argv.index("-fps_mode"):argv.index("-fps_mode") + 2] = ["-frames:v", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=frame_bytes)
    assert proc.stdout is not None
    count = 0
    try:
        while True:
            buf = proc.stdout.read(frame_bytes)
            if len(buf) < frame_bytes:
                break
            count += 1
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3).copy()
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    if count == 0 and start_frame == 0:
        raise MediaError(f"could not decode any frame from {info.path.name}", stderr=stderr)


def read_image(path: str | Path) -> np.ndarray:
    """The first frame of an image (or video) as RGB."""
    return next(iter_frames(path))
