"""ffprobe every input before anything else touches it."""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from openlipsync.errors import (
    MediaMetadataError,
    MissingInputError,
    UnreadableMediaError,
)
from openlipsync.media._ffmpeg import binary

IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "jpegls", "gif"}
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}
# A video whose average frame rate is this much below its base rate skips frames (variable frame rate):
# phones drop frames in low light, screen recorders when nothing moves.
SKIPPED_FRAMES = 0.05
MAX_CONSTANT_FPS = 120.0
STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60), Fraction(120))


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe found in one file."""

    path: Path
    format_name: str
    duration: float | None
    size_bytes: int
    has_video: bool
    has_audio: bool
    is_image: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frame_count: int = 0
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate: int = 0
    rotation: int = 0
    stream_count: int = 0
    color_space: str | None = None
    color_range: str | None = None
    # presentation time (s) of each stream's first frame / sample: containers often start them apart (an
    # edit list, a camera that starts recording sound first)
    video_start: float = 0.0
    audio_start: float = 0.0
    # the stream skips frames: it is decoded onto a constant-rate grid of ``fps`` (a skipped frame shows the
    # one before it, as players do), so frame i is the picture at ``video_start + i / fps``
    variable_rate: bool = False

    @property
    def color_matrix(self) -> str:
        """The swscale matrix name to decode/encode with, so colours survive the round trip."""
        return {"bt709": "bt709", "bt2020nc": "bt2020", "bt2020c": "bt2020", "fcc": "fcc",
                "smpte240m": "smpte240m"}.get(self.color_space or "", "bt601")

    @property
    def audio_lead(self) -> float:
        """Seconds of the audio track heard before the first video frame shows (negative: the picture
        starts first)."""
        return self.video_start - self.audio_start if self.has_video and self.has_audio else 0.0

    @property
    def video_duration(self) -> float:
        """Duration of the visual stream in seconds (frame_count / fps)."""
        if self.fps <= 0:
            return 0.0
        return self.frame_count / self.fps


def _fps(stream: dict) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        raw = stream.get(key) or "0/0"
        try:
            value = Fraction(raw)
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < value < 1000:
            return float(value)
    return 0.0


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag else 0


def _ffprobe(path: Path) -> dict:
    argv = [binary("ffprobe"), "-v", "error", "-protocol_whitelist", "file", "-print_format", "json",
            "-show_format", "-show_streams", str(path)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UnreadableMediaError(f"{path.name}: probing timed out") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["not a media file"]
        # ffprobe names the file by its full path; never show server paths to the caller.
        reason = detail[0].replace(str(path), path.name).split(": ", 1)[-1]
        raise UnreadableMediaError(f"{path.name}: cannot read media ({reason})")
    try:
        return json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise UnreadableMediaError(f"{path.name}: cannot read media") from exc


def probe(path: str | Path) -> MediaInfo:
    """Describe ``path``; raise a clear ``InputError`` if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableMediaError(f"{path.name}: file is empty")
    data = _ffprobe(path)
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    # Cover art in mp3/m4a is a "video" stream with the attached_pic disposition: it is not the picture.
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise UnreadableMediaError(f"{path.name}: no audio or video stream")
    format_name = str(fmt.get("format_name", ""))
    is_image = video is not None and (
        format_name in IMAGE_FORMATS or (video.get("codec_name") in IMAGE_CODECS and audio is None
                                         and _frame_count(video, fmt) <= 1)
    )
    duration = _float(fmt.get("duration"))
    info = MediaInfo(
        path=path,
        format_name=format_name,
        duration=None if is_image else duration,
        size_bytes=size,
        has_video=video is not None,
        has_audio=audio is not None,
        is_image=is_image,
        stream_count=len(streams),
    )
    if video is not None:
        rotation = _rotation(video)
        w, h = int(video.get("width") or 0), int(video.get("height") or 0)
        if rotation in (90, 270):
            w, h = h, w
        info = _replace(info, width=w, height=h, rotation=rotation, video_codec=video.get("codec_name"),
                        color_space=video.get("color_space"), color_range=video.get("color_range"),
                        fps=0.0 if is_image else _fps(video),
                        frame_count=1 if is_image else _frame_count(video, fmt),
                        video_start=0.0 if is_image else _start(video))
        frames = None
        if not is_image and info.fps > 0 and info.frame_count <= 0:
            # a live recording (a browser's MediaRecorder, a saved stream) declares no length: count its frames
            frames = _packets(path, "v:0")
            info = _replace(info, frame_count=frames.times.size,
                            duration=info.duration or (frames.end if frames.times.size else None))
        if not is_image and info.fps > 0:
            info = _constant_rate(info, video, frames)
        if not is_image and (info.fps <= 0 or info.frame_count <= 0):
            raise MediaMetadataError(f"{path.name}: cannot determine frame rate or duration of the video")
        if w <= 0 or h <= 0:
            raise MediaMetadataError(f"{path.name}: video has no size")
    if audio is not None:
        info = _replace(info, audio_codec=audio.get("codec_name"),
                        audio_sample_rate=int(audio.get("sample_rate") or 0), audio_start=_start(audio))
        if info.duration is None and not is_image:
            info = _replace(info, duration=_float(audio.get("duration")) or _packets(path, "a:0").end or None)
    return info


def _float(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if out == out and out >= 0 else None


def _start(stream: dict) -> float:
    """A stream's start time in seconds (0 when unknown; it may be negative after an edit list)."""
    try:
        value = float(stream.get("start_time"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def _frame_count(video: dict, fmt: dict) -> int:
    frames = video.get("nb_frames")
    if frames and str(frames).isdigit() and int(frames) > 0:
        return int(frames)
    duration = _float(video.get("duration")) or _float(fmt.get("duration")) or 0.0
    fps = _fps(video)
    return int(round(duration * fps)) if fps > 0 else 0


def _constant_rate(info: MediaInfo, video: dict, frames: _Packets | None = None) -> MediaInfo:
    """``info`` on a constant-rate grid when the stream skips frames (its average rate, ``info.fps``, well
    below its base rate): the grid's rate is the stream's interval between consecutive frames, read from its
    packets' timestamps (snapped to the base rate or the nearest standard rate within 1 %); ``frames``: those
    packets when they were read already."""
    try:
        base = Fraction(video.get("r_frame_rate") or "0/0")
    except (ValueError, ZeroDivisionError):
        return info
    if not base > info.fps * (1 + SKIPPED_FRAMES):
        return info
    times = (frames or _packets(info.path, "v:0")).times
    times = times[times >= info.video_start - 1e-3]  # packets an edit list cuts before the first frame
    steps = np.diff(times)
    steps = steps[steps > 1e-4]
    if steps.size < 2:
        return info
    # the interval between frames where none was skipped: the cluster of the shortest steps (a skip makes
    # a step of two or more intervals)
    short = float(np.percentile(steps, 10))
    usual = float(np.median(steps[steps <= 1.25 * short]))
    rate = Fraction(1 / usual).limit_denominator(1001)
    near = [r for r in (base, *STANDARD_RATES) if abs(r - rate) <= rate / 100]
    rate = min(near, key=lambda r: abs(r - rate)) if near else rate
    if not info.fps * (1 + SKIPPED_FRAMES) < rate <= MAX_CONSTANT_FPS:
        return info
    # the grid runs from the first frame to the last, as ffmpeg's fps filter places it
    count = int(round((times[-1] - times[0]) * rate)) + 1
    return _replace(info, fps=float(rate), frame_count=count, variable_rate=True)


@dataclass(frozen=True)
class _Packets:
    """One stream's packets as the container stores them (no decoding)."""

    times: np.ndarray  # sorted presentation times (s)
    end: float  # when the last one ends (s; 0 when there is none)


def _packets(path: Path, stream: str) -> _Packets:
    """The packets of ``stream`` (an ffprobe stream specifier, e.g. ``v:0``); none when they cannot be read."""
    argv = [binary("ffprobe"), "-v", "error", "-protocol_whitelist", "file", "-select_streams", stream,
            "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return _Packets(np.zeros(0), 0.0)
    rows = [line.split(",") for line in proc.stdout.decode(errors="replace").splitlines()]
    timed = [(t, _float(row[1] if len(row) > 1 else None) or 0.0) for row in rows
             if (t := _float(row[0])) is not None]
    if not timed:
        return _Packets(np.zeros(0), 0.0)
    times = np.sort(np.array([t for t, _ in timed], np.float64))
    return _Packets(times, max(t + d for t, d in timed))


def _replace(info: MediaInfo, **changes: object) -> MediaInfo:
    from dataclasses import replace

    return replace(info, **changes)  # type: ignore[arg-type]
