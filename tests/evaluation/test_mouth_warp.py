"""The simple warp behind the loudness baseline and the synthetic clip, measured with dlib."""

from __future__ import annotations

import numpy as np

from openlipsync.evaluation.metrics import mouth_opening
from openlipsync.evaluation.mouth_warp import warp_mouth
from openlipsync.evaluation.synthetic import astronaut_portrait
from tests.evaluation.conftest import needs_dlib


@needs_dlib
def test_warp_opens_and_closes_the_measured_mouth_and_leaves_the_eyes_alone():
    from openlipsync.evaluation.landmarks import DlibLandmarker

    frame = astronaut_portrait()
    landmarker = DlibLandmarker()
    marks = landmarker(frame)
    before = mouth_opening(marks[None])[0]
    opened = warp_mouth(frame, marks, 8.0)
    closed = warp_mouth(frame, marks, -0.5 * before * np.linalg.norm(marks[45] - marks[36]))
    assert mouth_opening(landmarker(opened)[None])[0] > before + 0.05
    assert mouth_opening(landmarker(closed)[None])[0] < before
    eyes_top = int(marks[36:48, 1].max()) + 5
    assert np.array_equal(opened[:eyes_top], frame[:eyes_top])
    assert np.array_equal(warp_mouth(frame, np.full((68, 2), np.nan), 8.0), frame)
