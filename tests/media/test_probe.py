from pathlib import Path

import pytest

from openlipsync.errors import MissingInputError, UnreadableMediaError
from openlipsync.media import probe


def test_probe_describes_a_video(face_video: Path) -> None:
    info = probe(face_video)
    assert info.has_video and not info.has_audio and not info.is_image
    assert (info.width, info.height) == (320, 320)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 50


def test_probe_describes_audio(speech_wav: Path) -> None:
    info = probe(speech_wav)
    assert info.has_audio and not info.has_video
    assert info.duration and info.duration > 2.0


def test_probe_recognises_an_image(face_image: Path) -> None:
    info = probe(face_image)
    assert info.is_image and info.has_video
    assert info.frame_count == 1 and info.duration is None


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_empty_file_is_unreadable(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(UnreadableMediaError, match="empty"):
        probe(empty)


def test_random_bytes_are_unreadable(corrupt_video: Path) -> None:
    with pytest.raises(UnreadableMediaError):
        probe(corrupt_video)


def test_unreadable_error_does_not_reveal_server_paths(corrupt_video: Path) -> None:
    with pytest.raises(UnreadableMediaError) as err:
        probe(corrupt_video)
    assert str(corrupt_video.parent) not in str(err.value)
    assert corrupt_video.name in str(err.value)
