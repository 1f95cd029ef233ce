"""Voice activity per video frame: webrtcvad when available, an energy gate otherwise, then cleaned up
(short gaps inside speech are bridged, very short bursts dropped) so the mouth does not twitch."""

from __future__ import annotations

import logging

import numpy as np

from openlipsync.engine.audio.features import ANALYSIS_SR, FrameFeatures

log = logging.getLogger("openlipsync.engine.audio")

_VAD_MS = 30


def _webrtc_fine(x: np.ndarray, mode: int) -> np.ndarray | None:
    """Per-30 ms speech decisions, or None when webrtcvad is unavailable."""
    try:
        import webrtcvad
    except ImportError:  # pragma: no cover - dependency is declared, but degrade gracefully
        return None
    vad = webrtcvad.Vad(mode)
    step = ANALYSIS_SR * _VAD_MS // 1000
    n = x.size // step
    pcm = (np.clip(x[: n * step], -1, 1) * 32767).astype("<i2").tobytes()
    out = np.zeros(n, bool)
    for i in range(n):
        out[i] = vad.is_speech(pcm[2 * i * step: 2 * (i + 1) * step], ANALYSIS_SR)
    return out


def _energy_gate(energy_db: np.ndarray) -> np.ndarray:
    """Speech where the level is well above the clip's noise floor (robust to overall gain)."""
    loud = energy_db[energy_db > -75]
    if loud.size == 0:
        return np.zeros_like(energy_db, bool)
    floor = np.percentile(loud, 10)
    peak = np.percentile(loud, 95)
    thr = max(floor + 0.35 * (peak - floor), peak - 35.0, -60.0)
    return energy_db > thr


def _bridge(mask: np.ndarray, max_gap: int, min_run: int) -> np.ndarray:
    """Fill False gaps ≤ max_gap frames between speech, then drop True runs shorter than min_run."""
    m = mask.copy()
    n = m.size

    def runs(value: bool) -> list[tuple[int, int]]:
        out, i = [], 0
        while i < n:
            if m[i] == value:
                j = i
                while j < n and m[j] == value:
                    j += 1
                out.append((i, j))
                i = j
            else:
                i += 1
        return out

    for a, b in runs(False):
        if a > 0 and b < n and b - a <= max_gap:
            m[a:b] = True
    for a, b in runs(True):
        if b - a < min_run:
            m[a:b] = False
    return m


def speech_mask(x16k: np.ndarray, feats: FrameFeatures, fps: float, *, mode: int = 2) -> np.ndarray:
    """(n,) bool voice activity per video frame. ``x16k`` is the audio at ANALYSIS_SR."""
    n = feats.frame_count
    gate = _energy_gate(feats.energy)
    fine = _webrtc_fine(x16k, mode) if x16k.size >= ANALYSIS_SR * _VAD_MS // 1000 else None
    if fine is not None and fine.any():
        t = np.arange(n) / fps  # the frame's instant (see features.frame_edges)
        idx = np.minimum((t * 1000 / _VAD_MS).astype(np.int64), fine.size - 1)
        web = fine[idx] & (np.arange(n) / fps * 1000 / _VAD_MS < fine.size)
        # webrtcvad happily flags steady noise/tones as speech; require some level too
        mask = web & (feats.energy > max(-55.0, float(np.percentile(feats.energy, 5)) + 6.0))
        mask |= gate & web
    else:
        mask = gate
    mask &= feats.energy > -60.0
    gap = max(1, int(round(0.12 * fps)))  # pauses < 120 ms are stop closures, not silence
    min_run = max(1, int(round(0.06 * fps)))
    return _bridge(mask, gap, min_run)
