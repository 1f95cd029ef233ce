import numpy as np
import pytest

from openlipsync.media.timeline import IMAGE_FPS, plan_timeline
from openlipsync.options import SyncMode


@pytest.mark.parametrize(
    ("mode", "audio_s", "expected_frames"),
    [
        (SyncMode.LOOP, 6.0, 150),
        (SyncMode.BOUNCE, 6.0, 150),
        (SyncMode.REMAP, 6.0, 150),
        (SyncMode.CUT_OFF, 6.0, 100),
        (SyncMode.SILENCE, 6.0, 150),
        (SyncMode.CUT_OFF, 2.0, 50),
        (SyncMode.SILENCE, 2.0, 100),
        (SyncMode.LOOP, 2.0, 50),
    ],
)
def test_output_length_follows_sync_mode(mode: SyncMode, audio_s: float, expected_frames: int) -> None:
    tl = plan_timeline(100, 25.0, audio_s, mode)  # 4 s of video
    assert tl.frame_count == expected_frames
    assert tl.duration == pytest.approx(expected_frames / 25.0)
    assert tl.source_index.min() >= 0 and tl.source_index.max() <= 99


def test_loop_restarts_video() -> None:
    tl = plan_timeline(10, 25.0, 1.0, SyncMode.LOOP)
    assert list(tl.source_index[:12]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_bounce_plays_back_and_forth_without_repeating_the_turning_frame() -> None:
    tl = plan_timeline(4, 25.0, 10 / 25, SyncMode.BOUNCE)
    assert list(tl.source_index) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]


def test_remap_stretches_video_over_the_audio_and_uses_every_frame() -> None:
    tl = plan_timeline(50, 25.0, 4.0, SyncMode.REMAP)
    assert tl.frame_count == 100
    assert np.all(np.diff(tl.source_index) >= 0)
    assert set(tl.source_index.tolist()) == set(range(50))


def test_silence_holds_last_frame_when_audio_is_longer() -> None:
    tl = plan_timeline(10, 25.0, 1.0, SyncMode.SILENCE)
    assert list(tl.source_index[9:]) == [9] * 16


def test_image_input_follows_audio_at_default_fps() -> None:
    tl = plan_timeline(1, 0.0, 2.0, SyncMode.CUT_OFF, is_image=True)
    assert tl.fps == IMAGE_FPS
    assert tl.frame_count == 50
    assert not tl.source_index.any()


def test_partial_last_frame_is_kept_not_dropped() -> None:
    tl = plan_timeline(100, 25.0, 2.01, SyncMode.LOOP)
    assert tl.frame_count == 51
