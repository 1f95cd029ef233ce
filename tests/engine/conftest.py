"""Engine test fixtures: astronaut landmarks measured once, and a generated 'talking' clip."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tests import factories

from openlipsync.media import FrameWriter


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return factories.astronaut_frame(320)


@pytest.fixture(scope="session")
def astronaut_landmarks(astronaut: np.ndarray) -> np.ndarray:
    """Tracked (478, 2) landmarks of the astronaut frame (a few tracking passes to converge)."""
    from openlipsync.engine.tracking import FaceTracker

    tracker = FaceTracker(25.0, 320, 320)
    for _ in range(4):
        tracker.update(astronaut)
    track = tracker.finish()
    assert track.valid.all()
    return track.landmarks[-1]


@pytest.fixture(scope="session")
def talking_video(media_dir: Path, astronaut: np.ndarray, astronaut_landmarks: np.ndarray,
                  speech_wav: Path) -> Path:
    """2 s of the astronaut 'talking' (mouth opened and closed by the warp tier) with speech audio:
    a clip whose own footage contains many mouth shapes, as the retrieval tier needs."""
    from openlipsync.engine.render_warp import WarpRenderer

    path = media_dir / "talking.mp4"
    renderer = WarpRenderer()
    n = 50
    with FrameWriter(path, width=320, height=320, fps=25.0, audio=speech_wav, crf=14) as writer:
        for i in range(n):
            opening = max(0.0, 0.22 * math.sin(2 * math.pi * i / 12.5)) * (0.5 + 0.5 * math.sin(i / 7.0) ** 2)
            writer.write(renderer.render(astronaut, astronaut_landmarks, opening, 0.8))
    return path
