"""sync-3: jaw/chin/cheek motion that follows the mouth, and harder poses."""

from __future__ import annotations

import numpy as np

from openlipsync.engine import blend, geometry, mesh
from openlipsync.engine.jaw import JawMotion, jaw_offsets, jaw_region, warp_jaw, widen_pose_limits
from openlipsync.engine.tracking import build_track


def test_wider_pose_limits_accept_harder_frames_only(astronaut_landmarks: np.ndarray) -> None:
    lms = np.repeat(astronaut_landmarks[None], 3, axis=0).copy()
    track = build_track(lms, 25.0, 320, 320, np.zeros(3, bool), np.ones(3, np.int16))
    track.pose[:, 0] = [0.7, 0.9, 0.1]  # yaw beyond the default limit, beyond the hard limit, frontal
    track.reason[:2] = "profile"
    track.valid[:2] = False
    wide = widen_pose_limits(track)
    assert wide.valid.tolist() == [True, False, True]
    assert wide.reason[1] == "profile" and track.valid[0] == np.False_  # the input track is not modified


def test_jaw_offsets_move_the_chin_not_the_lips(astronaut_landmarks: np.ndarray) -> None:
    lm = astronaut_landmarks
    _, down = mesh.face_axes(lm)
    off = jaw_offsets(lm, 10.0)
    assert np.abs(off[mesh.IDX["LIP_POINTS"]]).max() == 0.0
    chin = float(off[mesh.CHIN] @ down)
    assert 2.0 < chin < 4.0  # the chin catches up to ~0.95 of the lower lip (the base gives 0.65)
    assert float(np.linalg.norm(off[234])) < 0.3 * chin  # near the ear (hinge) hardly anything moves
    assert np.allclose(jaw_offsets(lm, -10.0), -off)


def test_jaw_warp_moves_the_chin_silhouette_and_nothing_outside(astronaut: np.ndarray,
                                                                astronaut_landmarks: np.ndarray) -> None:
    lm = astronaut_landmarks
    out = warp_jaw(astronaut, lm, jaw_offsets(lm, 14.0))
    changed = np.any(out != astronaut, -1)
    region = blend.polygon_mask(jaw_region(lm), astronaut.shape[:2]) > 0
    assert not changed[~region].any()
    below_base = region & ~(blend.polygon_mask(geometry.lower_face_polygon(lm, 1.3), astronaut.shape[:2]) > 0)
    assert changed[below_base].sum() > 100  # beyond what the lower tiers may touch


def test_jaw_motion_follows_the_rendered_opening(astronaut: np.ndarray, astronaut_landmarks: np.ndarray) -> None:
    lm = astronaut_landmarks
    stage = JawMotion()
    same = stage.apply(astronaut, lm, float(mesh.mouth_opening(lm)))
    assert same is astronaut  # nothing to add when the mouth did not change
    opened = stage.apply(astronaut, lm, float(mesh.mouth_opening(lm)) + 0.3)
    assert np.any(opened != astronaut)
