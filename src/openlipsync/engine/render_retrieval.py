"""lipsync-2 / lipsync-2-pro tiers: show the speaker's own mouth from the library.

Per output frame: place the chosen library mouth on the current face (its canonical crop mapped back
through the frame's similarity), move lips and jaw of the current frame to that mouth's landmarks
(so chin and cheeks agree with the pasted lips), colour-correct the patch to the current frame on a
ring of skin, and blend it through a feathered mask that follows the lips. lipsync-2-pro adds a smooth
shading correction and a multi-band (Laplacian) blend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from openlipsync.engine import blend, geometry, mesh
from openlipsync.engine.library import MouthLibrary
from openlipsync.engine.render_warp import (
    RenderTimes,
    lower_face_region,
    region_maps_many,
    skip_interior,
)
from openlipsync.engine.warp import remap, roi_box

MAX_RESIDUAL = 0.06  # inter-ocular units the retrieved mouth may be warped towards the plan


def _grow(poly: np.ndarray, margin: float) -> np.ndarray:
    """Push a convex-ish polygon outwards by ``margin`` px (radially from its centroid)."""
    c = poly.mean(0)
    v = poly - c
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return c + v * (n + margin) / np.maximum(n, 1e-6)


def _refine_shift(base: np.ndarray, patch: np.ndarray, ring: np.ndarray, max_shift: float
                  ) -> np.ndarray | None:
    """Sub-pixel translation aligning the patch's skin to the current frame's on ``ring`` (ECC,
    Evangelidis & Psarakis 2008); None when it does not converge or would move too far."""
    ys, xs = np.nonzero(ring > 0.05)
    if len(ys) < 50:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    grey_b = cv2.cvtColor(base[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey_p = cv2.cvtColor(patch[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    mask = (ring[y0:y1, x0:x1] > 0.05).astype(np.uint8)
    warp_m: np.ndarray = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 25, 1e-3)
    try:
        _, warp_m = cv2.findTransformECC(grey_b, grey_p, warp_m, cv2.MOTION_TRANSLATION, criteria, mask, 3)
    except cv2.error:
        return None
    shift = warp_m[:, 2].astype(np.float32)
    return shift if float(np.linalg.norm(shift)) <= max_shift else None


@dataclass
class RetrievalRenderer:
    """Renders library mouths onto frames. ``pro`` selects the better (slower) blending."""

    library: MouthLibrary
    pro: bool = False
    times: RenderTimes = field(default_factory=RenderTimes)

    def _patch(self, entry: int, m_frame_to_canon: np.ndarray, offset: np.ndarray, size: tuple[int, int],
               maps: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The entry's crop warped into ROI coordinates, and where it has data.

        ``maps`` (box pixel → its position on the entry's own mouth, before the residual warp) bend the crop
        to the planned opening in the same resampling as its placement."""
        inv = mesh.invert_affine(m_frame_to_canon)
        inv[:, 2] -= offset
        h, w = size
        crop = self.library.crops[entry]
        ones = np.ones(crop.shape[:2], np.float32)
        if maps is None:
            patch = cv2.warpAffine(crop, inv, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            cover = cv2.warpAffine(ones, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=0.0)
            return patch, cover
        a = mesh.shift_affine_input(m_frame_to_canon, -offset).astype(np.float32)  # box pixel → crop
        mx = a[0, 0] * maps[0] + a[0, 1] * maps[1] + a[0, 2]
        my = a[1, 0] * maps[0] + a[1, 1] * maps[1] + a[1, 2]
        patch = cv2.remap(crop, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        cover = cv2.remap(ones, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        return patch, cover

    def _anchor_shift(self, entry: int, lm: np.ndarray, m_frame_to_canon: np.ndarray) -> np.ndarray:
        """Translation putting library mouth ``entry``'s upper lip on the current frame's upper lip.

        The upper lip rides on the skull, but a similarity fitted to eyes and nose cannot follow a nod or a
        turn (foreshortening moves the mouth against the eyes), so mouths from frames with another pose
        would land by several pixels off and jump from frame to frame. Vertically the upper lip is matched;
        across the face the mouth centre (between the corners), because the lip points slide along the
        contour as the mouth changes shape (following them would shift the whole mouth sideways)."""
        upper = mesh.IDX["LIPS_OUTER_UPPER"][1:-1]
        to_frame = mesh.invert_affine(m_frame_to_canon)
        entry_lm = self.library.lm[entry]
        across, down = mesh.face_axes(lm)
        lip = (lm[upper] - mesh.apply_affine(to_frame, entry_lm[upper])).mean(axis=0)
        centre = (lm[61] + lm[291] - mesh.apply_affine(to_frame, entry_lm[[61, 291]]).sum(axis=0)) / 2
        return (float(lip @ down) * down + float(centre @ across) * across).astype(np.float32)

    def _cross_fade(self, patch: np.ndarray, entry: int, prev: int, lm: np.ndarray, m: np.ndarray,
                    origin: np.ndarray, size: tuple[int, int], base: np.ndarray, ring: np.ndarray,
                    maps: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Soften a jump between non-consecutive library frames: mix in half of the previous pick on the
        first frame after the jump, but only between similar shapes (otherwise the teeth would double)."""
        if prev < 0:
            return patch
        lib = self.library
        if prev == entry or lib.src[entry] == lib.src[prev] + 1:
            return patch
        if abs(float(lib.opening[entry] - lib.opening[prev])) > 0.03 or abs(
                float(lib.teeth[entry] - lib.teeth[prev])) > 0.25:
            return patch
        old, _ = self._patch(prev, m, origin - self._anchor_shift(prev, lm, m), size, maps)
        old = blend.match_colour(old, base, ring)
        return cv2.addWeighted(patch, 0.5, old, 0.5, 0.0)

    def render(self, frame: np.ndarray, lm: np.ndarray, pose: np.ndarray, entry: int, prev: int = -1,
               target: float | None = None) -> tuple[np.ndarray, float]:
        """A copy of ``frame`` showing library mouth ``entry``; also returns the rendered opening.

        ``prev``: the entry shown on the previous output frame (-1 when that frame was not rendered
        from the library): a jump from it is cross-faded. Stateless, so frames can render in any order.

        With ``target`` (planned opening), the pasted mouth is also warped by the small residual
        between its own opening and the plan (at most ``MAX_RESIDUAL``), so the mouth follows the plan
        exactly while keeping the real texture. The face and the library crop are each resampled once:
        the residual is folded into their warps."""
        t0 = time.perf_counter()
        lib = self.library
        m = lib.canon.to_canon(lm)
        shift = self._anchor_shift(entry, lm, m)
        lips_dst = mesh.apply_affine(mesh.invert_affine(m), lib.lm[entry][mesh.IDX["LIP_POINTS"]]) + shift
        entry_lm = geometry.move_lips(lm, lips_dst.astype(np.float32))  # the entry's mouth on this face
        region = lower_face_region(lm, frame.shape[:2])
        x0, y0, x1, y1 = region.box
        roi = frame[y0:y1, x0:x1]
        size = roi.shape[:2]
        d = region.d
        opening = float(lib.opening[entry])
        dst_lm = entry_lm
        if target is not None:
            want = float(np.clip(target, opening - MAX_RESIDUAL, opening + MAX_RESIDUAL))
            if abs(want - opening) * d >= 0.5:
                opening = max(want, 0.0)
                dst_lm = geometry.target_landmarks(entry_lm, opening, float(mesh.mouth_width(entry_lm)))
        cur_open = float(mesh.mouth_opening(lm))
        closing = float(np.clip(1.0 - opening / max(cur_open, 1e-3), 0.0, 1.0))
        # the face warp, and with it (same triangulation) the residual from the pasted entry to the plan
        face_src = skip_interior(lm, closing)
        sources = (face_src,) if dst_lm is entry_lm else (face_src, entry_lm)
        face_maps, *residual = region_maps_many(size, sources, dst_lm, region)
        full_base = remap(roi, *face_maps)
        outer = dst_lm[mesh.IDX["LIPS_OUTER"]] - region.offset
        grown_poly = _grow(outer, 0.16 * d)
        sigma = max(1.0, 0.06 * d)
        # everything below happens in the mouth box: where the feathered mouth mask can be nonzero
        bx0, by0, bx1, by1 = roi_box(grown_poly, size, margin=4 * sigma + 2)
        corner = np.array([bx0, by0], np.float32)
        origin, box_size = region.offset + corner, (by1 - by0, bx1 - bx0)
        offset = origin - shift  # the library crop moves with its lips
        maps = None
        if residual:  # over the mouth box, in box coordinates
            rx, ry = residual[0]
            maps = (rx[by0:by1, bx0:bx1] - corner[0], ry[by0:by1, bx0:bx1] - corner[1])
        base = full_base[by0:by1, bx0:bx1]
        patch, cover = self._patch(entry, m, offset, box_size, maps)
        lips = blend.polygon_mask(outer - corner, box_size)
        grown = blend.polygon_mask(grown_poly - corner, box_size)
        alpha = cv2.GaussianBlur(grown, (0, 0), sigma) * np.clip(cover * 2 - 1, 0, 1)
        ring = np.clip(alpha - lips, 0, 1) * (alpha > 0.05)
        if self.pro:
            refine = _refine_shift(base, patch, ring, max_shift=0.04 * d)
            if refine is not None:
                patch, cover = self._patch(entry, m, offset + refine, box_size, maps)
        patch = blend.match_colour(patch, base, ring)
        if self.pro:
            patch = blend.shading_match(patch, base, ring * (1 - lips), sigma=max(2.0, 0.12 * d))
        patch = self._cross_fade(patch, entry, prev, lm, m, origin, box_size, base, ring, maps)
        t1 = time.perf_counter()
        mouth = full_base.copy()
        if self.pro:  # the multi-band blend needs room around the mask for its coarse levels
            mouth[by0:by1, bx0:bx1] = patch
            full_alpha = np.zeros(size, np.float32)
            full_alpha[by0:by1, bx0:bx1] = alpha
            mouth = blend.laplacian_blend(full_base, mouth, full_alpha)
        else:
            mouth[by0:by1, bx0:bx1] = blend.alpha_blend(base, patch, alpha)
        out = frame.copy()
        out[y0:y1, x0:x1] = blend.alpha_blend(roi, mouth, region.mask)
        self.times.render += t1 - t0
        self.times.blend += time.perf_counter() - t1
        return out, opening
