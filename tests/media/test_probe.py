from pathlib import Path

import numpy as np
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


def test_a_video_that_skips_frames_is_decoded_on_its_constant_rate_grid(tmp_path: Path) -> None:
    from openlipsync.media.decode import iter_yuv_frames
    from tests.factories import make_grey_ramp_video, make_skipping_video

    source = make_grey_ramp_video(tmp_path / "ramp.mp4", frames=31, fps=25.0)
    assert not probe(source).variable_rate  # a constant-rate clip is decoded as stored
    skipping = make_skipping_video(tmp_path / "skipping.mp4", source)  # frames 2, 5, 8 … are gone
    info = probe(skipping)
    assert info.variable_rate
    assert info.fps == pytest.approx(25.0)  # not the 16.7 fps average
    assert info.frame_count == 31  # through the last stored frame (30)
    def greys(start: int = 0) -> np.ndarray:  # the grey level each decoded slot shows (limited-range luma)
        return np.array([(float(np.median(f.y)) - 16) * 255 / 219 for f in iter_yuv_frames(info, start_frame=start)])

    # each slot shows the frame stored for it, a skipped slot the frame before it (as players hold it)
    expected = np.array([40 + 5 * (k - 1 if k % 3 == 2 else k) for k in range(31)])
    shown = greys()
    assert len(shown) == 31 and np.abs(shown - expected).max() <= 2
    late = greys(20)  # seeking counts slots of the grid, not stored frames
    assert len(late) == 11 and np.abs(late - expected[20:]).max() <= 2


def test_a_live_recording_without_a_declared_length_is_measured_from_its_packets(tmp_path: Path) -> None:
    from openlipsync.security.limits import InputLimits, inspect_media
    from tests.factories import make_live_recording

    video = probe(make_live_recording(tmp_path / "camera.webm"))
    assert (video.fps, video.frame_count) == (pytest.approx(25.0), 50)
    assert video.duration == pytest.approx(2.0, abs=0.05)
    voice = make_live_recording(tmp_path / "voice.webm", video=False)
    assert probe(voice).duration == pytest.approx(2.0, abs=0.05)
    assert inspect_media(voice, InputLimits()).has_audio  # the upload checks accept it too
