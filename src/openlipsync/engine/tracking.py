"""Face tracking over a streamed video: per-identity landmark tracks, smoothing, scene cuts, validity.

One pass over the source frames keeps only landmarks and a few numbers per frame (never the frames).
While the pass runs, each frame gets causally smoothed landmarks (for consumers that need them at once);
the finished track is smoothed in both directions, so fast lip motion does not lag behind the picture.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from openlipsync.engine import mesh
from openlipsync.engine.facemesh import FaceMesh
from openlipsync.engine.smoothing import OneEuroFilter

log = logging.getLogger("openlipsync.engine.tracking")

MIN_INTEROCULAR_PX = 14.0  # smaller faces cannot be edited believably
MAX_YAW = 0.6  # beyond this the far mouth corner is hidden (profile)
SCENE_CUT_DIFF = 28.0  # mean abs difference of 32×18 grey thumbnails (0..255)
LIP_BETA = 8.0  # One-Euro speed coefficient of the lip points (Hz per inter-ocular distance per second)
LIP_SPEED_CUTOFF = 4.0  # Hz, the lip points' speed estimate

_LIP_SET = np.zeros(mesh.N_LANDMARKS, bool)
_LIP_SET[list(mesh.LIP_POINTS)] = True


def _min_cutoffs() -> np.ndarray:
    # Stable points are smoothed hard; lips follow speech (up to ~10 Hz) and keep a higher cutoff.
    cut = np.full(mesh.N_LANDMARKS, 1.2)
    cut[_LIP_SET] = 3.0
    cut[list(mesh.JAW)] = 2.0
    return cut


def _speed_terms() -> tuple[np.ndarray, np.ndarray]:
    # Speech opens and shuts the lips within a frame or two: a moving lip is barely smoothed (a high
    # speed coefficient, and a speed estimate that follows within a frame), or the render would reshape a
    # mouth that is no longer where the landmarks say (teeth left showing between "closed" lips).
    beta, d_cutoff = np.full(mesh.N_LANDMARKS, 0.8), np.full(mesh.N_LANDMARKS, 1.0)
    beta[_LIP_SET], d_cutoff[_LIP_SET] = LIP_BETA, LIP_SPEED_CUTOFF
    return beta, d_cutoff


@dataclass
class _Identity:
    ident: int
    centre: np.ndarray
    size: float
    filt: OneEuroFilter
    raw: dict[int, np.ndarray] = field(default_factory=dict)  # the detector's landmarks per frame
    area_sum: float = 0.0
    last_seen: int = -1


@dataclass(frozen=True)
class Observation:
    """What the detector saw in one frame: a scene cut before it, and the raw (478, 2) meshes."""

    cut: bool
    faces: list[np.ndarray]


@dataclass(frozen=True)
class FaceTrack:
    """Landmarks of the edited face per source frame.

    landmarks: (n, 478, 2) float32 pixels (NaN where the face is absent)
    valid: (n,) bool, face usable for editing
    reason: (n,) object, "" when valid else "no_face" | "too_small" | "profile" | "out_of_frame" (some
        of the lips lie outside the picture)
    pose: (n, 3) float32 (yaw, pitch, roll) proxy, see ``mesh.head_pose``
    scene_cut: (n,) bool, True on the first frame of a new shot
    face_count: (n,) int16, faces seen in the frame
    """

    fps: float
    width: int
    height: int
    landmarks: np.ndarray
    valid: np.ndarray
    reason: np.ndarray
    pose: np.ndarray
    scene_cut: np.ndarray
    face_count: np.ndarray
    identity: int = 0
    identities: int = 0

    @property
    def frame_count(self) -> int:
        return int(self.valid.shape[0])

    def interocular(self) -> np.ndarray:
        """(n,) eye-centre distance in pixels (NaN where absent)."""
        return mesh.interocular(self.landmarks)

    def placed(self, frames: np.ndarray, maps: np.ndarray) -> np.ndarray:
        """(k, 478, 2) float32 landmarks of ``frames`` (k,) each carried through its own 2×3 affine map
        (``maps`` (k, 2, 3)), e.g. into the canonical crop that was cut from that frame."""
        lm = self.landmarks[frames].astype(np.float64)
        return (np.einsum("kij,knj->kni", maps[:, :, :2], lm) + maps[:, None, :, 2]).astype(np.float32)


THUMB_SIZE = (32, 18)


def scene_thumb(frame: np.ndarray) -> np.ndarray:
    """The tiny grey picture that scene-cut detection compares between consecutive RGB frames."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def scene_thumb_from_luma(luma: np.ndarray) -> np.ndarray:
    """``scene_thumb`` of a frame given as its limited-range luma plane (16–235, as decoded): the same
    picture to within about a grey level, without converting the frame to RGB first."""
    small = cv2.resize(luma, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - 16.0) * np.float32(255.0 / 219.0)


def _sanitise_lips(lm: np.ndarray) -> np.ndarray:
    """Keep the inner lips inside the outer lips (the inner-lip points are the least reliable)."""
    _, down = mesh.face_axes(lm)
    for inner, outer, sign in ((mesh.LIPS_INNER_UPPER, mesh.LIPS_OUTER_UPPER, 1.0),
                               (mesh.LIPS_INNER_LOWER, mesh.LIPS_OUTER_LOWER, -1.0)):
        ii, oo = list(inner[1:-1]), list(outer[1:-1])
        depth = ((lm[ii] - lm[oo]) @ down) * sign  # inner must be below upper outer / above lower outer
        bad = depth < 0
        if bad.any():
            lm[np.array(ii)[bad]] -= (depth[bad] * sign)[:, None] * down
    return lm


class FaceTracker:
    """Feed frames in order with ``update``; ``finish`` returns the ``FaceTrack`` of the chosen face."""

    def __init__(self, fps: float, width: int, height: int, *, detector: FaceMesh | None = None) -> None:
        self.fps, self.width, self.height = fps, width, height
        self.detector = detector or FaceMesh()
        self._ids: list[_Identity] = []
        self._prev_thumb: np.ndarray | None = None
        self._observed = 0
        self._cuts: list[bool] = []
        self._counts: list[int] = []
        self._n = 0
        self._cutoffs, (self._betas, self._d_cutoffs) = _min_cutoffs(), _speed_terms()
        self._final: dict[int, dict[int, np.ndarray]] = {}

    def update(self, frame: np.ndarray) -> dict[int, np.ndarray]:
        """Track faces in the next frame; returns {identity: smoothed (478,2) landmarks} for this frame."""
        return self.assign(self.observe(frame))

    def observe(self, frame: np.ndarray, thumb: np.ndarray | None = None) -> Observation:
        """Scene-cut check and face mesh of the next frame (``thumb``: its ``scene_thumb`` when already
        made). ``observe`` of frame k+1 may run (in another thread) while ``assign`` handles frame k: the
        two share no state."""
        i = self._observed
        self._observed += 1
        thumb = scene_thumb(frame) if thumb is None else thumb
        cut = self._prev_thumb is not None and float(np.abs(thumb - self._prev_thumb).mean()) > SCENE_CUT_DIFF
        self._prev_thumb = thumb
        if cut:
            log.info("scene cut at frame %d: tracking reset", i)
            self.detector.reset()
        return Observation(cut, self.detector.detect(frame))

    def assign(self, observation: Observation) -> dict[int, np.ndarray]:
        """Give the observed faces their identities and smooth their landmarks (frames in order)."""
        i = self._n
        self._n += 1
        if observation.cut:
            for ident in self._ids:
                ident.filt.reset()
        self._cuts.append(observation.cut)
        self._counts.append(len(observation.faces))
        out: dict[int, np.ndarray] = {}
        for lm in observation.faces:
            ident = self._match(lm, i)
            d = float(mesh.interocular(lm))
            smooth = ident.filt(lm / max(d, 1.0)) * max(d, 1.0)
            ident.raw[i] = lm
            out[ident.ident] = _sanitise_lips(smooth.astype(np.float32))
        return out

    def _match(self, lm: np.ndarray, i: int) -> _Identity:
        centre = lm[mesh.IDX['FACE_OVAL']].mean(0)
        size = float(np.ptp(lm[mesh.IDX['FACE_OVAL'], 0]))
        best, best_dist = None, np.inf
        for ident in self._ids:
            if ident.last_seen == i:
                continue
            dist = float(np.linalg.norm(ident.centre - centre))
            if dist < 0.6 * max(ident.size, size) and dist < best_dist:
                best, best_dist = ident, dist
        if best is None:
            best = _Identity(len(self._ids), centre, size, self._filter())
            self._ids.append(best)
        if best.last_seen != i - 1:
            best.filt.reset()
        best.centre, best.size, best.last_seen = centre, size, i
        best.area_sum += size * size
        return best

    def _filter(self) -> OneEuroFilter:
        return OneEuroFilter(self.fps, self._cutoffs, beta=self._betas, d_cutoff=self._d_cutoffs)

    def identity_frames(self) -> dict[int, dict[int, np.ndarray]]:
        """{identity: {frame index: smoothed (478, 2) landmarks}} of every face seen (engine.speaker)."""
        for ident in self._ids:
            if ident.ident not in self._final:
                self._final[ident.ident] = self._zero_phase(ident.raw)  # consumes the raw landmarks
        return self._final

    def _zero_phase(self, raw: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The mean of backward and forward One-Euro passes over each unbroken run of frames: the lags
        of the two directions cancel, the smoothing stays. Frames are moved out of ``raw`` as they are
        done, so memory peaks at two landmark sets per frame."""
        out: dict[int, np.ndarray] = {}
        for run in _runs(sorted(raw), self._cuts):
            scale = {k: max(float(mesh.interocular(raw[k])), 1.0) for k in run}
            bwd, fwd = self._filter(), self._filter()
            behind = {k: (bwd(raw[k] / scale[k]) * scale[k]).astype(np.float32) for k in reversed(run)}
            for k in run:
                ahead = fwd(raw.pop(k) / scale[k]) * scale[k]
                out[k] = _sanitise_lips(((ahead + behind.pop(k)) / 2).astype(np.float32))
        return out

    def finish(self, identity: int | None = None) -> FaceTrack:
        """The track of ``identity`` (default: the face with the largest summed area, i.e. biggest and longest)."""
        self.detector.close()
        n = self._n
        lms = np.full((n, mesh.N_LANDMARKS, 2), np.nan, np.float32)
        chosen = identity
        if chosen is None and self._ids:
            chosen = max(self._ids, key=lambda x: x.area_sum).ident
        if chosen is not None and chosen < len(self._ids):
            for k, v in self.identity_frames()[chosen].items():
                lms[k] = v
        return build_track(lms, self.fps, self.width, self.height, np.array(self._cuts, bool),
                           np.array(self._counts, np.int16), identity=chosen or 0, identities=len(self._ids))


def _runs(frames: list[int], cuts: list[bool]) -> list[list[int]]:
    """Split sorted frame indices into runs of consecutive frames that no scene cut interrupts."""
    runs: list[list[int]] = []
    for k in frames:
        if runs and k == runs[-1][-1] + 1 and not (k < len(cuts) and cuts[k]):
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


def lips_in_picture(lms: np.ndarray, width: int, height: int) -> np.ndarray:
    """(k,) whether every lip point of each of the (k, 478, 2) landmark sets lies inside a ``width`` ×
    ``height`` picture. The mesh still places the lips of a face leaving the picture; those have no
    mouth to edit or to measure."""
    lips = np.asarray(lms)[:, mesh.LIP_POINTS]
    inside = (lips >= 0) & (lips <= np.array([width - 1, height - 1], np.float32))
    return np.asarray(inside.all(axis=(1, 2)))


def build_track(lms: np.ndarray, fps: float, width: int, height: int, cuts: np.ndarray, counts: np.ndarray,
                *, identity: int = 0, identities: int = 1) -> FaceTrack:
    """Assemble a FaceTrack from landmarks, marking frames too small, too far in profile or whose lips are
    not all in the picture."""
    n = lms.shape[0]
    present = ~np.isnan(lms[:, 0, 0])
    reason = np.full(n, "", dtype=object)
    reason[~present] = "no_face"
    pose = np.zeros((n, 3), np.float32)
    if present.any():
        pose[present] = mesh.head_pose(lms[present])
        d = mesh.interocular(lms[present])
        small = d < MIN_INTEROCULAR_PX
        profile = np.abs(pose[present, 0]) > MAX_YAW
        outside = ~lips_in_picture(lms[present], width, height)
        r = reason[present]
        r[profile] = "profile"
        r[small] = "too_small"
        r[outside] = "out_of_frame"  # last: sync-3 edits some small and profile faces, never these
        reason[present] = r
    valid = reason == ""
    return FaceTrack(fps, width, height, lms, valid, reason, pose, cuts, counts, identity, identities)
