"""Shared fixtures: media generated once per session into a temp dir (no committed binaries)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from openlipsync.media.audio import write_wav
from tests import factories

# every run analyses its video afresh unless a test turns the analysis cache on (into its own directory);
# set here so that the servers and workers the tests start inherit it
os.environ["OPENLIPSYNC_ANALYSIS_CACHE"] = "off"

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech_wav(media_dir: Path) -> Path:
    """About 5 s of espeak-ng English speech with pauses."""
    return factories.make_speech(media_dir / "speech.wav")


@pytest.fixture(scope="session")
def silence_wav(media_dir: Path) -> Path:
    return factories.make_silence(media_dir / "silence.wav", seconds=1.5)


@pytest.fixture(scope="session")
def face_video(media_dir: Path) -> Path:
    """2 s, 25 fps, 320×320 astronaut with slight motion, no audio."""
    return factories.make_face_video(media_dir / "face.mp4")


@pytest.fixture(scope="session")
def face_video_with_speech(media_dir: Path, speech_wav: Path) -> Path:
    return factories.make_face_video(media_dir / "face_speech.mp4", seconds=3.0, audio=speech_wav)


@pytest.fixture(scope="session")
def face_image(media_dir: Path) -> Path:
    from skimage.io import imsave

    path = media_dir / "face.png"
    imsave(path, factories.astronaut_frame(320), check_contrast=False)
    return path


@pytest.fixture(scope="session")
def noface_video(media_dir: Path) -> Path:
    return factories.make_noface_video(media_dir / "noface.mp4")


@pytest.fixture(scope="session")
def corrupt_video(media_dir: Path) -> Path:
    return factories.make_corrupt(media_dir / "corrupt.mp4")


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """../shared/media when present; tests using it are skipped on a fresh clone."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip("../shared/media is not present")
    return SHARED_MEDIA


@pytest.fixture
def stereo_tone(tmp_path: Path) -> Path:
    """2 s of a 44.1 kHz stereo tone: the analysis copy must be resampled and mixed down."""
    t = np.arange(2 * 44_100) / 44_100
    tone = 0.4 * np.sin(2 * np.pi * 220 * t)
    return write_wav(tmp_path / "tone.wav", np.stack([tone, 0.5 * tone], axis=1).astype(np.float32), 44_100)
