"""Pixel fidelity of an output against its visual input: PSNR outside the lower face, seams, edited frames."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openlipsync.evaluation.metrics import inter_ocular, psnr, psnr_from_sse

LOWER_FACE = np.concatenate([np.arange(1, 16), np.arange(28, 36)])  # jaw 1-15 and nose
MASK_MARGIN_IOD = 0.35  # "generous": the lower-face hull grown by this many inter-ocular distances
EDIT_THRESHOLD = 8.0  # grey levels of (5×5 blurred) difference that count as an edit; re-encode noise stays < 6
MIN_EDIT_AREA = 30  # pixels


def lower_face_mask(shape: tuple[int, int], marks: np.ndarray) -> np.ndarray:
    """H×W bool: the generous lower-face region (mouth, jaw, chin, nose) of one frame; empty without a face."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    if not np.isfinite(marks).all():
        return mask.astype(bool)
    pts = marks[LOWER_FACE].astype(np.float64)
    centre = pts.mean(axis=0)
    radial = pts - centre
    norm = np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-6)
    # grow the hull outward by a margin (cheaper than a morphological dilation with a huge kernel)
    grown = pts + radial / norm * MASK_MARGIN_IOD * float(inter_ocular(marks[None])[0])
    cv2.fillConvexPoly(mask, cv2.convexHull(grown.round().astype(np.int32)), 1)
    return mask.astype(bool)


def _bbox(mask: np.ndarray, pad: int = 4) -> tuple[slice, slice] | None:
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if len(ys) == 0:
        return None
    h, w = mask.shape
    return (slice(max(0, ys[0] - pad), min(h, ys[-1] + pad + 1)), slice(max(0, xs[0] - pad), min(w, xs[-1] + pad + 1)))


def _grey(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32).mean(axis=2)


def edit_region(src: np.ndarray, out: np.ndarray) -> np.ndarray:
    """H×W bool: where ``out`` visibly differs from ``src`` (blurred difference above the threshold)."""
    import cv2

    diff = cv2.blur(np.abs(_grey(out) - _grey(src)), (5, 5))
    region = (diff > EDIT_THRESHOLD).astype(np.uint8)
    region = cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return region.astype(bool)


def seam_strength(src: np.ndarray, out: np.ndarray, region: np.ndarray) -> float | None:
    """Extra edge energy on the border of the edited region, in grey levels per pixel.

    A feathered blend crosses its border smoothly, so the output has no more gradient there than the
    input (≈ 0); a pasted box or hard mask edge adds a step (tens of grey levels). None without an edit.
    """
    import cv2

    if region.sum() < MIN_EDIT_AREA:
        return None
    r = region.astype(np.uint8)
    # the thresholded blurred difference ends a few pixels outside a hard edge, so look ±3 px around it
    kernel = np.ones((7, 7), np.uint8)
    band = (cv2.dilate(r, kernel) - cv2.erode(r, kernel)).astype(bool)

    def grad(img: np.ndarray) -> np.ndarray:
        g = _grey(img)
        return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 4

    excess = np.maximum(grad(out)[band] - grad(src)[band], 0)
    return float(excess.mean()) if excess.size else None


@dataclass
class FidelityAccumulator:
    """Pools PSNR outside the lower face, seam strength and edited-frame counts over a video."""

    sse: float = 0.0
    count: int = 0
    worst_frame_psnr: float = float("inf")
    seams: list[float] = field(default_factory=list)
    frames: int = 0
    frames_changed: int = 0

    def add(self, src: np.ndarray, out: np.ndarray, marks: np.ndarray) -> None:
        """Compare one output frame with the input frame it was made from (``marks``: input landmarks)."""
        inside = lower_face_mask(src.shape[:2], marks)
        value, sse = psnr(src, out, ~inside)
        self.sse += sse
        self.count += int((~inside).sum()) * src.shape[2]
        self.worst_frame_psnr = min(self.worst_frame_psnr, value)
        self.frames += 1
        box = _bbox(inside)
        if box is None:
            return
        # edits are looked for inside the lower face only; anything outside already costs PSNR
        region = edit_region(src[box], out[box]) & inside[box]
        seam = seam_strength(src[box], out[box], region)
        if seam is not None:
            self.frames_changed += 1
            self.seams.append(seam)

    @property
    def psnr_outside(self) -> float:
        return psnr_from_sse(self.sse, self.count)

    @property
    def seam(self) -> float:
        return float(np.mean(self.seams)) if self.seams else 0.0
