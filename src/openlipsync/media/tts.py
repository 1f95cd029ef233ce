"""Offline text-to-speech with espeak-ng (Debian package), used for text inputs and the demo sample."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from openlipsync.errors import ConfigError, InputError, MediaError

MAX_TEXT_CHARS = 5000


def synthesize(text: str, output: str | Path, *, voice: str = "en-us", words_per_minute: int = 160) -> Path:
    """Speak ``text`` with espeak-ng into a WAV file at ``output``."""
    text = text.strip()
    if not text:
        raise InputError("text input is empty", code="generation_text_missing")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"text input is longer than {MAX_TEXT_CHARS} characters")
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ConfigError("espeak-ng is not installed; run scripts/setup.sh (Debian package 'espeak-ng')")
    voice = voice if _valid_voice(voice) else "en-us"
    output = Path(output)
    # Text goes through stdin, never argv, so it cannot be read as an option.
    proc = subprocess.run([exe, "-v", voice, "-s", str(words_per_minute), "-w", str(output), "--stdin"],
                          input=text.encode(), capture_output=True, timeout=120, check=False)
    if proc.returncode != 0 or not output.is_file() or output.stat().st_size <= 44:
        raise MediaError("espeak-ng failed", stderr=proc.stderr.decode(errors="replace"))
    return output


def _valid_voice(voice: str) -> bool:
    return 0 < len(voice) <= 32 and all(c.isalnum() or c in "-_+" for c in voice)
