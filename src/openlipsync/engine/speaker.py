"""Active speaker: which tracked face to edit when a video shows several (``active_speaker_detection``).

Four ways to choose, after the analysis pass has tracked every face with its own identity:
- ``bounding_boxes`` (one ``[x1, y1, x2, y2]`` or None per frame): per frame, the face whose landmark box
  overlaps the given box best (IoU); None means "no face to edit on this frame" (Sync's semantics);
- ``frame_number`` + ``coordinates``: the face containing that point on that frame, for the whole video;
- ``auto_detect``: the face whose mouth opening moves with the video's own speech — the audio-visual
  synchrony cue of active-speaker detectors (e.g. Chung & Zisserman, "Out of time", 2016), here with
  the plain correlation between each face's mouth opening and the speech loudness at a small lag;
  when the video is silent (or no face correlates), the largest face (biggest × longest on screen).
Identity comes from the tracker, which re-attaches a face to its identity after short losses, so the
choice holds across frames and short occlusions. The automatic choices compare faces only on frames where
their lips are inside the picture (``in_picture``): a mouth the mesh places outside can neither be
measured nor edited. Only the chosen face's landmarks reach the renderers:
other faces are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from openlipsync.engine import mesh
from openlipsync.engine.tracking import FaceTrack, FaceTracker, build_track, lips_in_picture
from openlipsync.options import ActiveSpeaker

log = logging.getLogger("openlipsync.engine.speaker")

MIN_SYNC_CORR = 0.15  # below this no face "speaks" with the audio
MIN_SYNC_MARGIN = 0.05  # the speaker must beat the runner-up by this much
MAX_LAG = 3  # frames of audio/mouth lag searched (either way)
BOX_MIN_IOU = 0.1
SILENT_RMS = 1e-3  # linear RMS under which a video's own audio counts as silent

IdentityFrames = Mapping[int, Mapping[int, np.ndarray]]  # {identity: {frame: (478, 2) landmarks}}


@dataclass(frozen=True)
class SpeakerChoice:
    """The outcome: ``per_frame`` (n,) identity to edit on each source frame (-1 = none), the ``primary``
    identity (the one whose mouth library is used), how it was chosen and each identity's score."""

    per_frame: np.ndarray
    primary: int
    method: str
    scores: dict[int, float] = field(default_factory=dict)

    def note(self) -> str:
        scores = ",".join(f"{k}:{v:.2f}" for k, v in sorted(self.scores.items()))
        return f"speaker={self.primary} via {self.method}" + (f" ({scores})" if scores else "")


def face_box(lm: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) of a face's landmarks."""
    return np.concatenate([lm[:468].min(0), lm[:468].max(0)])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, float(w)) * max(0.0, float(h))
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def largest(faces: IdentityFrames) -> int:
    """The face with the largest summed area over the video (big and long on screen)."""
    def area(frames: Mapping[int, np.ndarray]) -> float:
        return float(sum(mesh.interocular(lm) ** 2 for lm in frames.values()))
    return max(faces, key=lambda k: (area(faces[k]), -k))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 8 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def sync_score(frames: Mapping[int, np.ndarray], envelope: np.ndarray) -> float:
    """Best correlation (lags ±MAX_LAG) between a face's mouth opening and the speech envelope."""
    idx = np.array(sorted(k for k in frames if k < len(envelope)), np.int64)
    if len(idx) < 8:
        return 0.0
    opening = mesh.mouth_opening(np.stack([frames[int(k)] for k in idx])).astype(np.float64)
    best = 0.0
    for lag in range(-MAX_LAG, MAX_LAG + 1):
        j = idx - lag
        ok = (j >= 0) & (j < len(envelope))
        best = max(best, _corr(opening[ok], envelope[j[ok]]))
    return best


def _by_point(faces: IdentityFrames, frame: int, point: tuple[float, float]) -> tuple[int, str]:
    """The face containing ``point`` on ``frame`` (or the nearest face on the nearest frame with faces)."""
    p = np.asarray(point, np.float64)
    best, best_key = None, (np.inf, np.inf)
    for ident, frames in faces.items():
        for k, lm in frames.items():
            box = face_box(lm)
            inside = box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]
            dist = 0.0 if inside else float(np.linalg.norm(lm[:468].mean(0) - p))
            key = (abs(k - frame), dist)
            if key < best_key:
                best, best_key = ident, key
    assert best is not None
    return best, "point" if best_key == (0, 0.0) else "nearest_to_point"


def _by_boxes(faces: IdentityFrames, boxes: tuple[tuple[float, float, float, float] | None, ...],
              n: int) -> np.ndarray:
    """Per frame: the identity overlapping that frame's box best (-1 for None, past the list, or no overlap)."""
    per = np.full(n, -1, np.int64)
    for k in range(min(n, len(boxes))):
        box = boxes[k]
        if box is None:
            continue
        want = np.asarray(box, np.float64)
        scores = {ident: iou(face_box(frames[k]), want) for ident, frames in faces.items() if k in frames}
        if scores:
            ident = max(scores, key=lambda i: scores[i])
            if scores[ident] >= BOX_MIN_IOU:
                per[k] = ident
    return per


def in_picture(faces: IdentityFrames, width: int, height: int) -> dict[int, dict[int, np.ndarray]]:
    """``faces`` without the frames whose lips are not all inside the picture (and without identities
    left with none): the frames a face can be judged by, and edited on."""
    out: dict[int, dict[int, np.ndarray]] = {}
    for ident, frames in faces.items():
        keys = list(frames)
        if not keys:
            continue
        ok = lips_in_picture(np.stack([frames[k] for k in keys]), width, height)
        kept = {k: frames[k] for k, good in zip(keys, ok, strict=True) if good}
        if kept:
            out[ident] = kept
    return out


def choose(faces: IdentityFrames, n: int, option: ActiveSpeaker,
           envelope: Callable[[int], np.ndarray | None], judge: IdentityFrames | None = None) -> SpeakerChoice:
    """Decide which identity to edit on each of ``n`` source frames. ``envelope(n)`` returns the video's
    own speech loudness per source frame (log RMS), or None when it has no audio; it is only called when
    auto-detection needs it. ``judge``: the frames to compare faces by when choosing automatically
    (default all of ``faces``; see ``in_picture``): a face whose mouth is never in the picture cannot be
    the one to edit."""
    if not faces:
        return SpeakerChoice(np.full(n, -1, np.int64), 0, "no_face")
    if option.bounding_boxes is not None:
        per = _by_boxes(faces, option.bounding_boxes, n)
        used = per[per >= 0]
        primary = int(np.bincount(used).argmax()) if len(used) else largest(faces)
        return SpeakerChoice(per, primary, "bounding_boxes")
    if option.coordinates is not None:
        ident, how = _by_point(faces, int(option.frame_number or 0), option.coordinates)
        return _whole(faces, ident, n, how)
    if len(faces) == 1:
        return _whole(faces, next(iter(faces)), n, "single_face")
    judge = judge or faces
    if len(judge) == 1:
        return _whole(faces, next(iter(judge)), n, "single_face_in_picture")
    if not option.auto_detect:
        return _whole(faces, largest(judge), n, "largest")
    env = envelope(n)
    if env is None or float(np.max(env, initial=-9.0)) < np.log10(SILENT_RMS):
        return _whole(faces, largest(judge), n, "largest_silent_video")
    scores = {ident: sync_score(frames, env) for ident, frames in judge.items()}
    ranked = sorted(scores.values(), reverse=True)
    top = max(scores, key=lambda i: (scores[i], -i))
    if ranked[0] >= MIN_SYNC_CORR and ranked[0] - ranked[1] >= MIN_SYNC_MARGIN:
        return _whole(faces, top, n, "speech_sync", scores)
    return _whole(faces, largest(judge), n, "largest_no_sync", scores)


def _whole(faces: IdentityFrames, ident: int, n: int, method: str,
           scores: dict[int, float] | None = None) -> SpeakerChoice:
    per = np.full(n, -1, np.int64)
    idx = [k for k in faces[ident] if k < n]
    per[idx] = ident
    return SpeakerChoice(per, ident, method, dict(scores or {}))


def chosen_track(base: FaceTrack, faces: IdentityFrames, choice: SpeakerChoice) -> FaceTrack:
    """The FaceTrack of the chosen face(s): ``base`` (any track of the same run, for scene cuts and face
    counts) with the landmarks replaced. Frames whose chosen face is not the primary identity pass
    through as "other_face" (the mouth library belongs to the primary face)."""
    n = base.frame_count
    lms = np.full((n, mesh.N_LANDMARKS, 2), np.nan, np.float32)
    other = np.zeros(n, bool)
    for k in range(n):
        ident = int(choice.per_frame[k])
        if ident < 0 or k not in faces.get(ident, {}):
            continue
        if ident != choice.primary:
            other[k] = True
            continue
        lms[k] = faces[ident][k]
    track = build_track(lms, base.fps, base.width, base.height, base.scene_cut, base.face_count,
                        identity=choice.primary, identities=base.identities)
    track.reason[other] = "other_face"
    # other faces were there: the caller's box excluded them, or the chosen speaker was out of view
    why = "speaker_not_selected" if choice.method == "bounding_boxes" else "speaker_not_visible"
    track.reason[(choice.per_frame < 0) & (base.face_count[:n] > 0)] = why
    return track


def select_track(tracker: FaceTracker, option: ActiveSpeaker,
                 envelope: Callable[[int], np.ndarray | None]) -> tuple[FaceTrack, SpeakerChoice]:
    """Finish ``tracker`` and return the track of the face(s) to edit, with the choice made."""
    base = tracker.finish()
    faces = tracker.identity_frames()
    if len(faces) <= 1 and option.bounding_boxes is None:
        return base, SpeakerChoice(np.full(base.frame_count, base.identity, np.int64), base.identity,
                                   "single_face")
    choice = choose(faces, base.frame_count, option, envelope, in_picture(faces, base.width, base.height))
    log.info("active speaker: %s", choice.note())
    return chosen_track(base, faces, choice), choice
