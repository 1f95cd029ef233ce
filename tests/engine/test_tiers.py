"""Model tiers are measurably different, not renamed: each one changes what its description says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.engine.features import capture_frames, decoded, skip_calibration

from openlipsync.engine import blend, geometry
from openlipsync.engine.expression import _oval
from openlipsync.lipsync import lipsync
from openlipsync.options import LipSyncOptions, Model, ModelMode, SyncMode

RUNS = {
    "pro": LipSyncOptions(model=Model.LIPSYNC_2_PRO, sync_mode=SyncMode.CUT_OFF),
    "sync3": LipSyncOptions(model=Model.SYNC_3, sync_mode=SyncMode.CUT_OFF),
    "react_lips": LipSyncOptions(model=Model.REACT_1, model_mode=ModelMode.LIPS, sync_mode=SyncMode.CUT_OFF),
    "react_face": LipSyncOptions(model=Model.REACT_1, model_mode=ModelMode.FACE, sync_mode=SyncMode.CUT_OFF),
    "react_head": LipSyncOptions(model=Model.REACT_1, model_mode=ModelMode.HEAD, sync_mode=SyncMode.CUT_OFF),
}


@pytest.fixture(scope="module")
def outputs(talking_video: Path, speech_wav: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """Every tier run once on the same generated clip; frames captured before encoding."""
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("tiers")
    out = {}
    try:
        skip_calibration(mp)
        for name, opts in RUNS.items():
            with capture_frames(mp) as frames:
                result = lipsync(talking_video, speech_wav, tmp / f"{name}.mp4", opts)
            out[name] = (np.stack(frames), result.report.notes)
    finally:
        mp.undo()
    return out


def _region(lm: np.ndarray, poly: np.ndarray) -> np.ndarray:
    return blend.polygon_mask(poly, (320, 320)) > 0


def _changed(out: np.ndarray, src: np.ndarray, where: np.ndarray) -> int:
    n = min(len(out), len(src))
    return int((np.any(out[:n] != src[:n], axis=-1) & where[None]).sum())


def test_notes_name_the_tier_features(outputs: dict) -> None:
    assert any("jaw" in n for n in outputs["sync3"][1])
    assert any("model_mode=head" in n for n in outputs["react_head"][1])


def test_react1_lips_mode_is_the_pro_mouth_only(outputs: dict) -> None:
    assert np.array_equal(outputs["react_lips"][0], outputs["pro"][0])


def test_react1_face_moves_brows_and_eyes_but_not_beyond_the_face(outputs: dict, talking_video: Path,
                                                                  astronaut_landmarks: np.ndarray) -> None:
    src = decoded(talking_video)
    lm = astronaut_landmarks
    eyes = np.zeros((320, 320), bool)
    eyes[int(lm[105, 1]) - 12:int(lm[145, 1]) + 4, 80:220] = True  # brows down to the lower lids
    outside_face = ~_region(lm, _oval(lm, 1.3))
    assert _changed(outputs["pro"][0], src, eyes) == 0
    assert _changed(outputs["react_face"][0], src, eyes) > 500
    assert _changed(outputs["react_face"][0], src, outside_face) == 0
    assert _changed(outputs["react_head"][0], src, outside_face) > 2000  # the head moves against the background


def test_sync3_moves_the_jaw_line_beyond_the_lower_tiers_region(outputs: dict, talking_video: Path,
                                                               astronaut_landmarks: np.ndarray) -> None:
    src = decoded(talking_video)
    lm = astronaut_landmarks
    beyond = ~_region(lm, geometry.lower_face_polygon(lm, 1.3)) & _region(lm, geometry.lower_face_polygon(lm, 1.65))
    pro, sync3 = _changed(outputs["pro"][0], src, beyond), _changed(outputs["sync3"][0], src, beyond)
    # (the band is drawn from one frame's landmarks; the lower tiers' edge may graze it by a pixel row)
    assert sync3 > 300 and sync3 > 10 * pro, (sync3, pro)
