"""sync-3 tier: the jaw, chin and cheeks follow the mouth, and harder poses are accepted.

The base renderers move the chin with about two thirds of the lower lip's motion inside a region that
stops just under the chin. A real mouth opens mostly by rotating the mandible about the jaw hinge
(JALI, Edwards et al. 2016): the chin travels as far as the lower lip, the jaw line swings down and
slightly inwards, the cheeks stretch, and the chin's silhouette moves against the neck. ``JawMotion``
adds that missing part as a second warp over a larger region (down to below the chin) after the mouth
render; the lips themselves are fixed control points, so the rendered mouth is not disturbed.

Harder poses: ``widen_pose_limits`` also edits frames up to |yaw| 0.8 (vs 0.6) and faces down to
10 px between the eyes (vs 14), where the lower tiers pass frames through.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from openlipsync.engine import blend, geometry, mesh, warp
from openlipsync.engine.tracking import FaceTrack

HARD_MAX_YAW = 0.8
HARD_MIN_INTEROCULAR_PX = 10.0
CHIN_FOLLOW = 0.95  # the chin moves this fraction of the lower lip's (jaw-driven) displacement
BASE_CHIN_FOLLOW = 0.65  # what geometry.jaw_weights already gives at the chin
JAW_INWARD = 0.12  # inward swing of the jaw line per unit of downward chin motion
CHEEK_STRETCH = 0.15


def widen_pose_limits(track: FaceTrack) -> FaceTrack:
    """The same track with frames made valid that only failed the default yaw/size limits."""
    present = ~np.isnan(track.landmarks[:, 0, 0])
    d = np.full(track.frame_count, np.nan)
    d[present] = mesh.interocular(track.landmarks[present])
    yaw = np.abs(track.pose[:, 0])
    ok = present & (yaw <= HARD_MAX_YAW) & (np.nan_to_num(d) >= HARD_MIN_INTEROCULAR_PX)
    regain = ok & np.isin(track.reason, ["profile", "too_small"])
    if not regain.any():
        return track
    reason = track.reason.copy()
    reason[regain] = ""
    return replace(track, valid=track.valid | regain, reason=reason)


def jaw_offsets(lm: np.ndarray, delta_px: float) -> np.ndarray:
    """(468, 2) extra displacement of every mesh point for a lower-lip move of ``delta_px`` (down > 0)."""
    u, v, axes, d = geometry.face_coords(lm)
    across, down = axes
    u, v = u[:468], v[:468]
    # fraction of the chin's extra travel: 0 at the lips, full at the chin; falls off towards the hinge
    depth = np.clip((v - 0.12) / 0.75, 0.0, 1.0) ** 1.2
    lateral = np.clip(1.0 - (u / 1.25) ** 2, 0.0, 1.0) ** 1.2
    extra = (CHIN_FOLLOW - BASE_CHIN_FOLLOW) * delta_px * depth * lateral
    # cheeks between the cheekbone and the jaw stretch downwards a little
    cheek = np.exp(-0.5 * (((np.abs(u) - 0.75) / 0.25) ** 2 + ((v - 0.15) / 0.3) ** 2))
    extra = extra + CHEEK_STRETCH * delta_px * cheek
    inward = -JAW_INWARD * extra * np.sign(u) * np.clip(np.abs(u) / 0.8, 0, 1)
    off = np.outer(extra, down) + np.outer(inward, across)
    off[mesh.IDX["LIP_POINTS"]] = 0.0  # the rendered mouth stays where the renderer put it
    return off


def jaw_region(lm: np.ndarray, scale: float = 1.65) -> np.ndarray:
    """Outline of the jaw warp: the jaw line pushed well below the chin, closed under the nose."""
    return geometry.lower_face_polygon(lm, scale)


@dataclass
class JawMotion:
    """Post-render stage: adds the jaw/chin/cheek motion for the rendered mouth opening."""

    jaw_share: float = 0.75  # part of a mouth opening made by the jaw (the rest by the lips)
    seconds: float = 0.0

    def apply(self, frame: np.ndarray, lm: np.ndarray, rendered_opening: float) -> np.ndarray:
        """``frame`` (already showing a mouth of ``rendered_opening``) with the jaw moved to match it;
        ``lm`` are the source frame's landmarks."""
        t0 = time.perf_counter()
        d = float(mesh.interocular(lm))
        delta = (rendered_opening - float(mesh.mouth_opening(lm))) * d * self.jaw_share
        if abs(delta) < 0.3:
            return frame
        out = warp_jaw(frame, lm, jaw_offsets(lm, delta))
        self.seconds += time.perf_counter() - t0
        return out


def warp_jaw(frame: np.ndarray, lm: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Warp the enlarged lower-face region so mesh points move by ``offsets`` (outline fixed)."""
    outline = jaw_region(lm)
    box = warp.roi_box(outline, frame.shape[:2], margin=2)
    x0, y0, x1, y1 = box
    off = np.array([x0, y0], np.float32)
    roi = frame[y0:y1, x0:x1]
    size = roi.shape[:2]
    src = lm[:468] - off
    inside = blend.polygon_mask(outline - off, size)
    xi = np.clip(np.round(src[:, 0]).astype(int), 0, size[1] - 1)
    yi = np.clip(np.round(src[:, 1]).astype(int), 0, size[0] - 1)
    keep = inside[yi, xi] > 0
    dst = src + offsets
    map_x, map_y = warp.backward_maps(np.concatenate([dst[keep], outline - off]),
                                      np.concatenate([src[keep], outline - off]), size)
    warped = warp.remap(roi, map_x, map_y)
    mask = blend.feather(inside, max(1.0, 0.06 * float(mesh.interocular(lm))))
    out = frame.copy()
    out[y0:y1, x0:x1] = blend.alpha_blend(roi, warped, mask)
    return out
