"""One pass of audio analysis for a clip: features, voice activity and phones, per video frame."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from openlipsync.engine.audio.context import acoustic_matrix, logmel_matrix, phone_matrix, with_context
from openlipsync.engine.audio.features import FrameFeatures, frame_features, to_analysis_rate
from openlipsync.engine.audio.phones import PhoneTrack, phone_track, recognise_phones, speech_regions
from openlipsync.engine.audio.vad import speech_mask

log = logging.getLogger("openlipsync.engine.audio")


@dataclass(frozen=True)
class AudioAnalysis:
    """Everything the planner needs to know about one audio clip at ``fps`` (n frames)."""

    fps: float
    features: FrameFeatures
    speech: np.ndarray  # (n,) bool
    phones: PhoneTrack | None  # None when phone recognition was skipped or failed

    @property
    def frame_count(self) -> int:
        return self.features.frame_count

    def design(self) -> np.ndarray:
        """(n, d) model inputs: normalised log-mel and acoustics, phone cues and voice activity, with context."""
        base = np.column_stack([
            logmel_matrix(self.features, self.speech),
            acoustic_matrix(self.features, self.speech),
            phone_matrix(self.phones, self.frame_count),
            self.speech.astype(np.float64),
        ])
        return with_context(base, fps=self.fps)


def analyse(audio: np.ndarray, sr: int, fps: float, n_frames: int, *, phones: bool = True) -> AudioAnalysis:
    """Analyse ``audio`` (sample 0 = frame 0) for ``n_frames`` frames at ``fps``."""
    x = to_analysis_rate(audio, sr)
    feats = frame_features(x, 16_000, fps, n_frames)
    speech = speech_mask(x, feats, fps)
    track = None
    if phones and speech.any():
        recognised = recognise_phones(x, speech_regions(speech, fps, x.size))
        if recognised is not None:
            track = phone_track(recognised, fps, n_frames)
    return AudioAnalysis(float(fps), feats, speech, track)
