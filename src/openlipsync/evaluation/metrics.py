"""Quality metrics on 68-point (iBUG-300W) landmark sequences and frames. Pure numpy, no I/O.

Landmark sequences are ``(n, 68, 2)`` float arrays in pixels with NaN rows for frames without a face.
All shape measures are normalised by the inter-ocular distance (eye-centre to eye-centre) so they do
not depend on resolution or face size.
"""

from __future__ import annotations

import math

import numpy as np

# iBUG-300W 68-point layout
JAW = np.arange(0, 17)
NOSE = np.arange(27, 36)
RIGHT_EYE = np.arange(36, 42)  # subject's right = image left
LEFT_EYE = np.arange(42, 48)
MOUTH = np.arange(48, 68)  # 12 outer + 8 inner lip points
INNER_PAIRS = ((61, 67), (62, 66), (63, 65))  # upper/lower inner-lip points facing each other
STABLE = np.concatenate([RIGHT_EYE, LEFT_EYE, NOSE])  # do not move when speaking

PSNR_CAP = 99.0  # identical images: report this instead of infinity (keeps JSON finite)


def valid_mask(landmarks: np.ndarray) -> np.ndarray:
    """(n,) bool: frames with a measured face."""
    return ~np.isnan(landmarks).any(axis=(1, 2))


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """(n,) distance between the two eye centres in pixels."""
    right = landmarks[:, RIGHT_EYE].mean(axis=1)
    left = landmarks[:, LEFT_EYE].mean(axis=1)
    return np.linalg.norm(left - right, axis=1)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(n,) inner-lip gap (mean of the three facing inner-lip pairs) / inter-ocular distance; NaN without face."""
    gaps = [np.linalg.norm(landmarks[:, a] - landmarks[:, b], axis=1) for a, b in INNER_PAIRS]
    return np.mean(gaps, axis=0) / inter_ocular(landmarks)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation over frames where both are finite; NaN when undefined (constant or < 3 frames)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return math.nan
    xa, ya = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    denom = math.sqrt(float((xa * xa).sum() * (ya * ya).sum()))
    if denom < 1e-12:
        return math.nan
    return float((xa * ya).sum() / denom)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×3 least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Umeyama (1991), "Least-squares estimation of transformation parameters between two point patterns".
    """
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    var_s = (s * s).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ sign) / var_s) if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def mouth_lmd(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(n,) mouth landmark distance per frame.

    The predicted face is aligned onto the true face by a similarity transform of the eye and nose points
    (which do not move with speech); then the mean Euclidean distance of the 20 mouth points is divided by
    the true face's inter-ocular distance. NaN where either face is missing.
    """
    out = np.full(len(pred), np.nan)
    ok = valid_mask(pred) & valid_mask(truth)
    iod = inter_ocular(truth)
    for i in np.flatnonzero(ok):
        m = similarity_transform(pred[i, STABLE], truth[i, STABLE])
        mouth = pred[i, MOUTH] @ m[:, :2].T + m[:, 2]
        out[i] = np.linalg.norm(mouth - truth[i, MOUTH], axis=1).mean() / iod[i]
    return out


def best_lag(envelope: np.ndarray, opening: np.ndarray, max_lag: int) -> tuple[int | None, float]:
    """Lag in frames (within ±max_lag) maximising corr(envelope[t], opening[t + lag]), and that correlation.

    Positive lag: the mouth moves *after* the sound. ``None`` when no lag gives a defined correlation.
    """
    best: tuple[int | None, float] = (None, -math.inf)
    n = min(len(envelope), len(opening))
    for lag in range(-max_lag, max_lag + 1):
        a0, b0 = max(0, -lag), max(0, lag)  # envelope[t] pairs with opening[t + lag]
        r = pearson(envelope[a0:n - b0], opening[b0:n - a0])
        if math.isfinite(r) and r > best[1]:
            best = (lag, r)
    return best if best[0] is not None else (None, math.nan)


def silence_opening(opening: np.ndarray, silent: np.ndarray, closed: float, open_: float) -> float:
    """Mean mouth opening on ``silent`` frames as a percentage of the clip's real range ``closed..open_``.

    0 % = resting closed like the real speaker at their most closed; 100 % = as open as their open speech.
    NaN when there is no silent frame with a face.
    """
    vals = opening[silent & np.isfinite(opening)]
    if len(vals) == 0 or open_ - closed <= 1e-9:
        return math.nan
    return float((vals.mean() - closed) / (open_ - closed) * 100.0)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(PSNR in dB, summed squared error) of two uint8 images over ``mask`` (H×W bool; all pixels if None).

    Returns the squared-error sum too so callers can pool several frames into one PSNR.
    """
    diff = a.astype(np.float32) - b.astype(np.float32)
    sq = (diff * diff).sum(axis=-1) if diff.ndim == 3 else diff * diff
    channels = a.shape[2] if a.ndim == 3 else 1
    if mask is not None:
        sq = sq[mask]
    count = sq.size * channels
    sse = float(sq.sum())
    return psnr_from_sse(sse, count), sse


def psnr_from_sse(sse: float, count: int) -> float:
    """PSNR (8-bit peak) from a sum of squared errors over ``count`` samples; capped at ``PSNR_CAP``."""
    if count == 0:
        return math.nan
    mse = sse / count
    if mse <= 0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(255.0 * 255.0 / mse))


def nanmedian(values: list[float]) -> float:
    """Median of the finite values; NaN when none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    width = max(1, min(width, len(x)))
    padded = np.pad(x, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def band_limit(x: np.ndarray, fps: float) -> np.ndarray:
    """Remove the slow trend (1 s moving average) and frame noise (3-frame average) of a per-frame signal.

    Syllable-rate motion (2–8 Hz) is what links speech to the mouth; phrase-level loudness drift and
    landmark jitter only blur the cross-correlation peak. NaN frames stay NaN.
    """
    x = np.asarray(x, np.float64)
    bad = ~np.isfinite(x)
    if bad.all():
        return x.copy()
    filled = np.where(bad, np.nanmean(x), x)
    out = _moving_average(filled - _moving_average(filled, int(round(fps))), 3)
    out[bad] = np.nan
    return out


def av_offset(envelope: np.ndarray, opening: np.ndarray, fps: float, max_lag: int) -> tuple[int | None, float]:
    """AV offset in frames (positive = mouth late) and its correlation, on band-limited signals."""
    return best_lag(band_limit(envelope, fps), band_limit(opening, fps), max_lag)
