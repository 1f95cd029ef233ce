"""Map a hosted TTS request (Sync's ``{"type":"text","provider":{...}}``) onto an offline espeak-ng voice.

Sync clients name a cloud provider and its voice (e.g. ElevenLabs ``voiceId``), which cannot run offline.
The voice is chosen, in order, from: a ``voiceId`` that already is an installed espeak-ng voice; a
language field of the provider object (``language``, ``languageCode``, ``locale``); the language of the
script itself (Unicode script, then common function words for Latin-script languages); English.
The returned note says what was mapped, so the job can record it.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("openlipsync.media.voices")

DEFAULT_VOICE = "en-us"
# Preferred espeak-ng voice for a language subtag (where the bare code is not a voice name).
_PREFERRED = {"en": "en-us", "zh": "cmn", "fr": "fr-fr", "pt": "pt", "no": "nb", "iw": "he"}
# Scripts that name their language outright (first match wins; kana before Han for Japanese).
_SCRIPTS = (
    ("ja", r"[\u3040-\u30ff]"), ("ko", r"[\uac00-\ud7af]"), ("cmn", r"[\u4e00-\u9fff]"),
    ("ru", r"[\u0400-\u04ff]"), ("ar", r"[\u0600-\u06ff]"), ("he", r"[\u0590-\u05ff]"),
    ("hi", r"[\u0900-\u097f]"), ("el", r"[\u0370-\u03ff]"), ("th", r"[\u0e00-\u0e7f]"),
    ("ka", r"[\u10a0-\u10ff]"), ("hy", r"[\u0530-\u058f]"), ("ta", r"[\u0b80-\u0bff]"),
)
# Frequent function words of Latin-script languages.
_WORDS = {
    "en-us": "the and is are you to of it that this with have what for not",
    "es": "el la los las y es que de en un una por para con no se del al",
    "fr-fr": "le la les et est que de en un une des pour avec ne pas je vous du au",
    "de": "der die das und ist nicht ich sie es ein eine zu mit auf den dem",
    "it": "il lo la gli le e che di un una per con non sono è del della",
    "pt": "o a os as e que de em um uma para com não é do da se",
    "nl": "de het een en is van dat niet ik je met op te zijn",
}


@functools.cache
def installed_voices() -> frozenset[str]:
    """Lower-case names of the installed espeak-ng voices (empty when espeak-ng is absent)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return frozenset()
    out = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=30, check=False).stdout
    names = set()
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            names.add(parts[1].lower())
            names.add(parts[4].split("/")[-1].lower())
    return frozenset(names)


def _voice_for_language(code: str) -> str | None:
    """An installed voice for a BCP-47-ish language tag (``es-MX``, ``zh_CN``, ``pt-BR``)."""
    tag = code.strip().lower().replace("_", "-")
    voices = installed_voices()
    if not tag:
        return None
    primary = tag.split("-")[0]
    for cand in (tag, _PREFERRED.get(primary), primary):
        if cand and cand in voices:
            return cand
    return None


def detect_language(text: str) -> str:
    """A likely espeak-ng voice for ``text`` from its script and function words (default English)."""
    for voice, pattern in _SCRIPTS:
        if re.search(pattern, text):
            return voice
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return DEFAULT_VOICE
    scores = {v: sum(w in vocab.split() for w in words) for v, vocab in _WORDS.items()}
    best = max(scores, key=lambda v: scores[v])
    return best if scores[best] > 0 else DEFAULT_VOICE


def resolve_voice(provider: Mapping[str, Any], script: str) -> tuple[str, str]:
    """(espeak-ng voice, note for the job) for a Sync text ``provider`` object speaking ``script``."""
    name = str(provider.get("name") or "unspecified")
    wanted = str(provider.get("voiceId") or provider.get("voice") or "")
    voices = installed_voices()
    if wanted and wanted.lower() in voices:
        return wanted.lower(), f"text spoken offline by espeak-ng voice {wanted.lower()!r}"
    for key in ("language", "languageCode", "language_code", "locale", "lang"):
        if provider.get(key):
            voice = _voice_for_language(str(provider[key]))
            if voice:
                return voice, _note(name, wanted, voice, f"{key}={provider[key]}")
    detected = detect_language(script)
    voice = detected if not voices or detected in voices else DEFAULT_VOICE
    return voice, _note(name, wanted, voice, "language detected from the script")


def _note(provider: str, wanted: str, voice: str, how: str) -> str:
    asked = f"{provider} voice {wanted!r}" if wanted else provider
    return f"TTS provider {asked} is not available offline; spoken by espeak-ng voice {voice!r} ({how})"
