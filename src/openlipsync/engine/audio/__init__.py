"""Audio analysis for the mouth plan: frame-aligned features, voice activity and phone classes.

Everything here works on mono float32 audio and returns one row per *video* frame at ``fps``
(frame ``i`` covers ``[i/fps, (i+1)/fps)``; sample 0 is the start of frame 0).
"""

from openlipsync.engine.audio.features import ANALYSIS_SR, FrameFeatures, frame_features
from openlipsync.engine.audio.vad import speech_mask

__all__ = ["ANALYSIS_SR", "FrameFeatures", "frame_features", "speech_mask"]
