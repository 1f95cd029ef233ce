"""Pricing: per-model price per output second, billed per output frame at 25 fps (SPEC §5).

The output duration follows ``sync_mode`` exactly as the engine's timeline does, so the estimate given
before a job runs equals the cost recorded after it completes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openlipsync.media.timeline import plan_timeline
from openlipsync.options import SyncMode


@dataclass(frozen=True)
class Estimate:
    duration_seconds: float  # output duration
    frame_count: int  # output frames at the output frame rate
    fps: float  # output frame rate
    billed_frames: int  # frames at the billing rate (25 fps)
    cost: float  # USD


def billed_frames(duration_seconds: float, billing_fps: float = 25.0) -> int:
    """Billing frames for an output of ``duration_seconds`` (a started frame counts)."""
    return max(0, math.ceil(round(duration_seconds * billing_fps, 6)))


def price(duration_seconds: float, price_per_second: float, billing_fps: float = 25.0) -> float:
    """USD for an output of ``duration_seconds``, rounded to 1/10000 of a dollar."""
    frames = billed_frames(duration_seconds, billing_fps)
    return round(frames * price_per_second / billing_fps, 4)


def estimate(visual: dict, audio_seconds: float, sync_mode: SyncMode, price_per_second: float,
             billing_fps: float = 25.0) -> Estimate:
    """Estimate from probe facts of the visual input (``frame_count``, ``fps``, ``is_image``)."""
    timeline = plan_timeline(int(visual.get("frame_count") or 1), float(visual.get("fps") or 0.0),
                             audio_seconds, sync_mode, is_image=bool(visual.get("is_image")))
    return Estimate(duration_seconds=timeline.duration, frame_count=timeline.frame_count, fps=timeline.fps,
                    billed_frames=billed_frames(timeline.duration, billing_fps),
                    cost=price(timeline.duration, price_per_second, billing_fps))
