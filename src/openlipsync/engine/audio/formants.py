"""First-formant (F1) tracking by linear prediction.

F1 is the acoustic correlate of jaw opening: open vowels (/a/) have a high F1, close vowels (/i/, /u/)
a low one, in every language. It is estimated the textbook way: the audio is taken to 8 kHz (F1 lies
well below 4 kHz), pre-emphasised, cut into 25 ms Hamming windows on the same 10 ms grid as the other
features, and an order-10 LPC model is fitted per window (autocorrelation method, Levinson–Durbin).
The poles of the model are the vocal tract's resonances; F1 is the lowest one that is narrow enough
to be a formant rather than a spectral slope.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly

LPC_SR = 8_000
LPC_ORDER = 10  # 2 poles per kHz of bandwidth, plus 2 for the glottal and radiation slope
PRE_EMPHASIS = 0.97
F1_MIN_HZ, F1_MAX_HZ = 200.0, 1_200.0
MAX_BANDWIDTH_HZ = 500.0  # wider poles model the spectral tilt, not a resonance
CHUNK_HOPS = 3_000  # 30 s of windows per block: bounded memory on long audio


def first_formant(x: np.ndarray, sr: int, hop: int, win: int) -> np.ndarray:
    """F1 in Hz per ``hop`` samples of ``x`` (mono at ``sr`` Hz), NaN where no formant was found.

    Row k describes the ``win``-sample window centred on the middle of hop k (the grid of
    ``features.fine_features``), so the result has ceil(len(x) / hop) rows.
    """
    k = max(1, int(np.ceil(x.size / hop)))
    # float32 until the per-block LPC: 10 minutes of audio stay ≈ 20 MB per copy
    y = resample_poly(np.asarray(x, np.float32), LPC_SR, sr).astype(np.float32) if x.size else np.zeros(0, np.float32)
    y[1:] -= PRE_EMPHASIS * y[:-1].copy()
    hop, win = round(hop * LPC_SR / sr), round(win * LPC_SR / sr)
    pad = np.zeros(k * hop + win, np.float32)
    start = win // 2 - hop // 2  # window k centred on the middle of hop k
    pad[start:start + y.size] = y[: pad.size - start]
    frames = np.lib.stride_tricks.sliding_window_view(pad, win)[::hop][:k]
    return np.concatenate([_block_f1(frames[i:i + CHUNK_HOPS].astype(np.float64) * np.hamming(win))
                           for i in range(0, k, CHUNK_HOPS)])


def _block_f1(frames: np.ndarray) -> np.ndarray:
    a = lpc(frames, LPC_ORDER)
    n, p = a.shape[0], LPC_ORDER
    companion = np.zeros((n, p, p))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    poles = np.linalg.eigvals(companion)
    freq = np.angle(poles) * LPC_SR / (2 * np.pi)
    bandwidth = -np.log(np.maximum(np.abs(poles), 1e-12)) * LPC_SR / np.pi
    ok = (freq >= F1_MIN_HZ) & (freq <= F1_MAX_HZ) & (bandwidth <= MAX_BANDWIDTH_HZ)
    f1 = np.where(ok, freq, np.inf).min(axis=1)
    return np.where(np.isfinite(f1), f1, np.nan)


def lpc(frames: np.ndarray, order: int) -> np.ndarray:
    """(n, order + 1) prediction polynomials [1, a1, …] of windowed ``frames`` (n, w) by Levinson–Durbin.

    Silent windows give the trivial polynomial [1, 0, …] (no poles inside the unit circle's rim).
    """
    n, w = frames.shape
    r = np.stack([(frames[:, : w - lag] * frames[:, lag:]).sum(axis=1) for lag in range(order + 1)], axis=1)
    r[:, 0] = r[:, 0] * (1 + 1e-9) + 1e-12  # white-noise floor: keeps the recursion stable
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + (a[:, 1:i] * r[:, i - 1:0:-1]).sum(axis=1)
        k = -acc / err
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1:0:-1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a
