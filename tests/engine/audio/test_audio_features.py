"""Frame-aligned acoustic features and voice activity."""

from __future__ import annotations

import numpy as np
import pytest

from openlipsync.engine.audio.features import N_MELS, fine_to_frames, frame_features, to_analysis_rate
from openlipsync.engine.audio.vad import speech_mask

SR = 16_000


def _tone(freq: float, seconds: float = 1.0, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(("fps", "n"), [(25.0, 25), (30.0, 30), (29.97, 7), (60.0, 90)])
def test_exact_frame_count_any_fps(fps, n):
    f = frame_features(_tone(200), SR, fps, n)  # 90 frames at 60 fps is longer than the audio
    assert f.frame_count == n
    assert f.logmel.shape == (n, N_MELS)
    assert f.matrix().shape == (n, N_MELS + 5)
    assert np.isfinite(f.matrix()).all()


def test_frames_past_the_audio_are_silent():
    f = frame_features(_tone(200, seconds=0.5), SR, 25.0, 25)
    assert f.energy[:10].min() > -20
    assert f.energy[15:].max() <= -79


def test_spectral_features_follow_the_signal():
    low = frame_features(_tone(150), SR, 25.0, 25)
    high = frame_features(_tone(3000), SR, 25.0, 25)
    noise = frame_features(np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32), SR, 25.0, 25)
    mid = slice(3, 22)
    assert abs(np.median(low.centroid[mid]) - 0.15) < 0.05  # kHz
    assert np.median(high.centroid[mid]) > 2.5
    assert np.median(high.tilt[mid]) > np.median(low.tilt[mid]) + 20
    assert np.median(low.voicing[mid]) > 0.9 > 0.5 > np.median(noise.voicing[mid])
    assert np.median(noise.zcr[mid]) > 5 * np.median(low.zcr[mid])


def test_resampling_and_stereo_are_accepted():
    x44 = _tone(440, sr=44_100)
    assert abs(to_analysis_rate(x44, 44_100).size - SR) <= 1
    stereo = np.stack([x44, x44], axis=1)
    f = frame_features(stereo, 44_100, 25.0, 25)
    g = frame_features(x44, 44_100, 25.0, 25)
    np.testing.assert_allclose(f.energy, g.energy, atol=1e-3)


def test_fine_to_frames_averages_rows_around_each_frames_instant():
    rows = np.arange(100, dtype=np.float64)  # 1 s at 100 rows/s
    out = fine_to_frames(rows, 10.0, 10)
    # frame i (at i/10 s) averages rows 10i-5 .. 10i+4; the first frame only has the half after 0
    np.testing.assert_allclose(out, [2.0, *(np.arange(1, 10) * 10 - 0.5)])


def test_vad_silence_tone_and_speech(speech_audio):
    sil = np.zeros(SR, np.float32)
    f = frame_features(sil, SR, 25.0, 25)
    assert not speech_mask(to_analysis_rate(sil, SR), f, 25.0).any()
    n = int(len(speech_audio) / SR * 25)
    f = frame_features(speech_audio, SR, 25.0, n)
    mask = speech_mask(speech_audio, f, 25.0)
    assert 0.4 < mask.mean() < 0.98  # speech with pauses: mostly speech, not everything
    assert not mask[0] and not mask[-1]  # espeak leaves a little silence at both ends


def test_vad_ignores_very_quiet_noise():
    hiss = np.random.default_rng(1).normal(0, 1e-4, 2 * SR).astype(np.float32)
    f = frame_features(hiss, SR, 25.0, 50)
    assert not speech_mask(hiss, f, 25.0).any()


def test_integer_pcm_is_scaled():
    x = _tone(300)
    pcm = (x * 32767).astype(np.int16)
    a = frame_features(x, SR, 25.0, 25).energy
    b = frame_features(pcm, SR, 25.0, 25).energy
    np.testing.assert_allclose(a, b, atol=0.05)


def test_non_finite_samples_are_treated_as_silence():
    x = _tone(300)
    x[4000:6000] = np.nan
    f = frame_features(x, SR, 25.0, 25)
    assert np.isfinite(f.matrix()).all()


def test_temperature_gain_is_monotonic_and_safe():
    from openlipsync.engine.audio.dynamics import temperature_gain

    gains = [temperature_gain(t) for t in (-1.0, 0.0, 0.25, 0.5, 0.75, 1.0, 2.0)]
    assert gains == sorted(gains) and gains[0] == gains[1] and gains[-1] == gains[-2]
    assert temperature_gain(0.5) == 1.0 and temperature_gain(float("nan")) == 1.0
