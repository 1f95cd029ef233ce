"""Input validation before a job is accepted: sniffing, limits, header sanity, truncation, polyglots.

``inspect_visual(path, limits)`` / ``inspect_audio(path, limits)`` run every check in a fixed order and
return the ``MediaInfo`` of an acceptable file, or raise an ``InputError`` subclass whose ``code`` names the
exact problem. ``validate_visual`` / ``validate_audio`` are the pure checks on an existing ``MediaInfo``.
The order matters: cheap byte checks first (empty, too big, not media at all), then ffprobe (bounded by a
timeout), then limits on what the header claims, then checks that compare the claims with the bytes.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openlipsync.errors import (
    InputLimitError,
    MediaHeaderError,
    NoAudioStreamError,
    NoVideoStreamError,
    PolyglotInputError,
    TruncatedMediaError,
    UnreadableMediaError,
    WrongTypeError,
)
from openlipsync.media._ffmpeg import binary
from openlipsync.media.probe import MediaInfo, probe

log = logging.getLogger("openlipsync.security")

_HEAD = 4096
_TAIL = 64 * 1024 + 22  # a zip end-of-central-directory record sits in the last 64 KiB + 22 bytes


@dataclass(frozen=True)
class InputLimits:
    """Configurable limits on inputs; ``from_settings`` fills it from the platform's Settings."""

    max_file_bytes: int = 1024 * 1024 * 1024
    max_duration_seconds: float = 1800.0
    max_width: int = 4096
    max_height: int = 4096
    max_pixels: int = 4096 * 2304  # 9.4 MP: 4K UHD and DCI 4K fit
    min_side: int = 32  # below this there is no face to find
    max_frames: int = 108_000  # 30 min at 60 fps
    max_fps: float = 120.0
    max_streams: int = 8
    min_bytes_per_second: float = 64.0  # no real codec stores a second in fewer bytes
    min_sample_rate: int = 4000
    max_sample_rate: int = 384_000
    bomb_ratio: float = 1000.0  # decoded bytes / file bytes above which a too-big image is a "bomb"
    probe_timeout_seconds: float = 30.0
    # ffmpeg demuxers an input may use (checked with ffprobe -format_whitelist, which nested demuxers
    # inherit): playlists (hls, concat), text renderers (xbin, tty) and network-capable formats stay out.
    allowed_demuxers: tuple[str, ...] = (
        "mov", "matroska", "avi", "mpegts", "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe",
        "tiff_pipe", "gif", "wav", "mp3", "ogg", "flac", "aac")
    polyglot_scan_bytes: int = 64 * 1024 * 1024  # images up to this size are scanned whole

    @classmethod
    def from_settings(cls, settings: Any) -> InputLimits:
        """Read ``max_upload_bytes`` and any ``input_<field>`` attributes the Settings object defines."""
        values: dict[str, Any] = {}
        if getattr(settings, "max_upload_bytes", None):
            values["max_file_bytes"] = int(settings.max_upload_bytes)
        for name in cls.__dataclass_fields__:
            value = getattr(settings, "input_" + name, None)
            if value is not None:
                values[name] = value
        return cls(**values)


# --- byte sniffing ----------------------------------------------------------------------------------

_NON_MEDIA_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "an executable"),
    (b"\xca\xfe\xba\xbe", "an executable"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a rar archive"),
    (b"#EXTM3U", "a playlist"),
    (b"ffconcat", "a playlist"),
    (b"#!", "a script"),
)
_MARKUP = re.compile(rb"<(?:!doctype|html|head|body|script|iframe|object|embed|svg|\?php|\?xml)[\s>/]",
                     re.IGNORECASE)
# Inside media only markup a browser would run counts (XMP metadata is XML, so "<?xml" and "<svg" do not).
_SCRIPTY = re.compile(rb"<(?:script|html|iframe|body|!doctype\s+html|\?php)[\s>/]", re.IGNORECASE)


def sniff_non_media(head: bytes) -> str | None:
    """What ``head`` (the first bytes of a file) is when it is clearly not media; None otherwise."""
    for magic, what in _NON_MEDIA_MAGIC:
        if head.startswith(magic):
            return what
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _MARKUP.match(stripped):
        return "an HTML/XML document"
    if head and b"\x00" not in head[:1024]:
        sample = head[:1024]
        printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
        if printable >= 0.95 * len(sample):
            return "a text file"
    return None


def reject_non_media(head: bytes) -> None:
    """Sniff hook for the URL fetcher: raise ``WrongTypeError`` for obviously non-media bytes."""
    what = sniff_non_media(head)
    if what is not None:
        raise WrongTypeError(f"the input is {what}, not audio or video")


def check_file(path: Path, limits: InputLimits, *, visual: bool = True) -> None:
    """Byte-level checks before ffprobe sees the file: empty, too large, wrong type, image bombs."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableMediaError(f"{path.name}: file is empty", code="generation_input_empty")
    if size > limits.max_file_bytes:
        raise InputLimitError(f"{path.name}: {size} bytes is over the limit of {limits.max_file_bytes}",
                              code="generation_input_too_large")
    with path.open("rb") as fh:
        head = fh.read(_TAIL)
    reject_non_media(head[:_HEAD])
    declared = declared_image_size(head) if visual else None
    if declared is not None:
        w, h = declared
        _check_picture(_ImageClaim(path, w, h, size), limits)


@dataclass(frozen=True)
class _ImageClaim:
    """Width and height read from an image header before any decoder (or ffprobe) touches the pixels."""

    path: Path
    width: int
    height: int
    size_bytes: int


def declared_image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) claimed by a PNG, GIF, JPEG or WebP header; None for other files."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return struct.unpack_from(">II", head, 16)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack_from("<HH", head, 6)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(head)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8X" and len(head) >= 30:
        w = int.from_bytes(head[24:27], "little") + 1
        return w, int.from_bytes(head[27:30], "little") + 1
    if kind == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(head) >= 30:
        w, h = struct.unpack_from("<HH", head, 26)
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(head) and head[at] == 0xFF:
        marker = head[at + 1]
        (length,) = struct.unpack_from(">H", head, at + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            h, w = struct.unpack_from(">HH", head, at + 5)
            return w, h
        at += 2 + length
    return None


# --- checks on the probed header ----------------------------------------------------------------------


def _limit(message: str, code: str) -> InputLimitError:
    return InputLimitError(message, code=code)


def _check_common(info: MediaInfo, limits: InputLimits) -> None:
    name = info.path.name
    if info.size_bytes > limits.max_file_bytes:
        raise _limit(f"{name}: {info.size_bytes} bytes is over the limit of {limits.max_file_bytes}",
                     "generation_input_too_large")
    if info.stream_count > limits.max_streams:
        raise _limit(f"{name}: {info.stream_count} streams (limit {limits.max_streams})",
                     "generation_input_too_many_streams")
    duration = info.duration or 0.0
    if duration > 0 and info.size_bytes / duration < limits.min_bytes_per_second:
        raise MediaHeaderError(f"{name}: header claims {duration:.0f} s in only {info.size_bytes} bytes")
    if duration > limits.max_duration_seconds:
        raise _limit(f"{name}: {duration:.1f} s is longer than the limit of {limits.max_duration_seconds:.0f} s",
                     "generation_input_too_long")


def _check_picture(info: MediaInfo | _ImageClaim, limits: InputLimits) -> None:
    name, w, h = info.path.name, info.width, info.height
    pixels = w * h
    if pixels > limits.max_pixels:
        if pixels * 3 / max(info.size_bytes, 1) > limits.bomb_ratio:
            raise _limit(f"{name}: {w}x{h} would decode to {pixels * 3 // 2**20} MiB from "
                         f"{info.size_bytes} bytes (decompression bomb)", "generation_input_decompression_bomb")
        raise _limit(f"{name}: {w}x{h} is {pixels} pixels (limit {limits.max_pixels})",
                     "generation_input_too_many_pixels")
    if w > limits.max_width or h > limits.max_height:
        raise _limit(f"{name}: {w}x{h} is larger than {limits.max_width}x{limits.max_height}",
                     "generation_input_resolution_exceeded")
    if min(w, h) < limits.min_side:
        raise _limit(f"{name}: {w}x{h} is too small (minimum side {limits.min_side} px)",
                     "generation_input_resolution_too_small")


def validate_visual(info: MediaInfo, limits: InputLimits) -> None:
    """Raise unless ``info`` is a usable video or image within ``limits``."""
    if not info.has_video:
        raise NoVideoStreamError(f"{info.path.name}: the visual input has no video or image")
    _check_picture(info, limits)
    _check_common(info, limits)
    if info.is_image:
        return
    name = info.path.name
    if info.fps > limits.max_fps:
        raise _limit(f"{name}: {info.fps:.1f} fps (limit {limits.max_fps:.0f})",
                     "generation_input_frame_rate_exceeded")
    if info.frame_count > limits.max_frames:
        raise _limit(f"{name}: {info.frame_count} frames (limit {limits.max_frames})",
                     "generation_input_too_many_frames")
    if info.video_duration > limits.max_duration_seconds:
        raise _limit(f"{name}: video track is {info.video_duration:.1f} s (limit "
                     f"{limits.max_duration_seconds:.0f} s)", "generation_input_too_long")


def validate_audio(info: MediaInfo, limits: InputLimits) -> None:
    """Raise unless ``info`` has a usable audio stream within ``limits``."""
    name = info.path.name
    if not info.has_audio:
        raise NoAudioStreamError(f"{name}: the audio input has no audio stream")
    _check_common(info, limits)
    if not limits.min_sample_rate <= info.audio_sample_rate <= limits.max_sample_rate:
        raise MediaHeaderError(f"{name}: sample rate {info.audio_sample_rate} Hz is not plausible")
    if not info.duration:
        raise MediaHeaderError(f"{name}: audio has no duration", code="generation_media_metadata_missing")


# --- checks that compare the header with the bytes -----------------------------------------------------


def _stream_facts(path: Path, limits: InputLimits) -> dict[str, Any]:
    """ffprobe restricted to local files and the allowed demuxers; ``WrongTypeError`` when that fails."""
    argv = [binary("ffprobe"), "-v", "error", "-protocol_whitelist", "file",
            "-format_whitelist", ",".join(limits.allowed_demuxers), "-print_format", "json", "-show_entries",
            "stream=codec_type,codec_name,duration,bit_rate,nb_frames:format=duration,format_name", str(path)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=limits.probe_timeout_seconds, check=False)
        facts = json.loads(proc.stdout or b"{}") if proc.returncode == 0 else None
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise UnreadableMediaError(f"{path.name}: probing timed out or failed") from exc
    if facts is None:
        raise WrongTypeError(f"{path.name}: the container format is not allowed")
    return facts


def _number(value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return out if out == out and out > 0 else 0.0


def check_consistency(info: MediaInfo, limits: InputLimits) -> None:
    """Compare stream sizes and durations with the file: truncated files and lying headers."""
    facts = _stream_facts(info.path, limits)
    if "avi" in str((facts.get("format") or {}).get("format_name", "")) and any(
            s.get("codec_type") == "subtitle" for s in facts.get("streams", [])):
        # AVI "GAB2" subtitles are demuxed by a nested probe: the classic ffmpeg playlist/file-read trick.
        raise WrongTypeError(f"{info.path.name}: AVI files with embedded subtitle streams are not accepted")
    if info.is_image:
        return
    streams = [s for s in facts.get("streams", []) if s.get("codec_type") in ("audio", "video")]
    # Only MP4/MOV sample tables state exact stream sizes; other containers' bit rates are estimates or tags.
    exact = "mov" in info.format_name.split(",")
    declared = sum(_number(s.get("bit_rate")) * _number(s.get("duration")) / 8 for s in streams)
    if exact and declared > info.size_bytes * 1.02 + 4096:
        raise TruncatedMediaError(f"{info.path.name}: streams declare {declared / 1e6:.2f} MB but the file "
                                  f"holds {info.size_bytes / 1e6:.2f} MB (truncated)")
    longest = max((_number(s.get("duration")) for s in streams), default=0.0)
    claimed = _number((facts.get("format") or {}).get("duration"))
    if longest > 0 and claimed > 60 and claimed > 20 * longest:
        raise MediaHeaderError(f"{info.path.name}: header claims {claimed:.0f} s but the streams last "
                               f"{longest:.1f} s")
    if "wav" in info.format_name:
        _check_wav_sizes(info.path, info.size_bytes)


def _check_wav_sizes(path: Path, size: int) -> None:
    """A RIFF/WAVE whose ``data`` chunk promises more bytes than follow it was cut short."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    at = head.find(b"data", 12)
    if at < 0 or at + 8 > len(head):
        return
    (declared,) = struct.unpack_from("<I", head, at + 4)
    if declared in (0, 0xFFFFFFFF, 0x7FFFFFFF):  # streamed writers leave these placeholders
        return
    available = size - (at + 8)
    if declared > available * 1.01 + 64:
        raise TruncatedMediaError(f"{path.name}: WAV data chunk declares {declared} bytes, "
                                  f"{available} present (truncated)")


def check_polyglot(info: MediaInfo, limits: InputLimits) -> None:
    """Refuse media that is also a zip, PDF or HTML/script document (a "polyglot")."""
    path, size = info.path, info.size_bytes
    with path.open("rb") as fh:
        if info.is_image and size <= limits.polyglot_scan_bytes:
            body = fh.read()
            head, tail, whole = body[:_HEAD], body[-_TAIL:], body
        else:
            head = fh.read(_TAIL)
            fh.seek(max(0, size - _TAIL))
            tail, whole = fh.read(), b""
    name = path.name
    if _has_zip_directory(tail):
        raise PolyglotInputError(f"{name}: the file is also a zip archive")
    if b"%PDF-" in head[:1024]:
        raise PolyglotInputError(f"{name}: the file is also a PDF document")
    if _SCRIPTY.search(whole or head) or _SCRIPTY.search(tail):
        raise PolyglotInputError(f"{name}: the file also carries HTML/script content")


def _has_zip_directory(tail: bytes) -> bool:
    """A zip end-of-central-directory record whose comment length reaches exactly the end of file."""
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0:
        if at + 22 <= len(tail):
            (comment_len,) = struct.unpack_from("<H", tail, at + 20)
            if at + 22 + comment_len == len(tail):
                return True
        at = tail.rfind(b"PK\x05\x06", 0, at)
    return False


# --- serving stored inputs back ---------------------------------------------------------------------

_CONTENT_TYPES = (("png_pipe", "image/png"), ("jpeg_pipe", "image/jpeg"), ("webp_pipe", "image/webp"),
                  ("gif", "image/gif"), ("bmp_pipe", "image/bmp"), ("tiff_pipe", "image/tiff"),
                  ("mov", "video/mp4"), ("matroska", "video/x-matroska"), ("avi", "video/x-msvideo"),
                  ("mpegts", "video/mp2t"), ("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"),
                  ("flac", "audio/flac"), ("aac", "audio/aac"))


_IMAGE_CODECS = {"mjpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
                 "bmp": "image/bmp", "tiff": "image/tiff"}


def content_type_for(format_name: str, *, has_video: bool = True, codec: str | None = None) -> str:
    """The Content-Type to serve a stored input with, from what ffprobe found, never from the caller's
    file name (a WAV named ``page.html`` must not be served as HTML)."""
    names = format_name.split(",")
    if "image2" in names:
        return _IMAGE_CODECS.get(codec or "", "application/octet-stream")
    for demuxer, ctype in _CONTENT_TYPES:
        if demuxer in names:
            if ctype == "video/mp4" and not has_video:
                return "audio/mp4"
            return ctype
    return "application/octet-stream"


# --- the whole inspection -------------------------------------------------------------------------------


def inspect_visual(path: str | Path, limits: InputLimits | None = None) -> MediaInfo:
    """Every check for a visual input (video or image); returns its ``MediaInfo``."""
    limits = limits or InputLimits()
    path = Path(path)
    info = _probe_checked(path, limits, visual=True)
    validate_visual(info, limits)
    return _check_content(info, limits)


def inspect_audio(path: str | Path, limits: InputLimits | None = None) -> MediaInfo:
    """Every check for an audio input (an audio file or a video whose audio track is used)."""
    limits = limits or InputLimits()
    path = Path(path)
    info = _probe_checked(path, limits, visual=False)
    validate_audio(info, limits)
    return _check_content(info, limits)


def inspect_media(path: str | Path, limits: InputLimits | None = None) -> MediaInfo:
    """Every check that does not depend on the role (for assets uploaded before their use is known)."""
    limits = limits or InputLimits()
    path = Path(path)
    info = _probe_checked(path, limits, visual=True)
    if info.has_video:
        validate_visual(info, limits)
    if info.has_audio:
        validate_audio(info, limits)
    return _check_content(info, limits)


def _check_content(info: MediaInfo, limits: InputLimits) -> MediaInfo:
    """The role-independent checks every inspection ends with: headers agree with the data, no polyglot."""
    check_consistency(info, limits)
    check_polyglot(info, limits)
    return info


def _probe_checked(path: Path, limits: InputLimits, *, visual: bool) -> MediaInfo:
    if path.is_file():
        check_file(path, limits, visual=visual)
    return probe(path)
