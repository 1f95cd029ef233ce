"""The speaker's own mouths: a per-video library of canonical mouth crops indexed by shape.

Every usable source frame offers its mouth; crops are stored in a canonical pose (a similarity
transform that puts the stable face points — eye corners, nose — where the first good frame had
them), so any entry can be placed on any other frame. Memory is capped: past ``max_entries`` the
library keeps every other frame (the stride doubles), which keeps shape coverage even over long videos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from openlipsync.engine import blend, mesh
from openlipsync.engine.tracking import MAX_YAW, MIN_INTEROCULAR_PX, FaceTrack

log = logging.getLogger("openlipsync.engine.library")

MAX_ENTRIES = 900
MIN_ENTRIES = 24
MIN_OPEN_RANGE = 0.06  # the library must span closed..open to be worth using
CUBIC_SUPPORT_PX = 3  # pixels around a sample that cubic interpolation reads (2) and one for rounding
CANON_MAX_D = 150.0  # canonical inter-ocular distance cap (px); native scale below it


@dataclass
class Canon:
    """The canonical frame: reference stable points and the crop window around the mouth."""

    ref: np.ndarray  # (len(STABLE), 2) reference positions in canonical pixels
    d: float  # canonical inter-ocular distance
    box: tuple[int, int, int, int]  # crop window x0, y0, x1, y1 in canonical pixels

    def to_canon(self, lm: np.ndarray) -> np.ndarray:
        """2×3 similarity taking frame pixels to canonical pixels for a frame with landmarks ``lm``."""
        return mesh.similarity(lm[mesh.IDX["STABLE"]].astype(np.float64), self.ref)


def _make_canon(lm: np.ndarray) -> Canon:
    """Canonical frame of a face: upright eye line, native scale (capped), crop box around the mouth."""
    d = float(mesh.interocular(lm))
    scale = min(1.0, CANON_MAX_D / d)
    r, left = mesh.eye_centres(lm)
    mid = (r + left) / 2
    ang = float(np.arctan2(left[1] - r[1], left[0] - r[0]))
    c, s = np.cos(-ang) * scale, np.sin(-ang) * scale
    rot = np.array([[c, -s], [s, c]])
    dc = d * scale
    mouth = rot @ (((lm[61] + lm[291]) / 2) - mid)
    origin = np.array([mouth[0] - 1.0 * dc, mouth[1] - 0.6 * dc])
    ref = (lm[mesh.IDX["STABLE"]] - mid) @ rot.T - origin
    return Canon(ref.astype(np.float64), dc, (0, 0, int(round(2.0 * dc)), int(round(1.45 * dc))))


TEETH_BATCH = 64  # crops converted to Lab in one call (OpenCV spreads a large image over its threads)


def teeth_scores(crops: list[np.ndarray], inner: np.ndarray, d: float) -> np.ndarray:
    """Visible teeth per crop (same-sized canonical RGB crops; ``inner``: (k, m, 2) inner-lip points):
    bright, low-chroma pixels inside the inner lips, as area / (0.02·d²), so that ~1 means a clearly
    visible row of teeth."""
    out = np.zeros(len(crops), np.float32)
    for start in range(0, len(crops), TEETH_BATCH):
        batch = crops[start:start + TEETH_BATCH]
        h = batch[0].shape[0]
        lab = cv2.cvtColor(np.concatenate(batch), cv2.COLOR_RGB2LAB)
        for j in range(len(batch)):
            out[start + j] = _teeth(lab[j * h:(j + 1) * h], inner[start + j], d)
    return out


def _teeth(lab: np.ndarray, inner: np.ndarray, d: float) -> float:
    hole = blend.polygon_mask(inner, lab.shape[:2]) > 0.5
    if hole.sum() < 3:
        return 0.0
    skin_l = _median_u8(lab[..., 0])
    # only the pixels inside the lips can be teeth
    x, y, w, h = cv2.boundingRect(hole.astype(np.uint8))
    inside = lab[y:y + h, x:x + w].astype(np.float32)
    light, chroma = inside[..., 0], np.hypot(inside[..., 1] - 128, inside[..., 2] - 128)
    teeth = hole[y:y + h, x:x + w] & (light > skin_l + 12) & (chroma < 22)
    return float(teeth.sum()) / (0.02 * d * d)


def _median_u8(values: np.ndarray) -> float:
    """``np.median`` of 8-bit values, from their histogram."""
    cum = np.cumsum(np.bincount(values.ravel(), minlength=256))
    n = int(cum[-1])
    lo, hi = np.searchsorted(cum, [(n - 1) // 2 + 1, n // 2 + 1])
    return (float(lo) + float(hi)) / 2


@dataclass
class MouthLibrary:
    """Mouth entries of one face. Arrays are per entry (k = number of entries).

    src: (k,) source frame index; opening/width/teeth: (k,) shape keys; pose: (k, 3);
    lm: (k, 478, 2) canonical landmarks; crops: k canonical RGB crops (h×w×3 uint8).
    """

    canon: Canon
    src: np.ndarray
    opening: np.ndarray
    width: np.ndarray
    teeth: np.ndarray
    pose: np.ndarray
    lm: np.ndarray
    crops: list[np.ndarray]

    @property
    def size(self) -> int:
        return int(self.src.shape[0])

    @property
    def usable(self) -> bool:
        """Enough entries spanning closed to open mouths to drive retrieval."""
        if self.size < MIN_ENTRIES:
            return False
        return float(np.percentile(self.opening, 95) - np.percentile(self.opening, 5)) >= MIN_OPEN_RANGE


@dataclass
class _Entries:
    stride: int = 1
    # (frame, 2×3 frame→canonical similarity, crop); the canonical landmarks come from the finished track
    items: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)


class LibraryBuilder:
    """Collects canonical mouth crops during the analysis pass (per identity; one is kept at the end)."""

    def __init__(self, fps: float, max_entries: int = MAX_ENTRIES) -> None:
        self.fps = fps
        self.max_entries = max_entries
        self._canon: dict[int, Canon] = {}
        self._entries: dict[int, _Entries] = {}

    def offer(self, index: int, frame: np.ndarray, faces: dict[int, np.ndarray],
              origin: tuple[float, float] = (0.0, 0.0)) -> None:
        """Consider frame ``index`` with the tracked faces {identity: landmarks} for the library.

        ``frame`` may be a region of the video frame whose top-left corner is at ``origin``: ``faces`` are in
        ``frame``'s pixels, the finished track (``finish``) in the video frame's."""
        for ident, lm in faces.items():
            if not self.wants(index, ident, lm):
                continue
            ent = self._entries.setdefault(ident, _Entries())
            canon = self._canon_of(ident, lm)
            m = canon.to_canon(lm)
            x0, y0, x1, y1 = canon.box
            crop = cv2.warpAffine(frame, m, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REPLICATE)
            ent.items.append((index, mesh.shift_affine_input(m, origin), crop))
            if len(ent.items) > self.max_entries:
                ent.stride *= 2
                ent.items = [it for it in ent.items if it[0] % ent.stride == 0]
                log.info("mouth library: keeping every %d-th frame", ent.stride)

    def _canon_of(self, ident: int, lm: np.ndarray) -> Canon:
        """Face ``ident``'s canonical frame, made from its first offered landmarks ``lm``."""
        if ident not in self._canon:
            self._canon[ident] = _make_canon(lm)
        return self._canon[ident]

    def wants(self, index: int, ident: int, lm: np.ndarray) -> bool:
        """Whether ``offer`` keeps frame ``index`` of face ``ident`` with landmarks ``lm``: a usable face on a
        frame the library's current stride samples."""
        if float(mesh.interocular(lm)) < MIN_INTEROCULAR_PX or abs(float(mesh.head_pose(lm)[0])) > MAX_YAW:
            return False
        ent = self._entries.get(ident)
        return ent is None or index % ent.stride == 0

    def region(self, ident: int, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(top-left, bottom-right) in ``lm``'s pixels of what the crop of face ``ident`` samples, with the
        cubic interpolation's support: offering only this region gives the same crop as the whole frame."""
        canon = self._canon_of(ident, lm)
        x0, y0, x1, y1 = canon.box
        back = mesh.invert_affine(canon.to_canon(lm))
        corners = mesh.apply_affine(back, np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64))
        return corners.min(0) - CUBIC_SUPPORT_PX, corners.max(0) + CUBIC_SUPPORT_PX

    def finish(self, track: FaceTrack) -> MouthLibrary | None:
        """The library of the track's face, restricted to frames the track marks valid."""
        ent = self._entries.get(track.identity)
        canon = self._canon.get(track.identity)
        if ent is None or canon is None:
            return None
        items = [it for it in ent.items if it[0] < track.frame_count and track.valid[it[0]]]
        if not items:
            return None
        src = np.array([it[0] for it in items], np.int64)
        lms = track.placed(src, np.stack([it[1] for it in items]))
        crops = [it[2] for it in items]
        teeth = teeth_scores(crops, lms[:, mesh.IDX["LIPS_INNER"]], canon.d)
        lib = MouthLibrary(canon, src, mesh.mouth_opening(lms).astype(np.float32),
                           mesh.mouth_width(lms).astype(np.float32), teeth.astype(np.float32),
                           track.pose[src], lms, crops)
        log.info("mouth library: %d entries, opening %.3f..%.3f", lib.size, lib.opening.min(), lib.opening.max())
        return lib
