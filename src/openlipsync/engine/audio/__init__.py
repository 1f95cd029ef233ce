"""Audio analysis for the mouth plan: frame-aligned features, voice activity, phone classes, the
generic prior, the person-specific calibration model and trajectory shaping.

Everything here works on mono float32 audio and returns one row per *video* frame at ``fps``
(frame ``i`` covers ``[i/fps, (i+1)/fps)``; sample 0 is the start of frame 0). The entry point
for other stages is ``openlipsync.engine.plan.plan_mouth``.

Modules: ``features`` (log-mel, energy, tilt, centroid, zcr, voicing), ``vad`` (webrtcvad + energy
gate), ``phones`` (pocketsphinx allphone → visemic classes), ``analysis`` (one pass over a clip),
``context`` (normalised design matrices with temporal context), ``prior`` (generic opening/width),
``ridge`` (ridge + blocked CV), ``calibrate`` (person model), ``dynamics`` (timing, closures, rest,
temperature).
"""

from openlipsync.engine.audio.analysis import AudioAnalysis, analyse
from openlipsync.engine.audio.calibrate import PersonModel, fit_person
from openlipsync.engine.audio.features import ANALYSIS_SR, FrameFeatures, frame_features
from openlipsync.engine.audio.phones import PhoneTrack, recognise_phones
from openlipsync.engine.audio.vad import speech_mask

__all__ = [
    "ANALYSIS_SR",
    "AudioAnalysis",
    "FrameFeatures",
    "PersonModel",
    "PhoneTrack",
    "analyse",
    "fit_person",
    "frame_features",
    "recognise_phones",
    "speech_mask",
]
