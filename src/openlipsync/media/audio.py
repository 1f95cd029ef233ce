"""Audio as numpy: decode any audio (or a video's audio track) to mono float32 at a fixed rate."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from openlipsync.errors import NoAudioStreamError
from openlipsync.media import _ffmpeg
from openlipsync.media.probe import MediaInfo, probe

SAMPLE_RATE = 16_000


def load_audio(source: str | Path | MediaInfo, sr: int = SAMPLE_RATE, *, channels: int = 1,
               start: float | None = None, end: float | None = None) -> np.ndarray:
    """Decode the first audio stream of ``source`` to ``float32`` in [-1, 1] at ``sr`` Hz.

    Returns shape ``(n,)`` for mono, ``(n, channels)`` otherwise; ``start``/``end`` (seconds) trim it.
    """
    info = source if isinstance(source, MediaInfo) else probe(source)
    if not info.has_audio:
        raise NoAudioStreamError(f"{info.path.name}: has no audio stream")
    trim = (["-ss", f"{start:.6f}"] if start else []) + (["-to", f"{end:.6f}"] if end is not None else [])
    proc = _ffmpeg.run([*trim, "-i", str(info.path), "-map", "0:a:0", "-vn", *pcm_pipe(sr, channels)],
                       what="decoding audio")
    return pcm_samples(proc.stdout, channels)


def load_video_audio(info: MediaInfo, sr: int = SAMPLE_RATE, *, channels: int = 1) -> np.ndarray:
    """A video's own sound on the video's clock: sample 0 plays with the first frame (see ``on_video_clock``).
    Silence put in front is bounded by the video's length (a file may claim any start time)."""
    lead = max(info.audio_lead, -info.video_duration)
    return on_video_clock(load_audio(info, sr, channels=channels), lead, sr)


def on_video_clock(samples: np.ndarray, audio_lead: float, sr: int) -> np.ndarray:
    """``samples`` (decoded from the track's first sample) moved so that sample 0 is heard with the first
    video frame: the ``audio_lead`` seconds heard before it are dropped, or silence is put in front when the
    picture starts first. Without this, a video whose streams start apart pairs every frame with sound
    from another moment: its own speech would teach the calibration a wrong audio-to-mouth timing."""
    shift = int(round(audio_lead * sr))
    if shift > 0:
        return samples[shift:]
    if shift < 0:
        return np.concatenate([np.zeros((-shift, *samples.shape[1:]), samples.dtype), samples])
    return samples


def pcm_pipe(sr: int = SAMPLE_RATE, channels: int = 1) -> list[str]:
    """ffmpeg output arguments writing raw 16-bit PCM at ``sr`` Hz to stdout (read it with ``pcm_samples``)."""
    return ["-ac", str(channels), "-ar", str(sr), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]


def pcm_samples(pcm: bytes, channels: int = 1) -> np.ndarray:
    """``float32`` samples in [-1, 1] from raw 16-bit PCM: ``(n,)`` mono or ``(n, channels)``."""
    samples = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
    return samples if channels == 1 else samples.reshape(-1, channels)


def fit_audio_track(sound: MediaInfo, duration: float, out_path: Path) -> np.ndarray:
    """Write the output's audio track to ``out_path``: the first audio stream of ``sound``, trimmed or padded
    to ``duration`` seconds; returns the same audio for the analysis (mono, 16 kHz), decoded in the same
    ffmpeg run."""
    fit = ["-map", "0:a:0", "-vn", "-af", f"apad=whole_dur={duration:.6f}", "-t", f"{duration:.6f}"]
    proc = _ffmpeg.run(["-i", str(sound.path), *fit, "-c:a", "pcm_s16le", str(out_path), *fit, *pcm_pipe()],
                       what="preparing the audio track")
    return pcm_samples(proc.stdout)


def write_wav(path: str | Path, samples: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Write float samples, ``(n,)`` mono or ``(n, channels)``, as 16-bit PCM WAV."""
    path = Path(path)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sr)
        wav.writeframes(pcm.tobytes())
    return path


def fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    """Trim or pad with silence to exactly ``n`` samples (``(n,)`` mono or ``(n, channels)``)."""
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros((n - len(samples), *samples.shape[1:]), samples.dtype)])
