"""Audio signals at the video frame rate: speech envelope (for AV offset) and silence (for the rest test)."""

from __future__ import annotations

import numpy as np

SR = 16_000
FLOOR_DB = -50.0  # envelope floor relative to the loudest frame: breaths and room noise count as silence


def frame_rms(audio: np.ndarray, fps: float, n_frames: int, sr: int = SR) -> np.ndarray:
    """(n_frames,) RMS of ``audio`` in a window of one frame period centred on each frame's time."""
    hop = sr / fps
    half = int(round(hop / 2))
    out = np.zeros(n_frames, np.float64)
    for i in range(n_frames):
        c = int(round(i * hop))
        seg = audio[max(0, c - half): c + half + 1]
        out[i] = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0
    return out


def speech_envelope(audio: np.ndarray, fps: float, n_frames: int, sr: int = SR) -> np.ndarray:
    """(n_frames,) log loudness in dB relative to the loudest frame, floored at ``FLOOR_DB``."""
    rms = frame_rms(audio, fps, n_frames, sr)
    peak = rms.max() if len(rms) else 0.0
    if peak <= 0:
        return np.full(n_frames, FLOOR_DB)
    db = 20.0 * np.log10(np.maximum(rms, 1e-9) / peak)
    return np.maximum(db, FLOOR_DB)


def loudness01(audio: np.ndarray, fps: float, n_frames: int, sr: int = SR) -> np.ndarray:
    """(n_frames,) loudness mapped to 0..1 (floor → 0, loudest frame → 1)."""
    return (speech_envelope(audio, fps, n_frames, sr) - FLOOR_DB) / -FLOOR_DB


def silent_frames(audio: np.ndarray, fps: float, n_frames: int, *, margin_s: float = 0.12,
                  sr: int = SR) -> np.ndarray:
    """(n_frames,) bool: frames in audio silence, at least ``margin_s`` from any speech.

    Speech is found with WebRTC VAD (aggressiveness 2, 30 ms frames); the margin excludes the lip
    anticipation and release around speech, where a moving mouth is correct.
    """
    import webrtcvad

    vad = webrtcvad.Vad(2)
    step = int(0.03 * sr)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    n_vad = len(pcm) // step
    speech = np.zeros(n_vad, bool)
    for k in range(n_vad):
        speech[k] = vad.is_speech(pcm[k * step:(k + 1) * step].tobytes(), sr)
    # also treat near-digital silence as silence even if VAD is unsure (VAD can fire on faint hiss)
    loud = speech_envelope(audio, 1 / 0.03, n_vad, sr) > -35.0
    speech &= loud
    times = np.arange(n_frames) / fps
    silent = np.ones(n_frames, bool)
    for j in np.flatnonzero(speech):
        t0, t1 = float(j) * 0.03 - margin_s, float(j + 1) * 0.03 + margin_s
        silent[(times >= t0) & (times < t1)] = False
    # frames past the end of the audio are silent by definition (padding)
    return silent
