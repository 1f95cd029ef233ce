"""First-formant tracking and the formant-based openness of the generic prior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter
from tests import factories

from openlipsync.engine.audio.features import HOP, WIN, frame_features
from openlipsync.engine.audio.formants import first_formant, lpc
from openlipsync.engine.audio.prior import formant_openness
from openlipsync.engine.audio.vad import speech_mask
from openlipsync.media.audio import load_audio

SR = 16_000


def vowel(f1: float, f2: float, seconds: float = 0.5, pitch: float = 120.0, amp: float = 0.5) -> np.ndarray:
    """A glottal pulse train through three formant resonators (a source-filter vowel)."""
    src = np.zeros(int(seconds * SR))
    src[:: int(SR / pitch)] = 1.0
    y = src
    for freq, bw in ((f1, 80.0), (f2, 100.0), (2800.0, 150.0)):
        r = np.exp(-np.pi * bw / SR)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * freq / SR), r * r], y)
    return (amp * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.parametrize(("f1", "f2"), [(750.0, 1200.0), (550.0, 1800.0), (320.0, 2300.0)])
def test_first_formant_of_synthetic_vowels(f1, f2):
    est = first_formant(vowel(f1, f2), SR, HOP, WIN)
    assert est.shape == (int(np.ceil(0.5 * SR / HOP)),)
    middle = est[5:-5]
    assert np.isfinite(middle).mean() > 0.9
    assert abs(np.nanmedian(middle) - f1) < 0.2 * f1


def test_open_vowel_has_a_higher_f1_than_close_vowels():
    a, i, u = (np.nanmedian(first_formant(vowel(*f), SR, HOP, WIN)) for f in ((750, 1200), (300, 2300), (320, 800)))
    assert a > 1.5 * max(i, u)


def test_silence_and_empty_audio_have_no_formant():
    assert np.isnan(first_formant(np.zeros(SR, np.float32), SR, HOP, WIN)).all()
    assert first_formant(np.zeros(0, np.float32), SR, HOP, WIN).shape == (1,)
    assert np.isnan(first_formant(np.zeros(0, np.float32), SR, HOP, WIN)).all()


def test_lpc_recovers_an_autoregressive_process():
    rng = np.random.default_rng(0)
    x = lfilter([1.0], [1.0, -1.3, 0.6], rng.normal(size=20_000))
    a = lpc(x[None, :], 2)[0]
    np.testing.assert_allclose(a, [1.0, -1.3, 0.6], atol=0.03)


def test_frame_features_carry_f1_per_video_frame():
    audio = np.concatenate([vowel(750, 1200, 1.0), np.zeros(SR, np.float32)])
    f = frame_features(audio, SR, 25.0, 50)
    assert f.f1.shape == (50,)
    assert abs(np.nanmedian(f.f1[3:22]) - 750) < 150
    assert np.isnan(f.f1[30:]).all()  # silence has no resonance


def test_formant_openness_opens_more_on_open_vowels_and_closes_when_quiet():
    quiet = 0.003 * vowel(750, 1200, 0.4)  # ≈ 45 dB below the vowels
    parts = [vowel(750, 1200, 0.4), vowel(300, 2300, 0.4)] * 3 + [quiet]
    audio = np.concatenate(parts)
    n = int(len(audio) / SR * 25)
    f = frame_features(audio, SR, 25.0, n)
    speech = np.ones(n, bool)
    op = formant_openness(f, speech)
    per = 10  # frames per 0.4 s part
    a_frames = np.concatenate([op[k * 2 * per + 2:(k * 2 + 1) * per - 2] for k in range(3)])
    i_frames = np.concatenate([op[(k * 2 + 1) * per + 2:(k * 2 + 2) * per - 2] for k in range(3)])
    assert a_frames.mean() > i_frames.mean() + 0.3
    assert op[6 * per + 2:].max() == 0.0
    assert ((op >= 0) & (op <= 1)).all()


def test_formant_openness_is_scale_free_across_voices():
    """A higher voice (all formants up 20 %) is measured against its own range: same openness pattern."""
    def sentence(scale: float) -> np.ndarray:
        return np.concatenate([vowel(750 * scale, 1200 * scale, 0.4), vowel(300 * scale, 2300 * scale, 0.4)] * 3)

    ops = []
    for scale in (1.0, 1.2):
        audio = sentence(scale)
        n = int(len(audio) / SR * 25)
        ops.append(formant_openness(frame_features(audio, SR, 25.0, n), np.ones(n, bool)))
    assert np.corrcoef(ops[0], ops[1])[0, 1] > 0.9


def test_espeak_open_vowels_have_a_higher_f1_than_close_ones(media_dir):
    """On synthetic speech, /a/ syllables measure a higher F1 than /i/ ones (the prior's acoustic cue)."""
    def f1_in_speech(name: str, text: str) -> float:
        audio = load_audio(factories.make_speech(media_dir / f"{name}.wav", text), SR)
        n = int(len(audio) / SR * 25)
        f = frame_features(audio, SR, 25.0, n)
        return float(np.nanmedian(f.f1[speech_mask(audio, f, 25.0)]))

    assert f1_in_speech("f1_open", "ha ha ha ha ha ha") > 1.3 * f1_in_speech("f1_close", "he he he he he he")
