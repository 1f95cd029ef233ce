"""Running ffmpeg/ffprobe safely: argv lists, checked exit codes, stderr tail in the error."""

from __future__ import annotations

import shutil
import subprocess

from openlipsync.errors import ConfigError, MediaError


def binary(name: str) -> str:
    """Absolute path of ``ffmpeg``/``ffprobe``; a clear error when it is not installed."""
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"{name} is not installed; run scripts/setup.sh (Debian package 'ffmpeg')")
    return path


# Inputs are local files or pipes: ffmpeg may never open a network URL, even one named inside a file
# (playlists, nested demuxers). See docs/SECURITY.md.
LOCAL_ONLY = ["-protocol_whitelist", "file,pipe"]


def local_inputs(args: list[str]) -> list[str]:
    """``args`` with ``LOCAL_ONLY`` before every ``-i``."""
    out: list[str] = []
    for arg in args:
        if arg == "-i":
            out += LOCAL_ONLY
        out.append(arg)
    return out


def run(args: list[str], *, what: str, timeout: float | None = 600) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with ``args`` (without the program name); raise MediaError on failure."""
    argv = [binary("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *local_inputs(args)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"ffmpeg timed out while {what}") from exc
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg failed while {what}", stderr=proc.stderr.decode(errors="replace"))
    return proc
