"""`segments`: several speech clips placed on time ranges of the video (Sync v2 semantics).

Outside every segment the original audio and mouth stay; inside, the segment's clip replaces the audio
and drives the mouth. Edges cross-fade (audio) and ramp (mouth weight) so nothing pops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openlipsync.errors import InputError

AUDIO_FADE_SECONDS = 0.02
MOUTH_RAMP_FRAMES = 3


@dataclass(frozen=True)
class PlacedClip:
    """``samples`` (mono or (n, channels) float32 at the composition rate) to play from video time ``start``
    until ``end`` (seconds); the clip is cut or padded with silence to fit."""

    start: float
    end: float
    samples: np.ndarray


def check_segments(spans: list[tuple[float, float]], video_seconds: float) -> None:
    """Reject empty, reversed, out-of-range or overlapping segments with a readable message."""
    for start, end in spans:
        if not (0.0 <= start < end):
            raise InputError(f"segment {start}–{end}s: startTime must be ≥ 0 and before endTime")
        if start >= video_seconds:
            raise InputError(f"segment {start}–{end}s starts after the video ends ({video_seconds:.2f}s)")
    ordered = sorted(spans)
    for (_, end_a), (start_b, _) in zip(ordered, ordered[1:], strict=False):
        if start_b < end_a:
            raise InputError("segments overlap; give each time range of the video at most one audio clip")


def _fade(n: int, length: int) -> np.ndarray:
    ramp = np.ones(n, np.float32)
    k = min(length, n // 2)
    if k > 0:
        ramp[:k] = np.linspace(0.0, 1.0, k, endpoint=False, dtype=np.float32)
        ramp[n - k:] = ramp[:k][::-1]
    return ramp


def compose_audio(base: np.ndarray, clips: list[PlacedClip], sr: int) -> np.ndarray:
    """The base track (the video's own audio) with every clip cross-faded in over its time range."""
    out = base.astype(np.float32, copy=True)
    for clip in clips:
        a = int(round(clip.start * sr))
        b = min(int(round(clip.end * sr)), len(out))
        if b <= a:
            continue
        piece = np.zeros((b - a, *out.shape[1:]), np.float32)
        take = clip.samples[: b - a]
        if take.ndim < piece.ndim:
            take = np.repeat(take[:, None], piece.shape[1], axis=1)
        piece[: len(take)] = take
        w = _fade(b - a, int(AUDIO_FADE_SECONDS * sr))
        w = w.reshape(-1, *([1] * (out.ndim - 1)))
        out[a:b] = out[a:b] * (1.0 - w) + piece * w
    return out


def edit_weights(spans: list[tuple[float, float]], n_frames: int, fps: float) -> np.ndarray:
    """Per-frame weight of the new mouth: 1 inside segments, 0 outside, short linear ramps at the edges."""
    weight = np.zeros(n_frames, np.float32)
    for start, end in spans:
        a = max(0, int(round(start * fps)))
        b = min(n_frames, int(round(end * fps)))
        if b > a:
            weight[a:b] = np.maximum(weight[a:b], _fade(b - a, MOUTH_RAMP_FRAMES))
    return weight
