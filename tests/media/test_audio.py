"""Audio decoding and the output's audio track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openlipsync.media import load_audio, load_video_audio, probe
from openlipsync.media.audio import SAMPLE_RATE, fit_audio_track, on_video_clock
from tests.factories import make_click_video


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


def _click_at(samples: np.ndarray) -> float:
    return float(np.argmax(np.abs(samples))) / SAMPLE_RATE


def test_a_videos_own_sound_is_put_on_the_videos_clock(tmp_path: Path):
    late_picture = probe(make_click_video(tmp_path / "late.mov", 0.2))
    assert late_picture.video_start == pytest.approx(0.2, abs=1e-3) and late_picture.audio_start == 0.0
    assert late_picture.audio_lead == pytest.approx(0.2, abs=1e-3)
    assert _click_at(load_audio(late_picture)) == pytest.approx(0.5, abs=0.005)  # the track as stored
    # the picture starts 0.2 s into the sound: the click is heard 0.3 s after the first frame shows
    assert _click_at(load_video_audio(late_picture)) == pytest.approx(0.3, abs=0.005)
    together = probe(make_click_video(tmp_path / "together.mov", 0.0))
    assert together.audio_lead == 0.0
    np.testing.assert_array_equal(load_video_audio(together), load_audio(together))


def test_silence_put_in_front_of_a_videos_sound_is_bounded_by_the_video(tmp_path: Path):
    from dataclasses import replace

    video = probe(make_click_video(tmp_path / "clip.mov", 0.0))
    claims_late_sound = replace(video, audio_start=3600.0)  # a file may claim any start time
    sound = load_video_audio(claims_late_sound)
    assert len(sound) <= len(load_audio(video)) + video.video_duration * SAMPLE_RATE + 1


def test_sound_moves_onto_the_video_clock_both_ways():
    samples = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(on_video_clock(samples, 0.3, 10), samples[3:])  # heard before the picture
    np.testing.assert_array_equal(on_video_clock(samples, -0.2, 10), [0, 0, *samples])  # the picture first
    stereo = np.ones((4, 2), np.float32)
    assert on_video_clock(stereo, -0.1, 10).shape == (5, 2)
    assert on_video_clock(samples, 0.0, 10) is samples


def test_fit_length_pads_and_trims_mono_and_stereo():
    from openlipsync.media.audio import fit_length

    assert fit_length(np.ones(3, np.float32), 5).tolist() == [1, 1, 1, 0, 0]
    stereo = fit_length(np.ones((3, 2), np.float32), 5)  # a video whose sound ends before its picture
    assert stereo.shape == (5, 2) and stereo[3:].max() == 0
    assert fit_length(np.ones((7, 2), np.float32), 5).shape == (5, 2)
