"""Media for the evaluation tests, generated once per session (dlib-dependent parts skip without dlib)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlipsync.evaluation.landmarks import dlib_available

needs_dlib = pytest.mark.skipif(not dlib_available(), reason="dlib (the 'eval' extra) is not installed")


@pytest.fixture(scope="session")
def talking_clip(media_dir: Path) -> Path:
    """3 s, 25 fps, 320×320 generated astronaut talking clip with its own speech."""
    if not dlib_available():
        pytest.skip("dlib (the 'eval' extra) is not installed")
    from openlipsync.evaluation.synthetic import make_talking_clip

    return make_talking_clip(media_dir / "talking.mp4", seconds=3.0, size=320)
