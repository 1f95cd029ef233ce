"""Typed records passed between engine stages. Arrays are documented with their shapes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MouthShapes:
    """Measured mouth shape per frame, in face-normalised units (divided by inter-ocular distance).

    opening: (n,) float32, inner-lip vertical gap
    width:   (n,) float32, mouth-corner distance
    valid:   (n,) bool, False where no usable face was measured
    """

    opening: np.ndarray
    width: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """The input video's own speech and mouth, for person-specific audio→mouth fitting.

    audio: (m,) float32 mono at ``sr`` Hz, aligned with the source frames (t=0 at frame 0)
    shapes: measured mouth shapes of the source frames at ``fps``
    """

    audio: np.ndarray
    sr: int
    fps: float
    shapes: MouthShapes


@dataclass(frozen=True)
class MouthPlan:
    """Target mouth per output frame (same units as MouthShapes).

    opening:  (n,) float32 target inner-lip gap (0 = lips together)
    width:    (n,) float32 target mouth-corner distance
    speech:   (n,) bool, voice activity; False means the mouth rests closed
    closure:  (n,) float32 in [0, 1], strength of a lip closure (bilabial p/b/m, labiodental f/v) at this
              frame
    """

    fps: float
    opening: np.ndarray
    width: np.ndarray
    speech: np.ndarray
    closure: np.ndarray

    @property
    def frame_count(self) -> int:
        return int(self.opening.shape[0])
