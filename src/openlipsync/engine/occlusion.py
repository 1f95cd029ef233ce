"""Occlusion (``occlusion_detection_enabled``): keep hands, microphones and other objects in front of the
mouth intact instead of painting a mouth over them.

During the analysis pass the face's lower half is collected in a canonical pose (a similarity on the
stable eye/nose points, like the mouth library) at a small fixed scale. From those samples the model
learns, per canonical pixel, the face's usual appearance (median and spread, in Lab) and, from the
cheeks, the person's skin colour (Gaussian in Lab). An object in front of the mouth shows up as a
region that (a) departs from the face's usual appearance by much more than the face itself varies there
— the temporal-median background model of video surveillance, applied in face coordinates — and (b)
is not explained by the tracked mouth: inside the lips, where speech changes the appearance, only
strong departures count; (c) non-skin colour makes weaker departures count (microphones, cups), so the
skin colour learned from the face's own cheeks is what tells skin from object. Candidates are cleaned
with morphology and hole filling (a hand's uniform palm between its detected edges), mapped back to
the frame, grown and feathered; there the output keeps the source pixels. When the object covers most
of the lips, the landmarks under it cannot be trusted and the whole frame is kept.

The face's own median is robust only while objects cover the mouth in fewer than half of the sampled
frames; a clip where the mouth is hidden most of the time keeps those pixels unmodelled (see MODELS.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from openlipsync.engine import blend, mesh
from openlipsync.engine.tracking import FaceTrack

log = logging.getLogger("openlipsync.engine.occlusion")

CANON_D = 40.0  # canonical inter-ocular distance (px): small crops, cheap per frame
CROP_W, CROP_H = 140, 100  # canonical crop: the whole editable lower face (±1.75 d across, 1.7 d below the mouth)
MAX_SAMPLES = 160
Z_STRONG = 4.5  # departure (in robust standard deviations) that marks an occluder on its own
Z_WEAK = 2.3  # departure that counts when the region around it departs too, or the colour is not skin
SKIN_FAR = 3.0  # Mahalanobis distance from the skin model beyond which a pixel is "not skin"
FLOOR = np.array([7.0, 4.0, 4.0], np.float32)  # minimum spread per Lab channel (encode noise, lighting)
MOUTH_ZONE = 1.2  # an occluder must reach this close to the lips (inter-ocular units) to count
LIPS_COVERED = 0.45  # fraction of the lips occluded beyond which the whole frame is kept
SCALE_JUMP = 0.035  # face-scale departure (log ratio) that marks the landmarks as unreliable
BROAD_KEEP = 0.3  # share of the lower face departing strongly beyond which the whole frame is kept


def _reference(lm: np.ndarray) -> np.ndarray:
    """Canonical positions of the stable points: eye line level, scale CANON_D, mouth near the crop centre."""
    d = float(mesh.interocular(lm))
    right, left = mesh.eye_centres(lm)
    ang = float(np.arctan2(left[1] - right[1], left[0] - right[0]))
    c, s = np.cos(-ang) * CANON_D / d, np.sin(-ang) * CANON_D / d
    rot = np.array([[c, -s], [s, c]])
    mouth = rot @ (((lm[61] + lm[291]) / 2) - (right + left) / 2)
    origin = mouth - np.array([CROP_W / 2, CROP_H * 0.32])
    return (lm[mesh.IDX["STABLE"]] - (right + left) / 2) @ rot.T - origin


@dataclass
class _Samples:
    ref: np.ndarray
    stride: int = 1
    items: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)  # (frame, lab crop, frame→crop map)


class OcclusionBuilder:
    """Collects canonical lower-face samples during analysis (per identity, like the mouth library)."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self.max_samples = max_samples
        self._by_id: dict[int, _Samples] = {}

    def offer(self, index: int, frame: np.ndarray, faces: dict[int, np.ndarray],
              origin: tuple[float, float] = (0.0, 0.0)) -> None:
        """Sample frame ``index`` with the tracked faces {identity: landmarks}.

        ``frame`` may be a region of the video frame whose top-left corner is at ``origin``: ``faces`` are in
        ``frame``'s pixels, the finished track (``finish``) in the video frame's."""
        for ident, lm in faces.items():
            if float(mesh.interocular(lm)) < 8:
                continue
            if ident not in self._by_id:  # the reference comes from the face's first sample
                self._by_id[ident] = _Samples(_reference(lm))
            smp = self._by_id[ident]
            if index % smp.stride:
                continue
            m = mesh.similarity(lm[mesh.IDX["STABLE"]].astype(np.float64), smp.ref)
            crop = cv2.warpAffine(frame, m, (CROP_W, CROP_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
            smp.items.append((index, cv2.cvtColor(crop, cv2.COLOR_RGB2LAB), mesh.shift_affine_input(m, origin)))
            if len(smp.items) > self.max_samples:
                smp.stride *= 2
                smp.items = [it for it in smp.items if it[0] % smp.stride == 0]

    def finish(self, track: FaceTrack) -> OcclusionModel | None:
        """The model of the track's face (None when too few frames were seen)."""
        smp = self._by_id.get(track.identity)
        if smp is None:
            return None
        items = [it for it in smp.items if it[0] < track.frame_count and track.valid[it[0]]]
        if len(items) < 3:
            return None
        # landmarks of the finished (two-way smoothed) track, placed as the crops were
        lms = track.placed(np.array([it[0] for it in items]), np.stack([it[2] for it in items]))
        model = OcclusionModel.fit(smp.ref, np.stack([it[1] for it in items]), lms)
        model.unstable = unstable_scale(track)
        return model


def unstable_scale(track: FaceTrack, window: int = 25) -> np.ndarray:
    """(n,) frames whose face scale departs from its ±``window``-frame median by more than SCALE_JUMP.

    Faces do not grow or shrink by several percent and back within a second, but a face mesh does when a
    hand hides half the face: those frames' landmarks (and any edit placed with them) cannot be trusted."""
    d = mesh.interocular(np.nan_to_num(track.landmarks)).astype(np.float64)
    ok = track.valid & (d > 1)
    out = np.zeros(track.frame_count, bool)
    idx = np.flatnonzero(ok)
    for k in idx:
        near = idx[np.abs(idx - k) <= window]
        out[k] = abs(np.log(d[k] / np.median(d[near]))) > SCALE_JUMP
    return out


def _lips_mask(lm_canon: np.ndarray, grow: int = 0) -> np.ndarray:
    mask = blend.polygon_mask(lm_canon[mesh.IDX["LIPS_OUTER"]], (CROP_H, CROP_W))
    if grow > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return mask


def _cheek_mask(lm_canon: np.ndarray) -> np.ndarray:
    """Skin patches on both cheeks, beside and above the mouth corners."""
    mask = np.zeros((CROP_H, CROP_W), np.float32)
    for a, b in ((61, 234), (291, 454)):  # from each mouth corner towards the cheek edge
        p = lm_canon[a] + 0.35 * (lm_canon[b] - lm_canon[a]) - np.array([0, 0.12 * CANON_D])
        cv2.circle(mask, (int(round(p[0])), int(round(p[1]))), int(0.14 * CANON_D), 1.0, -1)
    return mask


POSE_BIN = 0.04  # yaw/pitch quantum of the pose-local references
POSE_SHARE = 0.3  # a pose-local reference uses at least this share of the samples (the nearest poses)
TYPICAL_MAX = 0.08  # a reference sample may depart strongly from the global median on this share of the face


@dataclass
class OcclusionModel:
    """The face's usual lower-face appearance (canonical Lab median/spread) and its skin colour.

    A head turn changes the lower face more than a 2-D alignment can undo, so the reference appearance is
    the median of the samples nearest in head pose (yaw, pitch), cached per pose bin; the spread (how
    much each pixel varies over the video) is measured over all samples.
    """

    ref: np.ndarray
    labs: np.ndarray  # (k, CROP_H, CROP_W, 3) uint8 Lab samples
    poses: np.ndarray  # (k, 2) yaw, pitch of each sample
    spread: np.ndarray  # (CROP_H, CROP_W, 3) float32 robust std per channel
    skin_mean: np.ndarray  # (3,) Lab
    skin_icov: np.ndarray  # (3, 3)
    seconds: float = 0.0
    frames_occluded: int = 0
    frames_kept: int = 0
    last_broad: float = 0.0
    unstable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per source frame
    _medians: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @classmethod
    def fit(cls, ref: np.ndarray, labs: np.ndarray, lms: np.ndarray) -> OcclusionModel:
        """Fit from (k, H, W, 3) canonical Lab crops and their (k, 478, 2) canonical landmarks."""
        x = labs.astype(np.float32)
        med = np.median(x, axis=0)
        mad = np.median(np.abs(x - med), axis=0) * 1.4826
        spread = np.maximum(mad, FLOOR)
        cheeks = np.concatenate([x[k][_cheek_mask(lms[k]) > 0] for k in range(len(x))])
        mean = cheeks.mean(0)
        cov = np.cov(cheeks.T) + np.diag([9.0, 2.0, 2.0])  # regularised: lighting varies more than hue
        poses = mesh.head_pose(lms)[:, :2].astype(np.float32)
        # samples that depart broadly from the global appearance (an object, lost landmarks) must not
        # become anybody's reference: they are left out of the pose-local medians
        typical = np.array([float(((np.abs(x[k] - med) / spread).max(-1)[_face_mask(lms[k]) > 0] > Z_STRONG)
                                  .mean()) <= TYPICAL_MAX for k in range(len(x))])
        if typical.sum() >= 3:
            labs, poses = labs[typical], poses[typical]
        return cls(ref, labs, poses, spread, mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32))

    def median(self, pose: np.ndarray) -> np.ndarray:
        """Median appearance of the samples nearest to ``pose`` (yaw, pitch), cached per pose bin."""
        key = (int(round(float(pose[0]) / POSE_BIN)), int(round(float(pose[1]) / POSE_BIN)))
        if key not in self._medians:
            centre = np.array(key, np.float32) * POSE_BIN
            dist = np.linalg.norm(self.poses - centre, axis=1)
            k = max(3, int(np.ceil(POSE_SHARE * len(dist))))
            radius = max(POSE_BIN, float(np.partition(dist, k - 1)[k - 1]))
            self._medians[key] = np.median(self.labs[dist <= radius].astype(np.float32), axis=0)
        return self._medians[key]

    def canonical(self, frame: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(2×3 frame→canonical similarity, canonical Lab crop) of a frame."""
        m = mesh.similarity(lm[mesh.IDX["STABLE"]].astype(np.float64), self.ref)
        crop = cv2.warpAffine(frame, m, (CROP_W, CROP_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        return m, cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)

    def _register(self, frame: np.ndarray, m: np.ndarray, lab: np.ndarray, median: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Refine the alignment by phase correlation with the reference: smoothed landmarks lag fast head
        motion by a few pixels, which would otherwise light up every edge of the face."""
        window = cv2.createHanningWindow((CROP_W, CROP_H), cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(median[..., 0].astype(np.float32), lab[..., 0], window)
        if response < 0.05 or np.hypot(dx, dy) < 0.3 or np.hypot(dx, dy) > 0.2 * CANON_D:
            return m, lab
        m = m.copy()
        m[:, 2] -= (dx, dy)
        crop = cv2.warpAffine(frame, m, (CROP_W, CROP_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        return m, cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)

    def detect(self, frame: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Occluder mask in canonical coordinates (float 0/1), the similarity, and the lips' covered fraction."""
        m, lab = self.canonical(frame, lm)
        median = self.median(mesh.head_pose(lm)[:2])
        m, lab = self._register(frame, m, lab, median)
        z = (np.abs(lab - median) / self.spread).max(-1)
        diff = lab - self.skin_mean
        skin_d = np.sqrt(np.maximum(np.einsum("hwi,ij,hwj->hw", diff, self.skin_icov, diff), 0))
        lm_c = mesh.apply_affine(m, lm)
        lips = _lips_mask(lm_c, grow=2) > 0
        region_z = cv2.blur(np.minimum(z, 8.0), (5, 5))
        weak = (z > Z_WEAK) & ((region_z > Z_WEAK) | (skin_d > SKIN_FAR))
        # inside the lips the mouth itself changes: only strong, non-skin-like departures count there
        cand = np.where(lips, (z > 2 * Z_STRONG) | (weak & (region_z > Z_STRONG)), weak | (z > Z_STRONG))
        mask = cand.astype(np.uint8)
        k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k3)
        kc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kc)
        # what matters is an object over the mouth: keep components with real substance around the mouth,
        # inside the face (the face outline, hair, collar and background do not follow face coordinates,
        # and head turns change the cheeks' shading)
        near_mouth = _lips_mask(lm_c, grow=int(MOUTH_ZONE * CANON_D)) > 0
        inner = near_mouth & (cv2.erode(_face_mask(lm_c), np.ones((5, 5), np.uint8)) > 0)
        # ... and with strong evidence there: pose and lighting changes give broad, moderate departures
        strong = inner & (z > Z_STRONG)
        mask = _seeded(_seeded(mask, inner, int(0.05 * CANON_D**2)), strong, int(0.02 * CANON_D**2))
        mask = _fill_holes(mask)
        covered = float(mask[lips].mean()) if lips.any() else 0.0
        face = cv2.erode(_face_mask(lm_c), np.ones((5, 5), np.uint8)) > 0
        self.last_broad = float((z[face] > Z_STRONG).mean()) if face.any() else 0.0
        if self.last_broad > BROAD_KEEP:
            covered = 1.0  # most of the face departs: a large object, or landmarks lost under it
        return mask.astype(np.float32), m, covered

    def protect(self, source: np.ndarray, out: np.ndarray, lm: np.ndarray, s: int) -> np.ndarray:
        """``out`` with the source pixels restored wherever an object covers the face of ``lm``."""
        t0 = time.perf_counter()
        mask, m, covered = self.detect(source, lm)
        result = out
        shaky = s < len(self.unstable) and bool(self.unstable[s])
        if covered >= LIPS_COVERED or (shaky and (mask.any() or self.last_broad > 0.05)):
            self.frames_kept += 1
            result = source
        elif mask.any():
            self.frames_occluded += 1
            result = _restore(source, out, mask, m, float(mesh.interocular(lm)))
        self.seconds += time.perf_counter() - t0
        return result


def _restore(source: np.ndarray, out: np.ndarray, mask: np.ndarray, m: np.ndarray, d: float) -> np.ndarray:
    """Put the source pixels back under the canonical ``mask`` (grown and feathered), on its ROI only."""
    inv = mesh.invert_affine(m)
    ys, xs = np.nonzero(mask)
    corners = mesh.apply_affine(inv, np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.min()],
                                               [xs.min(), ys.max() + 1], [xs.max() + 1, ys.max() + 1]], float))
    pad = 0.1 * d + 4
    h, w = source.shape[:2]
    x0, y0 = (max(0, int(v)) for v in np.floor(corners.min(0) - pad))
    x1, y1 = int(min(w, np.ceil(corners[:, 0].max() + pad))), int(min(h, np.ceil(corners[:, 1].max() + pad)))
    if x1 <= x0 or y1 <= y0:
        return out
    inv[:, 2] -= (x0, y0)
    full = cv2.warpAffine(mask, inv, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0.0)
    grow = max(1, int(round(0.06 * d)))
    full = cv2.dilate(full, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    alpha = np.clip(cv2.GaussianBlur(full, (0, 0), max(0.8, 0.02 * d)) * 1.5, 0, 1)
    alpha[full >= 0.5] = 1.0  # the object itself is restored exactly
    result = out.copy()
    result[y0:y1, x0:x1] = blend.alpha_blend(out[y0:y1, x0:x1], source[y0:y1, x0:x1], alpha)
    return result


def _face_mask(lm_canon: np.ndarray) -> np.ndarray:
    """The lower face inside the jaw line, closed under the nose (canonical crop)."""
    poly = np.concatenate([lm_canon[mesh.IDX["JAW"]], lm_canon[[327, 2, 98]]])
    return blend.polygon_mask(poly, (CROP_H, CROP_W)).astype(np.uint8)


def _seeded(mask: np.ndarray, inner: np.ndarray, min_seed: int) -> np.ndarray:
    """Components of ``mask`` with at least ``min_seed`` pixels inside ``inner``."""
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 1:
        return mask
    seeds = np.bincount(labels[inner], minlength=n)
    keep = seeds >= min_seed
    keep[0] = False
    return keep[labels].astype(np.uint8)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions fully enclosed by the mask (a uniform palm between detected edges)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    ff = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(padded, ff, (0, 0), 2)  # everything reachable from outside
    return (padded[1:-1, 1:-1] != 2).astype(np.uint8)
