"""Audio fixtures (defined in fixtures.py so tests/engine/test_plan.py can import them too)."""

from tests.engine.audio.fixtures import (  # noqa: F401
    bilabial_audio,
    mandarin_audio,
    spanish_audio,
    speech_audio,
)
