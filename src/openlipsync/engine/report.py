"""The sync report: audio-visual offset of the rendered mouth, and what was edited or passed through."""

from __future__ import annotations

from collections import Counter

import numpy as np

from openlipsync.engine.audio.features import frame_edges
from openlipsync.options import SyncReport


def speech_envelope(audio: np.ndarray, sr: int, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames,) log-RMS loudness of ``audio`` per video frame (a window of one frame centred on the
    frame's instant, ``features.frame_edges``)."""
    edges = frame_edges(n_frames, fps, sr)
    env = np.zeros(n_frames, np.float64)
    for i in range(n_frames):
        seg = audio[edges[i]:edges[i + 1]]
        env[i] = np.sqrt(np.mean(seg.astype(np.float64) ** 2)) if len(seg) else 0.0
    return np.log10(env + 1e-4)


def _zcorr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 4 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def av_offset(envelope: np.ndarray, opening: np.ndarray, valid: np.ndarray, max_lag: int = 8
              ) -> tuple[float | None, float]:
    """Lag (frames; positive = mouth later than the sound) maximising the correlation between the speech
    envelope and the mouth opening, and a confidence in [0, 1] (the peak correlation, reduced when other
    lags score almost as well)."""
    n = len(opening)
    if valid.sum() < 8:
        return None, 0.0
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        i = np.arange(max(0, lag), min(n, n + lag))
        j = i - lag
        ok = valid[i]
        scores[lag] = _zcorr(envelope[j][ok], opening[i][ok])
    best = max(scores, key=lambda k: scores[k])
    peak = scores[best]
    if peak <= 0:
        return None, 0.0
    far = [v for k, v in scores.items() if abs(k - best) > 2]
    margin = peak - max(far) if far else peak
    return float(best), float(np.clip(peak * min(1.0, 0.5 + 2 * margin), 0.0, 1.0))


def build_report(n_frames: int, edited: np.ndarray, reasons: list[str], envelope: np.ndarray,
                 opening: np.ndarray, face_count_max: int, notes: tuple[str, ...] = ()) -> SyncReport:
    """Summarise one run. ``edited``: (n,) bool per output frame; ``reasons``: why each other frame was
    passed through; ``opening``: rendered mouth opening per output frame."""
    lag, conf = av_offset(envelope, opening, edited)
    counts = Counter(r for r, e in zip(reasons, edited, strict=True) if not e)
    n_edit = int(edited.sum())
    return SyncReport(lag, round(conf, 3), n_frames, n_edit, n_frames - n_edit, dict(counts),
                      face_count_max, notes)
