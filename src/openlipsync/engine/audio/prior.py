"""Generic audio→mouth prior for people we know nothing about (photos, silent videos).

Opening comes from two language-independent cues, each normalised to 0..1:
- acoustics: the first formant (F1, which rises with jaw opening) within this voice's own range,
  while the voice is near its speaking level;
- phones: visemic opening targets of the recognised phone classes (when pocketsphinx ran).
Width is a rest width plus the phones' rounding/spreading offsets.
"""

from __future__ import annotations

import numpy as np

from openlipsync.engine.audio.features import FrameFeatures
from openlipsync.engine.audio.phones import PhoneTrack

# Generic scale in inter-ocular units, measured on real speakers with mediapipe and dlib: during
# speech the inner-lip gap has p50 ≈ 0.06–0.15 and p95 ≈ 0.20–0.31; the mouth width median ≈ 0.81–0.86.
TYPICAL_OPEN = 0.22  # opening of a fully open vowel at normal (temperature 0.5) expressiveness
REST_WIDTH = 0.83
_PHONE_OPEN_MAX = 0.26  # largest opening in PHONE_TARGETS
LEVEL_RANGE_DB = 25.0  # frames this far below the speech's loud peaks count as quiet
TYPICAL_F1_RANGE = (300.0, 800.0)  # Hz, close to open vowels, when the speech is too short to measure


def formant_openness(feats: FrameFeatures, speech: np.ndarray) -> np.ndarray:
    """(n,) 0..1 openness from the first formant, while the voice is within LEVEL_RANGE_DB of its peaks.

    F1 rises with jaw opening, and each voice has its own F1 range (higher for women and children), so
    it is placed inside this speech's own 10–90 % range. Loudness only gates: within speech, how loud a
    sound is says little about how open the mouth is (fricatives are loud and nearly closed).
    """
    e = feats.energy
    peak = float(np.percentile(e[speech], 95)) if speech.any() else float(e.max())
    active = e > peak - LEVEL_RANGE_DB
    f1 = feats.f1
    known = speech & np.isfinite(f1)
    lo, hi = np.percentile(f1[known], [10, 90]) if known.sum() >= 10 else TYPICAL_F1_RANGE
    f1n = np.nan_to_num(np.clip((f1 - lo) / max(hi - lo, 50.0), 0.0, 1.0), nan=0.0)
    return ((0.35 + 0.65 * f1n) * active).astype(np.float64)


def prior_openness(feats: FrameFeatures, speech: np.ndarray, phones: PhoneTrack | None) -> np.ndarray:
    """(n,) 0..1 generic openness (before timing, closures and scaling)."""
    acoustic = formant_openness(feats, speech)
    if phones is None:
        return acoustic
    phone = np.clip(phones.opening / _PHONE_OPEN_MAX, 0.0, 1.0)
    # phones recognised as silence inside detected speech are usually misrecognitions: use acoustics there
    sil = phones.classes[:, 0]
    phone = np.where(sil > 0.5, acoustic, phone)
    return 0.5 * acoustic + 0.5 * phone


def prior_width(phones: PhoneTrack | None, n: int) -> np.ndarray:
    """(n,) width offset from the rest width (negative = rounded lips)."""
    if phones is None:
        return np.zeros(n)
    return phones.width.astype(np.float64)
