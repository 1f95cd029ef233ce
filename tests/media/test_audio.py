"""Audio decoding and the output's audio track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openlipsync.media import load_audio, probe
from openlipsync.media.audio import SAMPLE_RATE, fit_audio_track


@pytest.mark.parametrize("duration", [1.25, 3.0])
def test_output_track_and_analysis_audio_come_from_one_decode(stereo_tone: Path, tmp_path: Path, duration: float):
    track = tmp_path / "out.wav"
    samples = fit_audio_track(probe(stereo_tone), duration, track)
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
