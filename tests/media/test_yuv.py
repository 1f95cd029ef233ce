"""yuv420p frames: conversions agree with ffmpeg, boxes agree with the whole frame, edits touch only
what changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openlipsync.media import FrameWriter, iter_frames, probe
from openlipsync.media.decode import iter_yuv_frames
from openlipsync.media.yuv import YuvFrame, even_box, frame_bytes


def _gradient(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)),
                     (xx + yy) * 255 // max(1, w + h - 2)], -1).astype(np.uint8)


@pytest.mark.parametrize("size", [(64, 96), (63, 95)])
def test_frame_bytes_matches_ffmpeg_rawvideo(size: tuple[int, int], tmp_path: Path) -> None:
    import cv2

    h, w = size
    path = tmp_path / "g.png"  # an image keeps odd sizes (the encoder pads videos to even ones)
    cv2.imwrite(str(path), cv2.cvtColor(_gradient(h, w), cv2.COLOR_RGB2BGR))
    frames = list(iter_yuv_frames(path))
    assert len(frames) == 1
    assert frames[0].data.shape == (frame_bytes(w, h),)
    assert frames[0].y.shape == (h, w) and frames[0].u.shape == (-(-h // 2), -(-w // 2))
    rgb = frames[0].to_rgb("bt601").astype(int)
    assert np.abs(rgb - _gradient(h, w)).mean() < 2.0


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
def test_to_rgb_agrees_with_ffmpeg_conversion(matrix: str, tmp_path: Path) -> None:
    """Our RGB of a decoded frame is within a level or two of ffmpeg's accurate conversion."""
    path = tmp_path / f"{matrix}.mp4"
    with FrameWriter(path, width=96, height=64, fps=25.0, crf=10, color_matrix=matrix) as writer:
        writer.write(_gradient(64, 96))
    info = probe(path)
    ours = next(iter_yuv_frames(info)).to_rgb(info.color_matrix).astype(int)
    theirs = next(iter_frames(info)).astype(int)
    diff = np.abs(ours - theirs)
    assert diff.mean() < 0.6 and np.percentile(diff, 99) <= 3


def test_box_conversion_equals_the_whole_frame_conversion() -> None:
    frame = YuvFrame.from_rgb(_gradient(81, 121))
    whole = frame.to_rgb("bt709")
    for box in [(0, 0, 121, 81), (10, 4, 57, 33), (2, 40, 121, 81), (0, 0, 7, 5)]:
        x0, y0, x1, y1 = box
        assert np.array_equal(frame.to_rgb("bt709", box), whole[y0:y1, x0:x1])
    with pytest.raises(ValueError):
        frame.to_rgb("bt601", (1, 0, 10, 10))


def test_with_rgb_changes_only_the_edited_pixels_and_their_chroma_blocks() -> None:
    frame = YuvFrame.from_rgb(_gradient(64, 96))
    box = even_box((9, 7, 80, 60), 96, 64)
    before = frame.to_rgb("bt601", box)
    after = before.copy()
    after[20:30, 15:25] = (200, 40, 30)  # box coordinates: frame rows 26..35, cols 23..32
    edited = frame.with_rgb("bt601", box, before, after)
    assert edited is not frame and frame.with_rgb("bt601", box, before, before) is frame
    y_changed = np.argwhere(edited.y != frame.y)
    assert y_changed[:, 0].min() >= 26 and y_changed[:, 0].max() <= 35
    assert y_changed[:, 1].min() >= 23 and y_changed[:, 1].max() <= 32
    c_changed = np.argwhere((edited.u != frame.u) | (edited.v != frame.v))
    assert c_changed[:, 0].min() >= 13 and c_changed[:, 0].max() <= 17  # chroma rows of frame rows 26..35
    assert c_changed[:, 1].min() >= 11 and c_changed[:, 1].max() <= 16
    got = edited.to_rgb("bt601", box)[22:28, 17:23].reshape(-1, 3).mean(0)  # centre of the patch
    assert np.abs(got - (200, 40, 30)).max() < 3
    own = frame.copy()
    assert own.with_rgb("bt601", box, before, after, in_place=True) is own
    assert np.array_equal(own.data, edited.data)  # the same edit, written into the frame itself


def test_writer_rejects_frames_of_the_wrong_kind(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path / "x.mp4", width=32, height=32, fps=25.0, yuv=True)
    try:
        with pytest.raises(ValueError):
            writer.write(np.zeros((32, 32, 3), np.uint8))
        with pytest.raises(ValueError):
            writer.write(YuvFrame.from_rgb(np.zeros((16, 16, 3), np.uint8)))
        writer.write(YuvFrame.from_rgb(np.zeros((32, 32, 3), np.uint8)))
    finally:
        writer.close()
    assert probe(tmp_path / "x.mp4").frame_count == 1
