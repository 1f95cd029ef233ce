"""Temporal smoothing of landmark tracks with the One-Euro filter.

Casiez, Roussel & Vogel, "1€ Filter" (CHI 2012): a low-pass filter whose cutoff rises with speed, so
a still face does not jitter and a fast-moving mouth does not lag.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


def _per_row(value: np.ndarray | float, x: np.ndarray) -> np.ndarray:
    """A per-row (e.g. per-landmark) parameter shaped to broadcast over ``x``."""
    v = np.asarray(value, np.float64)
    return v[:, None] if v.ndim == 1 and x.ndim == 2 else v


class OneEuroFilter:
    """Vectorised One-Euro filter over arrays of any fixed shape.

    ``min_cutoff`` (Hz), ``beta`` and ``d_cutoff`` may be arrays over the first axis of the samples (e.g.
    per landmark), so stable points can be smoothed harder than the lips. Values are filtered in the caller's units;
    ``beta`` is per unit of speed, so pass scale-normalised samples for scale-independent behaviour.
    """

    def __init__(self, fps: float, min_cutoff: np.ndarray | float = 1.5, beta: np.ndarray | float = 0.6,
                 d_cutoff: np.ndarray | float = 1.0) -> None:
        self.dt = 1.0 / max(fps, 1e-3)
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        self._x = self._dx = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        assert self._dx is not None
        dx = (x - self._x) / self.dt
        a_d = _alpha(_per_row(self.d_cutoff, x), self.dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        speed = np.abs(self._dx)
        if speed.ndim == 2:  # per-point speed (norm over x,y) so both coordinates share a cutoff
            speed = np.repeat(np.linalg.norm(self._dx, axis=-1, keepdims=True), x.shape[-1], axis=-1)
        cutoff = _per_row(self.min_cutoff, x) + _per_row(self.beta, x) * speed
        a = _alpha(cutoff, self.dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()
