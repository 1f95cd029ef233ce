"""Active speaker: the chosen face is edited, every other face keeps its exact pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.engine.features import ScriptedDetector, capture_frames, decoded, make_two_faces, skip_calibration

from openlipsync.engine import mesh, speaker
from openlipsync.lipsync import lipsync
from openlipsync.options import ActiveSpeaker, LipSyncOptions, Model, SyncMode

LEFT, RIGHT = (slice(None), slice(0, 320)), (slice(None), slice(320, 640))
MOUTH = (slice(125, 175), slice(110, 185))  # astronaut mouth box inside one 320×320 half


def _faces(lm: np.ndarray, n: int, talking: int | None) -> dict[int, dict[int, np.ndarray]]:
    """Two identities side by side; identity ``talking`` opens its lower lip with a square wave."""
    out: dict[int, dict[int, np.ndarray]] = {0: {}, 1: {}}
    lower = np.array(mesh.LOWER_LIP)
    for k in range(n):
        for ident in (0, 1):
            pts = lm.copy()
            pts[:, 0] += 320 * ident
            if ident == talking and (k // 4) % 2:
                pts[lower, 1] += 6.0
            out[ident][k] = pts
    return out


def _envelope(n: int) -> np.ndarray:
    return np.array([-1.0 if (k // 4) % 2 else -3.5 for k in range(n)])


def test_iou_of_identical_and_disjoint_boxes() -> None:
    a = np.array([0, 0, 10, 10.0])
    assert speaker.iou(a, a) == pytest.approx(1.0)
    assert speaker.iou(a, a + 20) == 0.0


def test_auto_detect_picks_the_face_whose_mouth_moves_with_the_speech(astronaut_landmarks: np.ndarray) -> None:
    n = 40
    for talking in (0, 1):
        choice = speaker.choose(_faces(astronaut_landmarks, n, talking), n, ActiveSpeaker(), lambda m: _envelope(m))
        assert (choice.primary, choice.method) == (talking, "speech_sync")
        assert choice.scores[talking] > 0.9 > abs(choice.scores[1 - talking])


def test_a_face_whose_mouth_is_out_of_the_picture_is_not_chosen(astronaut_landmarks: np.ndarray) -> None:
    n = 40
    faces = _faces(astronaut_landmarks, n, talking=1)  # identity 1 moves its mouth with the speech…
    for k in range(n):  # …but its lips are below the picture's bottom edge on every frame but two
        if k not in (3, 4):
            faces[1][k] = faces[1][k] + np.array([0, 320 - astronaut_landmarks[list(mesh.LIP_POINTS), 1].min()],
                                                 np.float32)
    judge = speaker.in_picture(faces, 640, 320)
    assert sorted(judge) == [0, 1] and len(judge[0]) == n and sorted(judge[1]) == [3, 4]
    chosen = speaker.choose(faces, n, ActiveSpeaker(), lambda m: _envelope(m), judge)
    assert chosen.primary == 0 and (chosen.per_frame == 0).all()
    assert speaker.choose(faces, n, ActiveSpeaker(), lambda m: _envelope(m)).primary == 1  # judged on all frames
    for k in (3, 4):
        faces[1][k] = faces[1][k] + np.array([0, 400], np.float32)
    judge = speaker.in_picture(faces, 640, 320)
    assert sorted(judge) == [0]
    assert speaker.choose(faces, n, ActiveSpeaker(), lambda m: _envelope(m), judge).method == "single_face_in_picture"


def test_silent_video_falls_back_to_the_largest_face(astronaut_landmarks: np.ndarray) -> None:
    faces = _faces(astronaut_landmarks, 20, None)
    big = faces[1]
    for k in big:  # scale identity 1 up about its centre
        c = big[k].mean(0)
        big[k] = (big[k] - c) * 1.3 + c
    choice = speaker.choose(faces, 20, ActiveSpeaker(), lambda m: None)
    assert (choice.primary, choice.method) == (1, "largest_silent_video")


def test_point_picks_the_face_under_it(astronaut_landmarks: np.ndarray) -> None:
    faces = _faces(astronaut_landmarks, 10, None)
    x, y = astronaut_landmarks[1]
    for ident in (0, 1):
        choice = speaker.choose(faces, 10, ActiveSpeaker(auto_detect=False, frame_number=5,
                                                         coordinates=(x + 320 * ident, y)), lambda m: None)
        assert choice.primary == ident and choice.method == "point"
        assert (choice.per_frame == ident).all()


def test_boxes_pick_per_frame_and_none_means_not_edited(astronaut_landmarks: np.ndarray) -> None:
    faces = _faces(astronaut_landmarks, 6, None)
    right = tuple(float(v) for v in speaker.face_box(faces[1][0]))
    boxes = (right, right, None, right)
    choice = speaker.choose(faces, 6, ActiveSpeaker(bounding_boxes=boxes), lambda m: None)
    assert choice.per_frame.tolist() == [1, 1, -1, 1, -1, -1]
    assert choice.primary == 1


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray,
              astronaut_landmarks: np.ndarray, speech_wav: Path) -> Path:
    return make_two_faces(tmp_path_factory.mktemp("speaker") / "two.mp4", astronaut, astronaut_landmarks,
                          speech_wav, talking="right", seconds=2.0)


def _run(video: Path, audio: Path, out: Path, option: ActiveSpeaker, monkeypatch: pytest.MonkeyPatch
         ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    skip_calibration(monkeypatch)
    with capture_frames(monkeypatch) as frames:
        result = lipsync(video, audio, out, LipSyncOptions(model=Model.LIPSYNC_1_9, active_speaker=option,
                                                                sync_mode=SyncMode.CUT_OFF))
    src = decoded(video)
    n = min(len(frames), len(src))
    return np.stack(frames[:n]), src[:n], result.report.notes


def _changed(out: np.ndarray, src: np.ndarray, half: tuple[slice, slice]) -> tuple[int, float]:
    """(pixels that differ at all, mean abs difference in the mouth box) over one half of the frames."""
    a, b = out[(slice(None), *half)], src[(slice(None), *half)]
    mouth = (slice(None), *MOUTH)
    diff = np.abs(a[mouth].astype(np.int16) - b[mouth].astype(np.int16)).mean()
    return int(np.any(a != b, axis=-1).sum()), float(diff)


def test_auto_detect_edits_only_the_speaking_face(two_faces: Path, speech_wav: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out, src, notes = _run(two_faces, speech_wav, tmp_path / "o.mp4", ActiveSpeaker(), monkeypatch)
    assert any("speech_sync" in n for n in notes), notes
    still_px, _ = _changed(out, src, LEFT)
    moved_px, moved_diff = _changed(out, src, RIGHT)
    assert still_px == 0  # the other face: every pixel byte-identical to the decoded input
    assert moved_px > 1000 and moved_diff > 1.0


def test_coordinates_select_the_other_face(two_faces: Path, speech_wav: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    option = ActiveSpeaker(auto_detect=False, frame_number=3, coordinates=(150.0, 150.0))
    out, src, notes = _run(two_faces, speech_wav, tmp_path / "o.mp4", option, monkeypatch)
    assert _changed(out, src, RIGHT)[0] == 0
    assert _changed(out, src, LEFT)[0] > 1000


def test_bounding_boxes_edit_only_boxed_frames(two_faces: Path, speech_wav: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    box = (85.0, 40.0, 215.0, 215.0)  # around the left face
    boxes = tuple(box if k < 20 else None for k in range(50))
    out, src, _ = _run(two_faces, speech_wav, tmp_path / "o.mp4", ActiveSpeaker(bounding_boxes=boxes),
                       monkeypatch)
    assert _changed(out, src, RIGHT)[0] == 0
    assert _changed(out[:20], src[:20], LEFT)[0] > 200
    assert np.array_equal(out[20:], src[20:])  # None = no face to edit on those frames


def test_identity_survives_a_short_occlusion_and_is_chosen_throughout(astronaut_landmarks: np.ndarray) -> None:
    from openlipsync.engine.tracking import FaceTracker

    left, right = astronaut_landmarks, astronaut_landmarks + np.array([320.0, 0.0], np.float32)
    # the right face is hidden on frames 10..14 (a hand, a turn) and the faces are listed in varying order
    script = [[right, left] if k % 2 else [left, right] for k in range(10)] + [[left]] * 5 + \
             [[right, left]] * 10
    tracker = FaceTracker(25.0, 640, 320, detector=ScriptedDetector(script))  # type: ignore[arg-type]
    frame = np.zeros((320, 640, 3), np.uint8)
    for _ in script:
        tracker.update(frame)
    x, y = right[1]
    track, choice = speaker.select_track(tracker, ActiveSpeaker(auto_detect=False, frame_number=20,
                                                                coordinates=(float(x), float(y))), lambda n: None)
    assert len(tracker.identity_frames()) == 2
    assert track.valid.tolist() == [True] * 10 + [False] * 5 + [True] * 10
    assert set(track.reason[10:15]) == {"speaker_not_visible"}  # the other face is there but not edited
    assert np.allclose(track.landmarks[[0, 1, 24], 1, 0], x, atol=1.0)  # always the right-hand face
