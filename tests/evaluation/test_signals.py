"""Speech envelope and silence detection at the video frame rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openlipsync.evaluation.signals import loudness01, silent_frames, speech_envelope
from openlipsync.media import load_audio

SR = 16_000


def test_envelope_follows_a_burst_and_is_floored():
    audio = np.zeros(SR * 2, np.float32)
    audio[SR // 2:SR] = 0.5 * np.sin(np.arange(SR // 2) * 2 * np.pi * 200 / SR)
    env = speech_envelope(audio, 25.0, 50)
    assert env[20] > -1.0  # the burst is the loudest part: about 0 dB
    assert env[40] == -50.0  # digital silence sits on the floor
    loud = loudness01(audio, 25.0, 50)
    assert loud.min() == 0.0 and loud.max() == 1.0


def test_silent_frames_flag_padding_after_speech_but_not_speech(speech_wav: Path):
    speech = load_audio(speech_wav)
    audio = np.concatenate([speech, np.zeros(SR * 2, np.float32)])
    fps = 25.0
    n = int(len(audio) / SR * fps)
    silent = silent_frames(audio, fps, n)
    speech_frames = int(len(speech) / SR * fps)
    assert silent[speech_frames + 10:].all()  # the 2 s of padding (past the margin)
    assert silent[: speech_frames].mean() < 0.5  # most of the speech is speech
