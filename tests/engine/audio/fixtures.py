"""Audio fixtures for the mouth-plan tests: espeak-ng speech in several languages, decoded once.

Imported by tests/engine/audio/conftest.py and by tests/engine/test_plan.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests import factories

from openlipsync.media.audio import load_audio

BILABIAL_TEXT = "Peter bought a big blue boat. Mama made more"
SR = 16_000


@pytest.fixture(scope="session")
def speech_audio(speech_wav: Path) -> np.ndarray:
    """The shared English espeak sentence (with pauses) as 16 kHz float32."""
    return load_audio(speech_wav, SR)


@pytest.fixture(scope="session")
def bilabial_audio(media_dir: Path) -> np.ndarray:
    return load_audio(factories.make_speech(media_dir / "bilabial.wav", BILABIAL_TEXT), SR)


@pytest.fixture(scope="session")
def spanish_audio(media_dir: Path) -> np.ndarray:
    text = "El perro de mi abuela come manzanas. Mañana vamos a la playa con Pablo."
    return load_audio(factories.make_speech(media_dir / "es.wav", text, voice="es"), SR)


@pytest.fixture(scope="session")
def mandarin_audio(media_dir: Path) -> np.ndarray:
    text = "ni3 hao3, wo3 men2 ming2 tian1 qu4 bei3 jing1. ma1 ma pao3 bu4."
    return load_audio(factories.make_speech(media_dir / "zh.wav", text, voice="cmn-latn-pinyin"), SR)


def frames_for(audio: np.ndarray, fps: float = 25.0) -> int:
    return int(len(audio) / SR * fps)
