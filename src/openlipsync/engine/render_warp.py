"""lipsync-1.9 tier: reshape the speaker's mouth by warping lips and jaw, synthesise the interior.

Per frame: move the lip landmarks to the target opening/width (jaw and chin follow), warp the lower
face piecewise-affinely on its ROI only, paint a mouth interior where the mouth opens wider than the
source shows, and blend back through a feathered mask shaped like the lower face.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from openlipsync.engine import blend, geometry, interior, mesh, warp

# Lab lightness differences from the lip colour that mark leftover interior inside closed lips: cavity
# (darker) and teeth (brighter and colourless); lip shading and highlights stay well within them.
STRAY_DARK = 35.0
STRAY_BRIGHT = 30.0
STRAY_CAVITY = 60.0  # around the corners only the cavity's near-black counts (corners are shadowed anyway)
# Mouths opened less than this (inter-ocular units) show no interior that closing could leave behind.
MEND_MIN_OPENING = 0.06


@dataclass
class RenderTimes:
    """Seconds spent in the render (geometry, warp, texture) and blend (compositing) steps."""

    render: float = 0.0
    blend: float = 0.0


@dataclass
class Region:
    """The lower-face ROI of one frame: box, control points and feathered mask (ROI coordinates)."""

    box: tuple[int, int, int, int]
    offset: np.ndarray
    poly: np.ndarray
    mask: np.ndarray
    d: float


def lower_face_region(lm: np.ndarray, shape: tuple[int, int]) -> Region:
    """The editable lower-face region of a frame with landmarks ``lm``."""
    poly = geometry.lower_face_polygon(lm)
    box = warp.roi_box(poly, shape, margin=2)
    offset = np.array(box[:2], np.float32)
    size = (box[3] - box[1], box[2] - box[0])
    d = float(mesh.interocular(lm))
    mask = blend.feathered_polygon(poly - offset, size, max(1.0, 0.05 * d))
    return Region(box, offset, poly - offset, mask, d)


def region_maps(size: tuple[int, int], lm: np.ndarray, dst_lm: np.ndarray, region: Region,
                exclude: np.ndarray | None = None, rows: tuple[int, int] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Remap maps moving landmarks ``lm`` to ``dst_lm`` (mesh points ``exclude`` do not take part);
    the region outline stays fixed. ``rows``: only those rows (see ``warp.backward_maps``)."""
    return region_maps_many(size, (lm,), dst_lm, region, exclude, rows)[0]


def region_maps_many(size: tuple[int, int], sources: tuple[np.ndarray, ...], dst_lm: np.ndarray, region: Region,
                     exclude: np.ndarray | None = None, rows: tuple[int, int] | None = None
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``region_maps`` to ``dst_lm`` from each landmark set of ``sources``, on one triangulation."""
    face = np.ones(468, bool)
    if exclude is not None:
        face[exclude] = False
    dst = dst_lm[:468][face] - region.offset
    keep = blend_inside(region, dst)
    ctrl_dst = np.concatenate([dst[keep], region.poly])
    ctrl_src = tuple(np.concatenate([(lm[:468][face] - region.offset)[keep], region.poly]) for lm in sources)
    # grid step grows with the face: the displacement field is smooth at the scale of the mesh
    step = int(np.clip(region.d / 20.0, 4, 10))
    return warp.backward_maps_many(ctrl_dst, ctrl_src, size, step=step, rows=rows)


def _extend(curve: np.ndarray, w: int, h: int, across: np.ndarray, below: bool) -> np.ndarray:
    """Close a corner-to-corner curve into a polygon covering everything above (or below) it."""
    left = curve[0] - across * 4 * w
    right = curve[-1] + across * 4 * w
    far = 4.0 * (h + w)
    edge_y = far if below else -far
    return np.concatenate([[left], curve, [right], [[right[0], edge_y]], [[left[0], edge_y]]])


def layered_warp(roi: np.ndarray, lm: np.ndarray, dst_lm: np.ndarray, region: Region
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Warp upper and lower face separately and join them inside the mouth.

    The upper layer carries the upper lip and upper teeth (fixed to the skull), the lower layer the lower
    lip, lower teeth and jaw. Each layer shows at most half of the source gap next to its lip, so
    nothing is duplicated; returns (image, gap mask) where the gap mask marks mouth interior that
    neither layer can show (to be synthesised).
    """
    h, w = roi.shape[:2]
    across, down = mesh.face_axes(lm)
    up_i, lo_i = mesh.IDX["LIPS_INNER_UPPER"], mesh.IDX["LIPS_INNER_LOWER"]
    src_gap = np.maximum((lm[lo_i] - lm[up_i]) @ down, 0.0)
    dst_u, dst_l = dst_lm[up_i] - region.offset, dst_lm[lo_i] - region.offset
    dst_gap = np.maximum((dst_l - dst_u) @ down, 0.0)
    half = np.minimum(src_gap, dst_gap) / 2
    split_u = dst_u + np.outer(half, down)
    split_l = dst_l - np.outer(half, down)
    above = blend.polygon_mask(_extend(split_u, w, h, across, below=False), (h, w))
    below = blend.polygon_mask(_extend(split_l, w, h, across, below=True), (h, w))
    below = np.minimum(below, 1.0 - above)
    gap = np.clip(1.0 - above - below, 0.0, 1.0)
    # join the layers by colour (mixing coordinates would sample the interior along the seam)
    wu, wl = above + 0.5 * gap, below + 0.5 * gap
    layers = []
    for weight, exclude in ((wu, mesh.IDX["LOWER_LIP"]), (wl, mesh.IDX["UPPER_LIP"])):
        # each layer is warped only on the rows where it shows
        shown = np.flatnonzero(weight.max(axis=1) > 0)
        layer = np.zeros_like(roi)
        if shown.size:
            rows = (int(shown[0]), int(shown[-1]) + 1)
            mx, my = region_maps((h, w), lm, dst_lm, region, exclude=exclude, rows=rows)
            layer[rows[0]:rows[1]] = warp.remap(roi, mx, my)
        layers.append(layer)
    out = cv2.blendLinear(layers[0], layers[1], np.ascontiguousarray(wu), np.ascontiguousarray(wl))
    return out, gap


def blend_inside(region: Region, pts: np.ndarray) -> np.ndarray:
    """Which points lie inside the region's mask (nonzero alpha)."""
    h, w = region.mask.shape
    xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    return region.mask[yi, xi] > 0


def skip_interior(lm: np.ndarray, closing: float) -> np.ndarray:
    """Source landmarks with the inner lips pulled into the lips by ``closing`` (0..1).

    When the mouth closes, the warp then samples lip tissue on both sides of the meeting line instead of
    squashing the teeth into a crumpled line."""
    if closing <= 0:
        return lm
    _, down = mesh.face_axes(lm)
    out = lm.copy()
    for inner, outer, sign in ((mesh.IDX["LIPS_INNER_UPPER"], mesh.IDX["LIPS_OUTER_UPPER"], -1.0),
                               (mesh.IDX["LIPS_INNER_LOWER"], mesh.IDX["LIPS_OUTER_LOWER"], 1.0)):
        thick = np.abs((lm[outer] - lm[inner]) @ down)
        out[inner] = lm[inner] + np.outer(sign * closing * 0.35 * thick, down)
    return out


def mend_closed_lips(warped: np.ndarray, outer: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """Fill what is left of the mouth interior (dark cavity, teeth) inside lips the warp has closed.

    On a wide-open mouth the inner-lip landmarks often sit on the teeth or in the cavity rather than on
    the lip edge, so closing it carries bits of interior into the lips. Inside the closed outer-lip
    contour ``outer`` (and around its corners, where a wide mouth's dark corners are left when the lips
    narrow), pixels far darker than the lip colour ``lips``, or brighter and colourless like teeth, are
    inpainted from the lip around them."""
    h, w = warped.shape[:2]
    corners = outer[[0, len(mesh.LIPS_OUTER_UPPER) - 1]]  # mesh.LIPS_OUTER: upper lip corner to corner first
    reach = int(np.ceil(0.08 * float(np.linalg.norm(corners[1] - corners[0])))) + 1
    x0, y0 = np.maximum(np.floor(outer.min(0)).astype(int) - reach, 0)
    x1, y1 = np.minimum(np.ceil(outer.max(0)).astype(int) + reach + 1, [w, h])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return warped
    box = warped[y0:y1, x0:x1]
    origin = np.array([x0, y0], np.float32)
    inside = blend.polygon_mask(outer - origin, box.shape[:2]) > 0.5
    corner_zone = np.zeros(box.shape[:2], np.uint8)
    for c in np.round(corners - origin).astype(int):
        cv2.circle(corner_zone, (int(c[0]), int(c[1])), reach, 1, -1)
    lab = cv2.cvtColor(box, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(np.clip(lips, 0, 255).astype(np.uint8).reshape(1, 1, 3), cv2.COLOR_RGB2LAB)
    ref = ref.reshape(3).astype(np.float32)
    light = lab[..., 0] - ref[0]
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    ref_chroma = float(np.hypot(ref[1] - 128, ref[2] - 128))
    # away from the lips' (landmark-drawn) edge, where skin, moustache and the corner shadows begin
    core = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, reach // 3)) > 0
    teeth = (light > STRAY_BRIGHT) & (chroma < 0.8 * ref_chroma)
    stray = (core & (teeth | (light < -STRAY_DARK))) | ((corner_zone > 0) & (light < -STRAY_CAVITY))
    if not stray.any():
        return warped
    holes = cv2.dilate(stray.astype(np.uint8), np.ones((3, 3), np.uint8))
    out = warped.copy()
    out[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(box), holes, 3, cv2.INPAINT_TELEA)
    return out


def draw_seam(warped: np.ndarray, dst: np.ndarray, lips: np.ndarray, closing: float) -> np.ndarray:
    """The thin dark line where closed lips meet (a darker tone of the lip colour ``lips``), faded in with
    ``closing``."""
    line = (dst[mesh.IDX["LIPS_INNER_UPPER"]] + dst[mesh.IDX["LIPS_INNER_LOWER"]]) / 2
    mask = np.zeros(warped.shape[:2], np.float32)
    cv2.polylines(mask, [np.round(line * 16).astype(np.int32)], False, 1.0, 1, cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.7) * (0.55 * (closing - 0.5) * 2)
    dark = np.broadcast_to((lips * 0.45).astype(np.float32), warped.shape)
    return blend.alpha_blend(warped, dark, mask)


@dataclass
class WarpRenderer:
    """Renders target mouth shapes by warping the current frame (no library needed: works on photos)."""

    times: RenderTimes = field(default_factory=RenderTimes)

    def render(self, frame: np.ndarray, lm: np.ndarray, opening: float, width: float) -> np.ndarray:
        """A copy of ``frame`` whose mouth has the target ``opening``/``width`` (inter-ocular units)."""
        t0 = time.perf_counter()
        region = lower_face_region(lm, frame.shape[:2])
        x0, y0, x1, y1 = region.box
        roi = frame[y0:y1, x0:x1]
        dst_lm = geometry.target_landmarks(lm, opening, width)
        cur_open = float(mesh.mouth_opening(lm))
        closing = float(np.clip(1.0 - opening / max(cur_open, 1e-3), 0.0, 1.0))
        # opening wider than the source: also cut away the dark seam between the source lips, which
        # would otherwise be stretched into a dark rim around the new interior
        trim = closing if opening <= cur_open else 0.4
        warped, gap = layered_warp(roi, skip_interior(lm, trim), dst_lm, region)
        rel = dst_lm - region.offset
        paint_interior = gap.max() > 0 and opening * region.d >= 1.0
        if closing > 0.5 or paint_interior:
            lips = interior.lip_colour(roi, lm[mesh.IDX["LIPS_OUTER"]] - region.offset,
                                       lm[mesh.IDX["LIPS_INNER"]] - region.offset)
        if closing > 0.5:
            if cur_open >= MEND_MIN_OPENING:
                warped = mend_closed_lips(warped, rel[mesh.IDX["LIPS_OUTER"]], lips)
            warped = draw_seam(warped, rel, lips, closing)
        if paint_interior:
            warped = interior.render_interior(warped, rel[mesh.IDX["LIPS_INNER"]],
                                              rel[mesh.IDX["LIPS_INNER_UPPER"]], opening * region.d,
                                              region.d, lips, gap)
        return self._composite(frame, region, warped, t0)

    def _composite(self, frame: np.ndarray, region: Region, warped: np.ndarray, t0: float) -> np.ndarray:
        t1 = time.perf_counter()
        x0, y0, x1, y1 = region.box
        out = frame.copy()
        out[y0:y1, x0:x1] = blend.alpha_blend(frame[y0:y1, x0:x1], warped, region.mask)
        self.times.render += t1 - t0
        self.times.blend += time.perf_counter() - t1
        return out
