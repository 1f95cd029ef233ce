"""Synthetic mouth interior for photos and short clips: dark cavity, upper-teeth band, tongue hint.

Used when the target opening exceeds what the source pixels show (the warp would otherwise stretch
the lip line into a smear). Colours are derived from the current frame so the interior matches the
lighting: the cavity is a dark version of the lip colour, the teeth a desaturated bright tone.
"""

from __future__ import annotations

import cv2
import numpy as np

from openlipsync.engine import blend

_GREY_MEAN = np.full((1, 3), 1 / 3, np.float32)  # for cv2.transform: the mean of the three channels


def _curve_mask(upper: np.ndarray, thickness: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Band below the polyline ``upper`` (k,2) whose thickness varies per point."""
    lower = upper + np.stack([np.zeros_like(thickness), thickness], axis=1)
    poly = np.concatenate([upper, lower[::-1]])
    return blend.polygon_mask(poly, size)


def _resample(curve: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced in x along a left-to-right polyline (smooth polygon edges)."""
    order = np.argsort(curve[:, 0])
    xs = np.linspace(curve[order[0], 0], curve[order[-1], 0], n)
    return np.stack([xs, np.interp(xs, curve[order, 0], curve[order, 1])], axis=1)


def lip_colour(roi: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Mean RGB of the lips (between the outer and inner contour)."""
    h, w = roi.shape[:2]
    # only the box around the outer contour can be inside it (+1 px of anti-aliased edge)
    x0, y0 = np.clip(np.floor(outer.min(0)).astype(int) - 1, 0, [w, h])
    x1, y1 = np.clip(np.ceil(outer.max(0)).astype(int) + 2, 0, [w, h])
    origin = np.array([x0, y0], np.float32)
    size = (int(y1 - y0), int(x1 - x0))
    fallback = np.array([150.0, 80.0, 80.0])
    if size[0] <= 0 or size[1] <= 0:
        return fallback
    ring = blend.polygon_mask(outer - origin, size) * (1 - blend.polygon_mask(inner - origin, size))
    if ring.sum() < 4:
        return fallback
    return (roi[y0:y1, x0:x1].reshape(-1, 3) * ring.reshape(-1, 1)).sum(0) / ring.sum()


def render_interior(roi: np.ndarray, inner: np.ndarray, upper_inner: np.ndarray, open_px: float,
                    d: float, lips: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Paint a mouth interior into ``roi`` inside the inner-lip polygon ``inner`` (ROI coordinates).

    ``upper_inner``: the upper inner-lip polyline (corner to corner); ``lips``: mean lip RGB;
    ``where`` (h×w float in [0, 1]) limits the painting to pixels the source cannot provide.
    """
    if open_px < 1.0 or float(where.max()) <= 0:
        return roi
    # work on the box around the mouth only
    h, w = roi.shape[:2]
    pad = 3 + int(0.02 * d)
    x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + pad + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return roi
    off = np.array([x0, y0], np.float32)
    bright = float(np.percentile(cv2.transform(roi.astype(np.float32), _GREY_MEAN), 97))
    out = roi.copy()
    out[y0:y1, x0:x1] = _paint(roi[y0:y1, x0:x1], inner - off, upper_inner - off, open_px, d, lips,
                               where[y0:y1, x0:x1], bright)
    return out


def _paint(roi: np.ndarray, inner: np.ndarray, upper_inner: np.ndarray, open_px: float, d: float,
           lips: np.ndarray, where: np.ndarray, bright: float) -> np.ndarray:
    size = roi.shape[:2]
    hole = blend.polygon_mask(inner, size)
    if hole.sum() < 3:
        return roi
    ys, xs = np.nonzero(hole)
    cx, cy = xs.mean(), ys.mean()
    half_w = max(np.ptp(upper_inner[:, 0]) / 2, 1.0)
    # cavity: dark lip tone, darkest at the back (centre), lighter near the lips
    yy, xx = np.mgrid[0:size[0], 0:size[1]].astype(np.float32)
    r = np.sqrt(((xx - cx) / half_w) ** 2 + ((yy - cy) / max(open_px / 2, 1.0)) ** 2)
    shade = np.clip(0.16 + 0.22 * r, 0.16, 0.42)[..., None]
    cavity = lips[None, None, :] * shade
    # tongue hint: a slightly lighter, redder mass in the lower half when wide open
    tongue_w = np.clip((yy - cy) / max(open_px / 2, 1.0), 0, 1) * np.clip(1 - np.abs(xx - cx) / half_w, 0, 1)
    tongue = lips[None, None, :] * np.array([0.55, 0.32, 0.32])
    cavity = cavity * (1 - 0.5 * tongue_w[..., None]) + tongue * 0.5 * tongue_w[..., None]
    # upper teeth: a band hanging from the upper inner lip, fading towards the corners
    tone = min(242.0, 0.9 * bright + 28.0)
    curve = _resample(upper_inner, 40)
    u = (curve[:, 0] - cx) / half_w
    thick = np.minimum(0.45 * open_px, 0.12 * d) * np.clip(1 - u**2, 0, 1) ** 0.35
    top = curve + np.stack([np.zeros_like(thick), np.full_like(thick, 0.6)], axis=1)
    teeth = cv2.GaussianBlur(_curve_mask(top, thick, size), (0, 0), max(0.7, d * 0.008))
    # teeth fade into the shadow towards the corners; slightly darker at their lower edge
    teeth *= np.clip(1.3 - (np.abs(xx - cx) / half_w) ** 2, 0, 1)
    depth = np.clip((yy - (cy - open_px / 2)) / max(0.12 * d, 1.0), 0, 1)
    tooth = (tone * (1.0 - 0.1 * depth))[..., None] * np.array([1.0, 0.97, 0.92])
    interior = cavity * (1 - teeth[..., None]) + tooth * teeth[..., None]
    # cover the whole gap (its blurred edge would let warped pixels show through), fade outside it
    grown = cv2.dilate(where.astype(np.float32), np.ones((3, 3), np.uint8))
    soft = cv2.GaussianBlur(grown, (0, 0), max(0.7, d * 0.01))
    alpha = blend.feather(hole, max(0.6, d * 0.008)) * np.clip(soft * 1.6, 0, 1)
    return blend.alpha_blend(roi, np.clip(interior, 0, 255), alpha)
