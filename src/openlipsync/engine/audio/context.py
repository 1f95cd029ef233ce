"""Per-frame design matrices for audio→mouth models: normalised features with temporal context.

Context is pooled over windows (mean of the features in each window) instead of stacking every
frame, which keeps the matrix small enough to fit on a few hundred calibration frames. Windows reach
further into the future than into the past because the lips lead the sound (anticipation).
"""

from __future__ import annotations

import numpy as np

from openlipsync.engine.audio.features import FrameFeatures
from openlipsync.engine.audio.phones import PhoneTrack

# (start, end) frame offsets, inclusive, relative to the current frame at 25 fps (scaled for other
# rates): ±80 ms. Longer context overfits the few hundred frames a calibration clip offers.
CONTEXT_WINDOWS: tuple[tuple[int, int], ...] = ((-2, -1), (0, 0), (1, 2))
N_BANDS = 8


def acoustic_matrix(feats: FrameFeatures, speech: np.ndarray) -> np.ndarray:
    """(n, N_BANDS + 5) features normalised over this audio's speech frames (gain/channel invariant)."""
    lm = feats.logmel
    bands = lm[:, : (lm.shape[1] // N_BANDS) * N_BANDS].reshape(lm.shape[0], N_BANDS, -1).mean(axis=2)
    bands = bands - bands.mean(axis=1, keepdims=True)  # spectral shape, loudness is its own column
    x = np.column_stack([bands, feats.energy, feats.tilt, feats.centroid, feats.zcr, feats.voicing])
    return _normalise(x.astype(np.float64), speech)


def logmel_matrix(feats: FrameFeatures, speech: np.ndarray) -> np.ndarray:
    """(n, N_MELS) log-mel energies normalised over this audio's speech frames."""
    return _normalise(feats.logmel.astype(np.float64), speech)


def phone_matrix(track: PhoneTrack | None, n: int) -> np.ndarray:
    """(n, 3 + classes) phone cues, or an empty (n, 0) matrix when no phones were recognised."""
    if track is None:
        return np.zeros((n, 0))
    return np.column_stack([track.opening * 5.0, track.width * 5.0, track.closure, track.classes])


def _normalise(x: np.ndarray, speech: np.ndarray) -> np.ndarray:
    ref = x[speech] if speech.sum() >= 10 else x
    mu = ref.mean(axis=0)
    sd = ref.std(axis=0)
    sd = np.where(sd < 1e-6, 1.0, sd)
    return np.clip((x - mu) / sd, -5, 5)


def with_context(x: np.ndarray, windows: tuple[tuple[int, int], ...] = CONTEXT_WINDOWS,
                 fps: float = 25.0) -> np.ndarray:
    """Mean of ``x`` over each window of frame offsets (scaled from 25 fps to ``fps``), side by side."""
    n = x.shape[0]
    if n == 0 or x.shape[1] == 0:
        return np.zeros((n, 0))
    scale = fps / 25.0
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    cols = []
    for a, b in windows:
        a, b = int(round(a * scale)), int(round(b * scale))
        lo = np.clip(np.arange(n) + a, 0, n)
        hi = np.clip(np.arange(n) + b + 1, 0, n)
        lo = np.minimum(lo, n - 1)
        hi = np.maximum(hi, lo + 1)
        cols.append((csum[hi] - csum[lo]) / (hi - lo)[:, None])
    return np.hstack(cols)
