from __future__ import annotations

import numpy as np
from tests.engine.features import ScriptedDetector

from openlipsync.engine import mesh
from openlipsync.engine.smoothing import OneEuroFilter
from openlipsync.engine.tracking import FaceTracker
from openlipsync.media import iter_frames


def test_landmarks_found_on_every_frame_of_the_astronaut_video(face_video):
    tracker = FaceTracker(25.0, 320, 320)
    for frame in iter_frames(face_video):
        tracker.update(frame)
    track = tracker.finish()
    assert track.frame_count == 50
    assert track.valid.all()
    lm = track.landmarks
    # mouth below the eyes and above the chin, inside the frame
    eyes_y = (lm[:, 33, 1] + lm[:, 263, 1]) / 2
    assert (lm[:, 13, 1] > eyes_y).all() and (lm[:, 152, 1] > lm[:, 14, 1]).all()
    d = track.interocular()
    assert 25 < np.median(d) < 80
    assert (np.abs(track.pose[:, 0]) < 0.4).all()
    assert not track.scene_cut.any()


def test_lips_are_stable_on_a_static_face(astronaut):
    tracker = FaceTracker(25.0, 320, 320)
    for _ in range(12):
        tracker.update(astronaut)
    lm = tracker.finish().landmarks[2:]
    jitter = np.abs(np.diff(lm[:, list(mesh.LIP_POINTS)], axis=0)).max()
    assert jitter < 1.0


def test_scene_cut_resets_and_faceless_frames_are_marked(astronaut, noface_video):
    blank = next(iter_frames(noface_video))
    import cv2

    blank = cv2.resize(blank, (320, 320))
    tracker = FaceTracker(25.0, 320, 320)
    frames = [astronaut] * 5 + [blank] * 4 + [astronaut] * 3
    for f in frames:
        tracker.update(f)
    track = tracker.finish()
    assert list(track.reason[5:9]) == ["no_face"] * 4
    assert track.valid[:5].all() and track.valid[9:].all()
    assert track.scene_cut[5] and track.scene_cut[9]


def test_one_euro_filter_smooths_noise_but_follows_steps():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(25.0, min_cutoff=1.0, beta=0.5)
    noisy = [f(np.array([0.0]) + rng.normal(0, 0.01, 1)) for _ in range(50)]
    assert np.std(noisy[10:]) < 0.006
    out = [f(np.array([1.0])) for _ in range(10)]
    assert out[-1][0] > 0.9


def test_the_finished_track_follows_a_fast_mouth_without_lag(astronaut_landmarks):
    """A mouth that drops open within one frame: the finished track has the lips where the detector saw
    them, within a few hundredths of the eye distance on every frame, and its smoothing is centred on the
    step instead of trailing it (a lagging track makes the render reshape a mouth that is not there:
    teeth stay visible between lips it closed)."""
    lower = list(mesh.LIPS_INNER_LOWER) + list(mesh.LIPS_OUTER_LOWER)
    d = float(mesh.interocular(astronaut_landmarks))
    shut = astronaut_landmarks.copy()
    opened = astronaut_landmarks.copy()
    opened[lower, 1] += 0.15 * d
    script = [[shut]] * 12 + [[opened]] * 12
    tracker = FaceTracker(25.0, 320, 320, detector=ScriptedDetector(script))  # type: ignore[arg-type]
    for _ in script:
        tracker.update(np.zeros((320, 320, 3), np.uint8))
    track = tracker.finish()
    error = np.array([np.abs(track.landmarks[k, lower, 1] - seen[0][lower, 1]).max() for k, seen in
                      enumerate(script)]) / d
    assert error.max() < 0.02
    assert error[11] > 0.005 and abs(error[11] - error[12]) < 0.005  # centred: half before, half after
    assert error[:9].max() < 0.002 and error[15:].max() < 0.002


def test_two_way_smoothing_restarts_at_scene_cuts_and_gaps():
    from openlipsync.engine.tracking import _runs

    cuts = [False] * 12
    cuts[5] = True
    assert _runs([0, 1, 2, 3, 4, 5, 6, 8, 9], cuts) == [[0, 1, 2, 3, 4], [5, 6], [8, 9]]
    assert _runs([], cuts) == []


def test_one_euro_parameters_may_differ_per_landmark():
    f = OneEuroFilter(25.0, min_cutoff=np.array([0.5, 0.5]), beta=np.array([0.0, 20.0]),
                      d_cutoff=np.array([1.0, 4.0]))
    f(np.zeros((2, 2)))
    out = f(np.ones((2, 2)))
    assert out[1, 0] > 0.7 > 0.2 > out[0, 0]  # the fast point follows a jump at once, the slow one lags


def test_the_scene_thumbnail_from_decoded_luma_matches_the_one_from_rgb(astronaut):
    from openlipsync.engine.tracking import scene_thumb, scene_thumb_from_luma
    from openlipsync.media.yuv import YuvFrame

    ramp = np.repeat(np.linspace(0, 255, 320).astype(np.uint8)[None, :, None], 180, axis=0).repeat(3, axis=2)
    for rgb in (astronaut, ramp, np.zeros_like(ramp), np.full_like(ramp, 255)):
        frame = YuvFrame.from_rgb(np.ascontiguousarray(rgb))
        from_rgb = scene_thumb(frame.preview_rgb())
        from_luma = scene_thumb_from_luma(frame.y)
        assert from_luma.shape == from_rgb.shape == (18, 32)
        assert np.abs(from_luma - from_rgb).max() <= 2.0


def test_a_face_whose_lips_leave_the_picture_stays_out_even_where_sync3_widens_the_limits(astronaut_landmarks):
    from openlipsync.engine import jaw
    from openlipsync.engine.tracking import MIN_INTEROCULAR_PX, build_track

    lm = astronaut_landmarks.astype(np.float32)
    d = float(mesh.interocular(lm))
    centre = lm[:468].mean(0)
    small = (lm - centre) * (0.5 * (MIN_INTEROCULAR_PX + jaw.HARD_MIN_INTEROCULAR_PX) / d) + centre
    width, height = 320, int(small[list(mesh.LIP_POINTS), 1].max()) - 1  # the lowest lip point is below
    lms = np.stack([small, small - np.array([0, 40], np.float32)])
    track = build_track(lms, 25.0, width, height, np.zeros(2, bool), np.ones(2, np.int16))
    assert list(track.reason) == ["out_of_frame", "too_small"]
    widened = jaw.widen_pose_limits(track)
    assert list(widened.valid) == [False, True] and widened.reason[0] == "out_of_frame"
