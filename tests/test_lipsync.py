"""The library entry point's input preparation: probing both inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from openlipsync.errors import NoAudioStreamError, NoVideoStreamError

entry = sys.modules["openlipsync.lipsync"]  # the package re-exports the function under the module's name


def test_probing_reports_the_video_first_then_the_audio(stereo_tone: Path, tmp_path: Path):
    with pytest.raises(NoVideoStreamError):
        entry.probe_inputs(stereo_tone, stereo_tone)
    image = tmp_path / "face.png"
    import cv2

    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(NoAudioStreamError):
        entry.probe_inputs(image, image)
    visual, sound = entry.probe_inputs(image, stereo_tone)
    assert visual.is_image and sound.has_audio
