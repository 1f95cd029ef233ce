"""The bad-input corpus, generated at test time (no committed binaries).

Each ``Case`` is one hostile or broken input, the role it is submitted in (visual or audio), the limits in
force, and the error class + machine code it must get. ``python -m tests.security.corpus`` prints the
table used in docs/SECURITY.md by running every case through ``inspect_visual`` / ``inspect_audio``.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openlipsync import errors
from openlipsync.security.limits import InputLimits


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # one line for the docs table
    kind: str  # "visual" | "audio"
    make: Callable[[Path], Path]
    error: type[errors.LipSyncError]
    code: str
    limits: InputLimits = field(default_factory=InputLimits)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=60)


def _video(path: Path, *, seconds: float = 2.0, size: str = "160x120", fps: int = 25, audio: bool = True,
           codec: str = "libx264", extra: tuple[str, ...] = ()) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc=s={size}:r={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=300:r=16000"]
    args += ["-t", str(seconds), "-c:v", codec]
    if codec == "libx264":
        args += ["-pix_fmt", "yuv420p", "-preset", "ultrafast"]
    if audio:
        args += ["-c:a", "aac"]
    _ffmpeg(*args, *extra, str(path))
    return path


def _wav(path: Path, seconds: float = 2.0) -> Path:
    _ffmpeg("-f", "lavfi", "-i", "sine=f=300:r=16000", "-t", str(seconds), "-c:a", "pcm_s16le", str(path))
    return path


def _png_bytes(width: int, height: int, rows: np.ndarray | None = None, extra_chunks: bytes = b"") -> bytes:
    """A PNG with an honest IHDR; IDAT holds ``rows`` (gray) or a few zero rows (a claim, not the pixels)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = (b"".join(b"\x00" + r.tobytes() for r in rows) if rows is not None
           else b"\x00" * (width + 1) * 4)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_chunks + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _png(width: int, height: int, extra_chunks: bytes = b"") -> bytes:
    yy, xx = np.mgrid[0:height, 0:width]
    return _png_bytes(width, height, ((xx * 7 + yy * 3) % 256).astype(np.uint8), extra_chunks)


def _text_chunk(text: bytes) -> bytes:
    data = b"Comment\x00" + text
    return struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("payload.html", "<html><script>alert(document.cookie)</script></html>")
    return buf.getvalue()


def _write(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


def _truncate(make: Callable[[Path], Path], fraction: float) -> Callable[[Path], Path]:
    def cut(path: Path) -> Path:
        full = make(path.with_name("full_" + path.name))
        data = full.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path
    return cut


def _ten_hour_header(path: Path) -> Path:
    """A 2 s mp4 whose movie/track/media headers are edited to claim 10 hours."""
    data = bytearray(_video(path.with_name("src_" + path.name), extra=("-movflags", "+faststart")).read_bytes())
    for tag in (b"mvhd", b"mdhd", b"tkhd"):
        at = data.find(tag)
        while at >= 0:
            base = at + 8  # after the tag, version byte and 3 flag bytes
            if tag == b"tkhd":
                struct.pack_into(">I", data, base + 16, 36000 * 1000)
            else:
                (timescale,) = struct.unpack_from(">I", data, base + 8)
                struct.pack_into(">I", data, base + 12, 36000 * timescale)
            at = data.find(tag, at + 1)
    path.write_bytes(bytes(data))
    return path


def _wav_lying_rate(path: Path) -> Path:
    """A 2 s WAV whose fmt chunk claims 1 Hz / 2 bytes per second: about 18 hours by the header."""
    data = bytearray(_wav(path.with_name("src_" + path.name)).read_bytes())
    at = data.find(b"fmt ")
    struct.pack_into("<II", data, at + 12, 1, 2)  # sample rate, byte rate
    path.write_bytes(bytes(data))
    return path


def _many_streams(path: Path) -> Path:
    src = _video(path.with_name("src.mkv"), seconds=0.5, audio=True)
    maps = ["-map", "0:v"] + ["-map", "0:a"] * 11
    _ffmpeg("-i", str(src), *maps, "-c", "copy", str(path))
    return path


def _append(make: Callable[[Path], Path], tail: bytes) -> Callable[[Path], Path]:
    def both(path: Path) -> Path:
        made = make(path)
        with made.open("ab") as fh:
            fh.write(tail)
        return made
    return both


def _jpeg_with_comment(path: Path) -> Path:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    assert ok
    data = buf.tobytes()
    comment = b"<html><body><script>fetch('/v1/generations')</script></body></html>"
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    path.write_bytes(data[:2] + segment + data[2:])
    return path


def _mp3(path: Path) -> Path:
    _ffmpeg("-f", "lavfi", "-i", "sine=f=300:r=22050", "-t", "2", "-c:a", "libmp3lame", str(path))
    return path


TEXT = b"Hello, this is not a video. It is a plain text file that someone renamed to .mp4\n" * 4
HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>"
HLS = (b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nhttp://169.254.169.254/latest/meta-data/\n"
       b"#EXT-X-ENDLIST\n")
CONCAT = b"ffconcat version 1.0\nfile '/etc/passwd'\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

SMALL = InputLimits(max_duration_seconds=1.0)


def cases() -> list[Case]:
    """Every bad input, with the exact error it must get."""
    E = errors  # noqa: N806 (short alias for the table below)
    return [
        Case("empty.mp4", "zero-length file", "visual", _write(b""), E.UnreadableMediaError,
             "generation_input_empty"),
        Case("random.mp4", "4 KiB of random bytes named .mp4", "visual",
             _write(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
             E.UnreadableMediaError, "generation_media_unreadable"),
        Case("text.mp4", "plain text named .mp4", "visual", _write(TEXT), E.WrongTypeError,
             "generation_input_wrong_type"),
        Case("page.mp4", "HTML page named .mp4", "visual", _write(HTML), E.WrongTypeError,
             "generation_input_wrong_type"),
        Case("doc.mp4", "PDF named .mp4", "visual", _write(PDF), E.WrongTypeError, "generation_input_wrong_type"),
        Case("archive.mp4", "zip archive named .mp4", "visual", _write(_zip_bytes()), E.WrongTypeError,
             "generation_input_wrong_type"),
        Case("program.mp4", "ELF executable named .mp4", "visual", _write(ELF), E.WrongTypeError,
             "generation_input_wrong_type"),
        Case("playlist.mp4", "HLS playlist pointing at the metadata service (ffmpeg SSRF)", "visual",
             _write(HLS), E.WrongTypeError, "generation_input_wrong_type"),
        Case("concat.mp4", "ffconcat list reading /etc/passwd (ffmpeg file read)", "visual", _write(CONCAT),
             E.WrongTypeError, "generation_input_wrong_type"),
        Case("clip.nut", "valid video in a container not on the demuxer allow-list (NUT)", "visual",
             lambda p: _video(p, seconds=0.5, audio=False, codec="mpeg4"), E.WrongTypeError,
             "generation_input_wrong_type"),
        Case("cut.mp4", "mp4 cut in half, index (moov) at the end", "visual", _truncate(_video, 0.5),
             E.UnreadableMediaError, "generation_media_unreadable"),
        Case("cut_faststart.mp4", "mp4 cut in half, index at the front (header promises more)", "visual",
             _truncate(lambda p: _video(p, extra=("-movflags", "+faststart")), 0.5),
             E.TruncatedMediaError, "generation_media_truncated"),
        Case("ten_hours.mp4", "2 s mp4 whose headers claim 10 hours", "visual", _ten_hour_header,
             E.MediaHeaderError, "generation_media_header_inconsistent"),
        Case("bomb.png", "PNG claiming 50000x50000 (decompression bomb)", "visual",
             _write(_png_bytes(50000, 50000)), E.InputLimitError, "generation_input_decompression_bomb"),
        Case("wide.png", "real 8000x40 PNG (side over 4096)", "visual", _write(_png(8000, 40)),
             E.InputLimitError, "generation_input_resolution_exceeded"),
        Case("wide.mkv", "real 8192x64 video (side over 4096)", "visual",
             lambda p: _video(p, seconds=0.2, size="8192x64", audio=False, codec="ffv1"),
             E.InputLimitError, "generation_input_resolution_exceeded"),
        Case("dot.png", "8x8 PNG (too small to hold a face)", "visual", _write(_png(8, 8)), E.InputLimitError,
             "generation_input_resolution_too_small"),
        Case("speech.wav", "audio-only file as the visual input", "visual", _wav, E.NoVideoStreamError,
             "generation_video_missing"),
        Case("zip.png", "valid PNG with a zip archive appended (polyglot)", "visual",
             _write(_png(64, 64) + _zip_bytes()), E.PolyglotInputError, "generation_input_polyglot"),
        Case("script.png", "valid PNG with <script> in a tEXt chunk (polyglot)", "visual",
             _write(_png(64, 64, _text_chunk(b"<script>alert(1)</script>"))), E.PolyglotInputError,
             "generation_input_polyglot"),
        Case("html.jpg", "valid JPEG with an HTML page in a comment segment (polyglot)", "visual",
             _jpeg_with_comment, E.PolyglotInputError, "generation_input_polyglot"),
        Case("zip.mp4", "valid mp4 with a zip archive appended (polyglot)", "visual",
             _append(_video, _zip_bytes()), E.PolyglotInputError, "generation_input_polyglot"),
        Case("streams.mkv", "video with 12 audio streams (limit 8)", "visual", _many_streams,
             E.InputLimitError, "generation_input_too_many_streams"),
        Case("fast.mp4", "200 fps video (limit 120)", "visual",
             lambda p: _video(p, seconds=0.5, fps=200, audio=False), E.InputLimitError,
             "generation_input_frame_rate_exceeded"),
        Case("long.mp4", "2 s video with max_duration_seconds=1", "visual", _video, E.InputLimitError,
             "generation_input_too_long", SMALL),
        Case("frames.mp4", "50 frames with max_frames=10", "visual", lambda p: _video(p, audio=False),
             E.InputLimitError, "generation_input_too_many_frames", InputLimits(max_frames=10)),
        Case("big.mp4", "file over max_file_bytes (limit set to 1000)", "visual", _video, E.InputLimitError,
             "generation_input_too_large", InputLimits(max_file_bytes=1000)),
        Case("silent.mp4", "video without an audio track as the audio input", "audio",
             lambda p: _video(p, audio=False), E.NoAudioStreamError, "generation_audio_missing"),
        Case("photo.png", "image as the audio input", "audio", _write(_png(64, 64)), E.NoAudioStreamError,
             "generation_audio_missing"),
        Case("notes.wav", "plain text named .wav", "audio", _write(TEXT), E.WrongTypeError,
             "generation_input_wrong_type"),
        Case("empty.wav", "zero-length audio", "audio", _write(b""), E.UnreadableMediaError,
             "generation_input_empty"),
        Case("cut.wav", "WAV cut to a third (data chunk promises more)", "audio", _truncate(_wav, 0.34),
             E.TruncatedMediaError, "generation_media_truncated"),
        Case("lying.wav", "2 s WAV whose header rate claims ~18 hours", "audio", _wav_lying_rate,
             E.MediaHeaderError, "generation_media_header_inconsistent"),
        Case("zip.mp3", "valid mp3 with a zip archive appended (polyglot)", "audio", _append(_mp3, _zip_bytes()),
             E.PolyglotInputError, "generation_input_polyglot"),
        Case("long.wav", "2 s audio with max_duration_seconds=1", "audio", _wav, E.InputLimitError,
             "generation_input_too_long", SMALL),
        Case("missing.wav", "path that does not exist", "audio", lambda p: p.with_name("nope.wav"),
             E.MissingInputError, "generation_input_missing"),
    ]


def good_cases() -> list[tuple[str, str, Callable[[Path], Path]]]:
    """Ordinary inputs that must pass every check (guards against over-eager rules)."""
    return [
        ("talk.mp4", "visual", _video),
        ("talk_faststart.mp4", "visual", lambda p: _video(p, extra=("-movflags", "+faststart"))),
        ("talk.webm", "visual", lambda p: _video(p, codec="libvpx", audio=False)),
        ("photo.png", "visual", _write(_png(320, 240))),
        ("photo.jpg", "visual", lambda p: _jpeg_plain(p)),
        ("voice.wav", "audio", _wav),
        ("voice.mp3", "audio", _mp3),
        ("cover.mp3", "audio", _mp3_with_cover),
        ("talk_audio.mp4", "audio", _video),
    ]


def _mp3_with_cover(path: Path) -> Path:
    _ffmpeg("-f", "lavfi", "-i", "sine=r=22050", "-f", "lavfi", "-i", "color=s=64x64", "-t", "2", "-frames:v", "1",
            "-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic",
            str(path))
    return path


def _jpeg_plain(path: Path) -> Path:
    import cv2

    cv2.imwrite(str(path), np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    return path


def run_case(case: Case, directory: Path) -> errors.LipSyncError | None:
    """Make the case's file and inspect it; the error raised (None when it was accepted)."""
    return inspect_case(case, case.make(directory / case.name))


def inspect_case(case: Case, path: Path) -> errors.LipSyncError | None:
    from openlipsync.security.limits import inspect_audio, inspect_visual

    inspect = inspect_visual if case.kind == "visual" else inspect_audio
    try:
        inspect(path, case.limits)
    except errors.LipSyncError as exc:
        return exc
    return None


def main() -> None:  # pragma: no cover - prints the docs table
    import tempfile
    import time

    print("| input | role | error code | HTTP | inspection time |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            path = case.make(Path(tmp) / case.name)
            start = time.monotonic()
            exc = inspect_case(case, path)
            ms = (time.monotonic() - start) * 1000  # the inspection only
            got = f"`{exc.code}`" if exc else "ACCEPTED"
            status = exc.http_status if exc else "-"
            print(f"| {case.what} | {case.kind} | {got} | {status} | {ms:.0f} ms |")


if __name__ == "__main__":  # pragma: no cover
    main()
