"""Mouth plan (driving audio → opening/width per frame): frame count, rest in silence, closures,
temperature, calibration, language independence, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from tests.engine.audio import fixtures as _fx
from tests.engine.audio.fixtures import SR, frames_for

from openlipsync.engine.audio.features import frame_features
from openlipsync.engine.plan import plan_mouth
from openlipsync.engine.types import Calibration, MouthShapes

# the audio fixtures live with the audio tests; re-exported here so pytest finds them
speech_audio = _fx.speech_audio
bilabial_audio = _fx.bilabial_audio
spanish_audio = _fx.spanish_audio
mandarin_audio = _fx.mandarin_audio


def _excursion(plan) -> float:
    return float(np.percentile(plan.opening[plan.speech], 95)) if plan.speech.any() else 0.0


def test_frame_count_and_silence():
    plan = plan_mouth(np.zeros(int(1.5 * SR), np.float32), SR, 25.0, 37)
    assert plan.frame_count == 37 and plan.fps == 25.0
    assert plan.width.shape == plan.closure.shape == plan.speech.shape == (37,)
    assert plan.opening.dtype == np.float32 and plan.speech.dtype == bool
    assert not plan.speech.any()
    assert float(np.abs(plan.opening).max()) < 1e-6
    assert np.ptp(plan.width) < 1e-6  # no motion at all in silence


@pytest.mark.parametrize(("fps", "extra"), [(25.0, 0), (30.0, 40), (29.97, -30), (24.0, 3)])
def test_exact_frame_count_when_lengths_differ(speech_audio, fps, extra):
    n = frames_for(speech_audio, fps) + extra
    plan = plan_mouth(speech_audio, SR, fps, n, phones=False)
    assert plan.frame_count == n
    if extra > 10:  # frames past the audio rest closed
        assert not plan.speech[n - extra + 5:].any()
        assert plan.opening[n - extra + 5:].max() == 0.0


def test_degenerate_inputs():
    assert plan_mouth(np.zeros(0, np.float32), SR, 25.0, 0).frame_count == 0
    empty = plan_mouth(np.zeros(0, np.float32), SR, 25.0, 10)
    assert empty.frame_count == 10 and not empty.speech.any()
    one = plan_mouth(np.zeros(10, np.float32), 8000, 25.0, 1)
    assert one.frame_count == 1


def test_speech_moves_the_mouth_and_rests_in_pauses(speech_audio):
    plan = plan_mouth(speech_audio, SR, 25.0, frames_for(speech_audio))
    assert 0.4 < plan.speech.mean() < 0.98
    talk = plan.opening[plan.speech]
    assert talk.std() > 0.02 and np.percentile(talk, 95) > 0.1
    assert np.percentile(talk, 95) < 0.45  # plausible scale in inter-ocular units
    # speech has closed/near-closed moments, not a constant gape
    assert (talk < 0.25 * np.percentile(talk, 95)).mean() > 0.05
    # pauses rest closed beyond the onset and release ramps (ONSET_S = 3 frames before, RELEASE_S = 2 after)
    sp = plan.speech
    near = np.zeros(sp.size, bool)
    for k in range(4):
        near[: sp.size - k] |= sp[k:]  # speech within the next 3 frames
    for k in range(3):
        near[k:] |= sp[: sp.size - k]  # speech within the last 2 frames
    assert (~near).sum() >= 5 and plan.opening[~near].max() == 0.0
    assert np.isfinite(plan.width).all() and 0.5 < plan.width.min() <= plan.width.max() < 1.2


def test_lips_part_before_a_phrase_and_close_after_it(speech_audio):
    """The mouth opens toward the first syllable before the voice starts (natural audiovisual speech:
    100–300 ms ahead) and closes over the release after it stops, instead of snapping at the edges."""
    plan = plan_mouth(speech_audio, SR, 25.0, frames_for(speech_audio))
    sp = plan.speech
    onsets = [i for i in range(7, sp.size) if sp[i] and not sp[i - 7:i].any()]
    offsets = [i for i in range(sp.size - 3) if sp[i] and not sp[i + 1:i + 4].any()]
    assert onsets and offsets
    for i in onsets:
        first = plan.opening[i:i + 3].max()
        assert plan.opening[i - 1] > 0.25 * first > 0  # already parting the frame before the voice
        # from the rest pose: past the 3-frame onset ramp, and past the 2-frame release of a phrase that
        # ended 7 or more frames before
        assert plan.opening[i - 4] == 0.0
    for i in offsets:
        assert plan.opening[i + 1] > 0  # still closing the frame after


def test_steady_tone_does_not_jitter():
    t = np.arange(2 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    plan = plan_mouth(tone, SR, 25.0, 50)
    mid = plan.opening[10:40]
    assert np.abs(np.diff(mid)).max() < 0.02


def test_bilabial_text_has_closures(bilabial_audio):
    plan = plan_mouth(bilabial_audio, SR, 25.0, frames_for(bilabial_audio))
    closed = (plan.closure > 0.5) & plan.speech
    assert closed.sum() >= 2
    assert plan.opening[closed].max() < 0.5 * np.percentile(plan.opening[plan.speech], 90)


def test_temperature_scales_excursions(speech_audio):
    n = frames_for(speech_audio)
    ex = [_excursion(plan_mouth(speech_audio, SR, 25.0, n, temperature=t, phones=False)) for t in (0.0, 0.5, 1.0)]
    assert ex[0] < ex[1] < ex[2]
    assert ex[2] > 2 * ex[0]


def test_deterministic_and_history_free(speech_audio, spanish_audio):
    n = frames_for(speech_audio)
    a = plan_mouth(speech_audio, SR, 25.0, n)
    plan_mouth(spanish_audio, SR, 25.0, frames_for(spanish_audio))  # decoder state must not leak
    b = plan_mouth(speech_audio, SR, 25.0, n)
    np.testing.assert_array_equal(a.opening, b.opening)
    np.testing.assert_array_equal(a.width, b.width)
    np.testing.assert_array_equal(a.closure, b.closure)


def _person(audio: np.ndarray, fps: float, open_scale: float, rest_width: float) -> Calibration:
    """A synthetic speaker whose mouth follows the loudness of their own speech at a given scale."""
    n = frames_for(audio, fps)
    e = frame_features(audio, SR, fps, n).energy
    opening = open_scale * np.clip((e + 45.0) / 30.0, 0, 1)
    opening = gaussian_filter1d(opening, 1.0).astype(np.float32)
    width = (rest_width - 0.3 * opening).astype(np.float32)
    valid = np.ones(n, bool)
    valid[::17] = False  # a few frames without a usable face
    return Calibration(audio, SR, fps, MouthShapes(opening, width, valid))


def test_calibration_moves_scale_toward_the_person(speech_audio, bilabial_audio):
    n = frames_for(bilabial_audio)
    big = plan_mouth(bilabial_audio, SR, 25.0, n, calibration=_person(speech_audio, 25.0, 0.45, 1.0), phones=False)
    small = plan_mouth(bilabial_audio, SR, 25.0, n, calibration=_person(speech_audio, 25.0, 0.08, 0.7),
                       phones=False)
    assert _excursion(big) > 2.5 * _excursion(small)
    assert 0.2 < _excursion(big) < 0.8
    assert _excursion(small) < 0.15
    rest = ~big.speech
    assert abs(float(np.median(big.width[rest])) - 1.0) < 0.05  # the person's own rest width
    assert abs(float(np.median(small.width[rest])) - 0.7) < 0.05


def test_calibration_at_another_fps_and_unusable_calibrations(speech_audio, bilabial_audio):
    n = frames_for(bilabial_audio)
    other_fps = plan_mouth(bilabial_audio, SR, 25.0, n, calibration=_person(speech_audio, 30.0, 0.3, 0.9),
                           phones=False)
    assert other_fps.frame_count == n and _excursion(other_fps) > 0.1
    cal = _person(speech_audio, 25.0, 0.3, 0.9)
    no_face = Calibration(cal.audio, SR, 25.0, MouthShapes(cal.shapes.opening, cal.shapes.width,
                                                           np.zeros_like(cal.shapes.valid)))
    silent = Calibration(np.zeros_like(cal.audio), SR, 25.0, cal.shapes)
    s = cal.shapes
    tiny = Calibration(cal.audio[: SR // 10], SR, 25.0, MouthShapes(s.opening[:2], s.width[:2], s.valid[:2]))
    prior = plan_mouth(bilabial_audio, SR, 25.0, n, phones=False)
    for c in (no_face, tiny):
        p = plan_mouth(bilabial_audio, SR, 25.0, n, calibration=c, phones=False)
        np.testing.assert_allclose(p.opening, prior.opening, atol=1e-6)  # ignored: prior only
    p = plan_mouth(bilabial_audio, SR, 25.0, n, calibration=silent, phones=False)  # range only, no speech
    assert p.frame_count == n and _excursion(p) > 0.05


@pytest.mark.parametrize("lang", ["spanish_audio", "mandarin_audio"])
def test_other_languages_give_plausible_motion(lang, request):
    audio = request.getfixturevalue(lang)
    plan = plan_mouth(audio, SR, 25.0, frames_for(audio))
    assert plan.speech.mean() > 0.4
    talk = plan.opening[plan.speech]
    assert talk.std() > 0.02 and 0.08 < np.percentile(talk, 95) < 0.45


def test_integer_and_stereo_audio_match_float(speech_audio):
    n = frames_for(speech_audio)
    ref = plan_mouth(speech_audio, SR, 25.0, n, phones=False)
    pcm = plan_mouth((speech_audio * 32767).astype(np.int16), SR, 25.0, n, phones=False)
    stereo = plan_mouth(np.stack([speech_audio, speech_audio], axis=1), SR, 25.0, n, phones=False)
    for p in (pcm, stereo):
        np.testing.assert_array_equal(p.speech, ref.speech)
        np.testing.assert_allclose(p.opening, ref.opening, atol=0.01)


def test_speaking_level_matches_the_person_and_keeps_silence_closed():
    from openlipsync.engine.plan import MAX_LEVEL_GAIN, match_speaking_level
    from openlipsync.engine.types import MouthPlan

    n = 100
    speech = np.zeros(n, bool)
    speech[20:80] = True
    opening = np.where(speech, 0.03 + 0.02 * np.sin(np.arange(n) / 3.0), 0.0).astype(np.float32)
    p = MouthPlan(25.0, opening.copy(), np.full(n, 0.8, np.float32), speech, np.zeros(n, np.float32))
    match_speaking_level(p, 0.06, 0.2)
    assert abs(float(np.median(p.opening[speech])) - 0.06) < 1e-3
    assert (p.opening[~speech] == 0).all()
    assert np.corrcoef(p.opening, opening)[0, 1] > 0.999  # shape and timing unchanged
    q = MouthPlan(25.0, opening.copy(), np.full(n, 0.8, np.float32), speech, np.zeros(n, np.float32))
    match_speaking_level(q, 10.0, 0.2)  # an absurd target is bounded
    assert float(q.opening.max()) <= max(0.2, MAX_LEVEL_GAIN * float(opening.max())) + 1e-6


def test_speaking_spread_is_widened_to_the_persons_and_never_narrowed():
    from openlipsync.engine.plan import MAX_SPREAD_GAIN, match_speaking_level
    from openlipsync.engine.types import MouthPlan

    n = 200
    speech = np.zeros(n, bool)
    speech[30:170] = True
    rng = np.random.default_rng(3)
    opening = np.where(speech, 0.06 + 0.02 * np.abs(np.sin(np.arange(n) / 2.7)) + rng.uniform(0, 0.005, n),
                       0.0).astype(np.float32)

    def plan() -> MouthPlan:
        return MouthPlan(25.0, opening.copy(), np.full(n, 0.8, np.float32), speech, np.zeros(n, np.float32))

    plain = plan()
    match_speaking_level(plain, 0.07, 0.3)
    top = float(np.percentile(plain.opening[speech], 95))  # the plan's own spread, level matched
    wide = 0.07 + 1.6 * (top - 0.07)
    p = plan()
    match_speaking_level(p, 0.07, 0.3, wide=wide)
    talk = p.opening[speech]
    assert abs(float(np.median(talk)) - 0.07) < 2e-3
    assert abs(float(np.percentile(talk, 95)) - wide) < 1e-3
    assert (p.opening[~speech] == 0).all()
    np.testing.assert_array_equal(p.opening[plain.opening <= 0.07], plain.opening[plain.opening <= 0.07])
    # the order of the openings (timing, which frame is wider) is kept
    assert (np.argsort(p.opening[speech], kind="stable") == np.argsort(opening[speech], kind="stable")).all()

    narrow = plan()
    match_speaking_level(narrow, 0.07, 0.3, wide=0.5 * (top + 0.07))  # the person spreads less: no change
    np.testing.assert_array_equal(narrow.opening, plain.opening)

    far = plan()
    match_speaking_level(far, 0.07, 10.0, wide=5.0)  # an absurd spread is bounded
    assert float(np.percentile(far.opening[speech], 95)) <= 0.07 + MAX_SPREAD_GAIN * (top - 0.07) + 2e-3
