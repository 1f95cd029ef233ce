import numpy as np
import pytest

from openlipsync.errors import InputError
from openlipsync.media.segments import PlacedClip, check_segments, compose_audio, edit_weights

SR = 1000


def test_clip_replaces_audio_only_inside_its_range() -> None:
    base = np.full(3 * SR, 0.5, np.float32)
    clip = PlacedClip(start=1.0, end=2.0, samples=np.full(SR, -0.25, np.float32))
    out = compose_audio(base, [clip], SR)
    assert np.allclose(out[: SR - 1], 0.5) and np.allclose(out[2 * SR + 1:], 0.5)
    assert np.allclose(out[SR + 50: 2 * SR - 50], -0.25)  # away from the cross-fades


def test_short_clip_is_padded_with_silence_inside_its_range() -> None:
    base = np.full(3 * SR, 0.5, np.float32)
    out = compose_audio(base, [PlacedClip(0.0, 2.0, np.full(SR // 2, 0.1, np.float32))], SR)
    assert np.allclose(out[100:400], 0.1)
    assert np.allclose(out[SR: 2 * SR - 50], 0.0)


def test_mono_clip_fills_every_channel_of_a_stereo_base() -> None:
    base = np.zeros((2 * SR, 2), np.float32)
    out = compose_audio(base, [PlacedClip(0.0, 1.0, np.full(SR, 0.3, np.float32))], SR)
    assert np.allclose(out[200:800], 0.3)


def test_edit_weights_ramp_at_segment_edges() -> None:
    w = edit_weights([(1.0, 2.0)], 75, 25.0)
    assert w[:25].max() == 0 and w[50:].max() == 0
    assert np.allclose(w[30:45], 1.0)
    assert 0 < w[26] < 1  # ramp, not a jump


@pytest.mark.parametrize("spans", [[(2.0, 1.0)], [(-1.0, 1.0)], [(0.0, 2.0), (1.5, 3.0)], [(9.0, 10.0)]])
def test_bad_segments_are_rejected(spans: list[tuple[float, float]]) -> None:
    with pytest.raises(InputError):
        check_segments(spans, video_seconds=5.0)
