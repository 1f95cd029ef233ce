"""sync_mode: how video and audio of different lengths become one output timeline (SPEC §3)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openlipsync.options import SyncMode

IMAGE_FPS = 25.0


@dataclass(frozen=True)
class Timeline:
    """Output frame ``i`` shows source frame ``source_index[i]``; audio is trimmed/padded to ``duration``."""

    fps: float
    source_index: np.ndarray  # (n_out,) int64, indices into the visual input's frames
    duration: float  # output duration in seconds = n_out / fps
    audio_duration: float  # seconds of the driving audio that are used (rest is silence)

    @property
    def frame_count(self) -> int:
        return int(self.source_index.shape[0])


def output_duration(video_seconds: float, audio_seconds: float, mode: SyncMode, *, is_image: bool) -> float:
    """Length of the output for the given inputs (images follow the audio)."""
    if is_image:
        return audio_seconds
    if mode is SyncMode.CUT_OFF:
        return min(video_seconds, audio_seconds)
    if mode is SyncMode.SILENCE:
        return max(video_seconds, audio_seconds)
    return audio_seconds  # loop, bounce, remap follow the audio


def plan_timeline(n_video_frames: int, fps: float, audio_seconds: float, mode: SyncMode, *,
                  is_image: bool = False) -> Timeline:
    """Map every output frame to a source frame; no output frame is ever dropped."""
    fps = IMAGE_FPS if is_image or fps <= 0 else fps
    n_src = max(1, n_video_frames)
    video_seconds = n_src / fps
    duration = output_duration(video_seconds, audio_seconds, mode, is_image=is_image)
    n_out = max(1, math.ceil(duration * fps - 1e-6))
    i = np.arange(n_out, dtype=np.int64)
    if is_image or n_src == 1:
        src = np.zeros(n_out, np.int64)
    elif mode is SyncMode.LOOP:
        src = i % n_src
    elif mode is SyncMode.BOUNCE:
        period = 2 * n_src - 2
        phase = i % period
        src = np.where(phase < n_src, phase, period - phase)
    elif mode is SyncMode.REMAP:
        src = np.minimum((i * n_src) // n_out, n_src - 1)
    else:  # cut_off and silence: play straight; silence holds the last frame when audio is longer
        src = np.minimum(i, n_src - 1)
    return Timeline(fps=fps, source_index=src, duration=n_out / fps, audio_duration=min(audio_seconds, n_out / fps))
