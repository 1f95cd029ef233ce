"""Import the engine's heavy dependencies ahead of the first job.

A run imports MediaPipe, SciPy and pocketsphinx lazily (≈ 2 s on this class of machine) and builds its
phone recogniser (≈ 0.15 s), so the CLI starts fast. Long-lived processes import this module once
instead: worker fork servers preload it (``security.isolation``) and ``openlipsync bench`` measures jobs
the way a warm worker runs them.
"""

from __future__ import annotations

import importlib
import time

HEAVY_MODULES = (
    "mediapipe",
    "scipy.signal",
    "scipy.spatial",
    "pocketsphinx",
    "openlipsync.pipeline",
    "openlipsync.engine.plan",
    "openlipsync.engine.facemesh",
    "openlipsync.engine.warm",
)


def preload() -> float:
    """Import every heavy module; returns the seconds it took (0 when already imported)."""
    started = time.perf_counter()
    for name in HEAVY_MODULES:
        importlib.import_module(name)
    return time.perf_counter() - started
