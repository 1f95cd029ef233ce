"""Generic audio→mouth prior for people we know nothing about (photos, silent videos).

Opening comes from two language-independent cues, each normalised to 0..1:
- acoustics: loudness relative to this speech's own peaks, voicing, and the spectral tilt that
  separates open vowels (energy low in the spectrum) from fricatives (loud but nearly closed);
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


def acoustic_openness(feats: FrameFeatures, speech: np.ndarray) -> np.ndarray:
    """(n,) 0..1 openness from level, voicing and spectral tilt."""
    e = feats.energy
    peak = float(np.percentile(e[speech], 95)) if speech.any() else float(e.max())
    level = np.clip((e - (peak - 25.0)) / 25.0, 0.0, 1.0)
    fricative = np.clip((feats.tilt + 5.0) / 15.0, 0.0, 1.0)
    vowel = np.clip(feats.voicing, 0.0, 1.0) * (1.0 - fricative)
    return (level**0.7 * (0.35 + 0.65 * vowel)).astype(np.float64)


def prior_openness(feats: FrameFeatures, speech: np.ndarray, phones: PhoneTrack | None) -> np.ndarray:
    """(n,) 0..1 generic openness (before timing, closures and scaling)."""
    acoustic = acoustic_openness(feats, speech)
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
