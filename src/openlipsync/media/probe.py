"""ffprobe every input before anything else touches it."""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from openlipsync.errors import (
    MediaMetadataError,
    MissingInputError,
    UnreadableMediaError,
)
from openlipsync.media._ffmpeg import binary

IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "jpegls", "gif"}
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}


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
        if not is_image and (info.fps <= 0 or info.frame_count <= 0):
            raise MediaMetadataError(f"{path.name}: cannot determine frame rate or duration of the video")
        if w <= 0 or h <= 0:
            raise MediaMetadataError(f"{path.name}: video has no size")
    if audio is not None:
        info = _replace(info, audio_codec=audio.get("codec_name"),
                        audio_sample_rate=int(audio.get("sample_rate") or 0), audio_start=_start(audio))
        if info.duration is None and not is_image:
            info = _replace(info, duration=_float(audio.get("duration")))
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


def _replace(info: MediaInfo, **changes: object) -> MediaInfo:
    from dataclasses import replace

    return replace(info, **changes)  # type: ignore[arg-type]
