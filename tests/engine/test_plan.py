"""Mouth plan: exact frame count, rest in silence, motion in speech."""

from __future__ import annotations

import numpy as np

from openlipsync.engine.plan import plan_mouth
from openlipsync.media.audio import load_audio


def test_frame_count_and_silence(silence_wav):
    audio = load_audio(silence_wav)
    plan = plan_mouth(audio, 16_000, 25.0, 37)
    assert plan.frame_count == 37
    assert plan.width.shape == plan.closure.shape == plan.speech.shape == (37,)
    assert not plan.speech.any()
    assert float(np.abs(plan.opening).max()) < 1e-3


def test_speech_moves_the_mouth(speech_wav):
    audio = load_audio(speech_wav)
    n = int(len(audio) / 16_000 * 25)
    plan = plan_mouth(audio, 16_000, 25.0, n)
    assert plan.speech.mean() > 0.4
    assert plan.opening[plan.speech].std() > 0.02
