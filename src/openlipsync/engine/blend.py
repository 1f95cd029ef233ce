"""Compositing: feathered masks that follow the face, alpha and multi-band blending, colour matching."""

from __future__ import annotations

import cv2
import numpy as np


def _polygon_u8(poly: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def _to_unit(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.float32) * (1.0 / 255.0)


def polygon_mask(poly: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Filled, anti-aliased polygon as float32 in [0, 1] of shape ``size`` (h, w); ``poly`` in ROI pixels."""
    return _to_unit(_polygon_u8(poly, size))


def feather(mask: np.ndarray, sigma: float, *, inside: bool = True) -> np.ndarray:
    """Soft edge of width ~2σ. ``inside=True`` keeps the result zero outside the original mask (the
    feather eats inwards), so nothing outside the polygon can change. ``mask``: float32 in [0, 1], or
    uint8 in [0, 255] (the same result, eroded faster); returns float32."""
    unit = _to_unit(mask) if mask.dtype == np.uint8 else mask
    if sigma <= 0.3:
        return unit
    if inside:
        k = max(1, int(round(2 * sigma)))
        # erosion (a minimum) commutes with the scaling to [0, 1]: erode the 8-bit mask when given one
        eroded = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
        soft = cv2.GaussianBlur(_to_unit(eroded) if mask.dtype == np.uint8 else eroded, (0, 0), sigma)
        return np.minimum(soft, unit)
    return cv2.GaussianBlur(unit, (0, 0), sigma)


def feathered_polygon(poly: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """``feather(polygon_mask(poly, size), sigma)``, computed on the 8-bit mask."""
    return feather(_polygon_u8(poly, size), sigma)


def alpha_blend(base: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``base*(1-α) + top*α`` as uint8; pixels with α == 0 are returned byte-identical."""
    a = np.ascontiguousarray(alpha, np.float32)
    if top.dtype != np.uint8:
        top = np.clip(top + 0.5, 0, 255).astype(np.uint8)
    # where α == 0 the weighted mean is base·1 / 1: exact, no copy-back needed
    return cv2.blendLinear(np.ascontiguousarray(base), np.ascontiguousarray(top), 1.0 - a, a)


def match_colour(patch: np.ndarray, ref: np.ndarray, weight: np.ndarray, *, max_gain: float = 1.25
                 ) -> np.ndarray:
    """Shift ``patch`` so its mean/contrast in Lab equals ``ref``'s over ``weight`` (float32 h×w).

    Reinhard et al. 2001 colour transfer restricted to a ring of skin, so lighting changes between the
    library frame and the current frame do not show as a patch.
    """
    sel = weight > 0.05
    if int(sel.sum()) < 8:
        return patch
    ys, xs = np.nonzero(sel)
    box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)  # the ring's box: only it is measured
    inside = sel[box]
    w = weight[box][inside].astype(np.float64)
    w /= float(w.sum())
    lab_p = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB)
    pat_px = lab_p[box][inside].astype(np.float64)
    ref_px = cv2.cvtColor(np.ascontiguousarray(ref[box]), cv2.COLOR_RGB2LAB)[inside].astype(np.float64)
    mu_p, mu_r = w @ pat_px, w @ ref_px
    sd_p = np.sqrt(np.maximum(w @ (pat_px * pat_px) - mu_p * mu_p, 0.0)) + 1e-3
    sd_r = np.sqrt(np.maximum(w @ (ref_px * ref_px) - mu_r * mu_r, 0.0)) + 1e-3
    gain = np.clip(sd_r / sd_p, 1 / max_gain, max_gain)
    gain[1:] = 1.0  # chroma: shift only (lip colour must not be stretched)
    # per channel (x − μ_patch)·gain + μ_ref, as one affine transform of the whole patch
    affine = np.zeros((3, 4), np.float32)
    affine[[0, 1, 2], [0, 1, 2]] = gain
    affine[:, 3] = mu_r - gain * mu_p
    out = cv2.transform(lab_p.astype(np.float32), affine)
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def shading_match(patch: np.ndarray, ref: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Low-frequency correction: add the smooth difference ref−patch measured where ``weight`` is high
    (normalised convolution), so gradients of light across the mouth region follow the current frame."""
    w = weight.astype(np.float32)
    diff = (ref.astype(np.float32) - patch.astype(np.float32)) * w[..., None]
    num = cv2.GaussianBlur(diff, (0, 0), sigma)
    den = cv2.GaussianBlur(w, (0, 0), sigma)[..., None]
    corr = num / np.maximum(den, 1e-3)
    corr *= np.clip(den / max(float(den.max()), 1e-3) * 4, 0, 1)  # fade where no evidence
    return np.clip(patch.astype(np.float32) + corr, 0, 255).astype(np.uint8)


def laplacian_blend(base: np.ndarray, top: np.ndarray, alpha: np.ndarray, levels: int = 4) -> np.ndarray:
    """Multi-band blend (Burt & Adelson 1983): low frequencies mix over wide transitions, fine detail over
    narrow ones, so the seam disappears without blurring the teeth. Exact where ``alpha`` == 0."""
    h, w = alpha.shape
    # the coarsest level must still resolve the mask, or low frequencies leak across it
    extent = float(np.sqrt(max(1.0, float((alpha > 0.5).sum()))))
    levels = int(np.clip(np.log2(max(extent, 1.0) / 6.0), 1, min(levels, np.log2(max(4, min(h, w))) - 2)))
    a, b = base.astype(np.float32), top.astype(np.float32)
    m = alpha.astype(np.float32)
    ga: list[np.ndarray] = [a]
    gb: list[np.ndarray] = [b]
    gm: list[np.ndarray] = [m]
    for _ in range(levels):
        ga.append(cv2.pyrDown(ga[-1]))
        gb.append(cv2.pyrDown(gb[-1]))
        gm.append(cv2.pyrDown(gm[-1]))
    out = ga[-1] * (1 - gm[-1][..., None]) + gb[-1] * gm[-1][..., None]
    for lev in range(levels - 1, -1, -1):
        size = (ga[lev].shape[1], ga[lev].shape[0])
        la = ga[lev] - cv2.pyrUp(ga[lev + 1], dstsize=size)
        lb = gb[lev] - cv2.pyrUp(gb[lev + 1], dstsize=size)
        mk = gm[lev][..., None]
        out = cv2.pyrUp(out, dstsize=size) + la * (1 - mk) + lb * mk
    res = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    np.copyto(res, base, where=(alpha <= 0)[..., None])
    return res
