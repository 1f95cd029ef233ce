"""The library entry point's input preparation: probing both inputs, the output audio track."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from openlipsync.errors import NoAudioStreamError, NoVideoStreamError
from openlipsync.media import load_audio, probe
from openlipsync.media.audio import SAMPLE_RATE, write_wav

entry = sys.modules["openlipsync.lipsync"]  # the package re-exports the function under the module's name


@pytest.fixture
def stereo_tone(tmp_path: Path) -> Path:
    """2 s of a 44.1 kHz stereo tone: the analysis copy must be resampled and mixed down."""
    t = np.arange(2 * 44_100) / 44_100
    tone = 0.4 * np.sin(2 * np.pi * 220 * t)
    return write_wav(tmp_path / "tone.wav", np.stack([tone, 0.5 * tone], axis=1).astype(np.float32), 44_100)


@pytest.mark.parametrize("duration", [1.25, 3.0])
def test_output_track_and_analysis_audio_come_from_one_decode(stereo_tone: Path, tmp_path: Path, duration: float):
    track, samples = entry.prepare_output_audio(probe(stereo_tone), duration, tmp_path / "out.wav")
    assert abs(probe(track).duration - duration) < 1e-3
    stereo = load_audio(track, channels=2)  # the output keeps the input's channels
    loud = np.abs(stereo[:, 0]) > 0.1
    assert np.allclose(stereo[loud, 1] / stereo[loud, 0], 0.5, atol=0.02)
    assert samples.dtype == np.float32 and len(samples) == round(duration * SAMPLE_RATE)
    # the same as decoding the written track for analysis
    np.testing.assert_allclose(samples, load_audio(track)[:len(samples)], atol=2e-3)
    assert np.abs(samples[: SAMPLE_RATE]).max() > 0.2  # the tone
    if duration > 2:
        assert np.abs(samples[int(2.1 * SAMPLE_RATE):]).max() < 1e-3  # padded with silence


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
