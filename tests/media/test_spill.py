"""Frames set aside on disk by one pass and read back by the next (media.spill)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from openlipsync.media.spill import FrameSpill
from openlipsync.media.yuv import YuvFrame, frame_bytes


def _frames(n: int, width: int = 6, height: int = 4) -> list[YuvFrame]:
    rng = np.random.default_rng(n)
    return [YuvFrame(rng.integers(0, 256, frame_bytes(width, height), dtype=np.uint8), width, height)
            for _ in range(n)]


def test_frames_come_back_identical_in_any_order(tmp_path):
    frames = _frames(7)
    with FrameSpill(6, 4, frame_bytes(6, 4) * 7, tmp_path) as spill:
        passed = list(spill.keep(iter(frames)))
        assert [f.data.tobytes() for f in passed] == [f.data.tobytes() for f in frames]
        assert spill.complete and spill.count == 7
        for k in (6, 0, 3, 3, 5, 1):
            back = spill.read(k)
            assert np.array_equal(back.data, frames[k].data) and (back.width, back.height) == (6, 4)
            assert back.data is not frames[k].data
        with pytest.raises(IndexError):
            spill.read(7)
    assert os.listdir(tmp_path) == []  # the file never had a name there, or lost it at once


def test_past_the_budget_nothing_is_kept_and_every_frame_still_passes(tmp_path):
    frames = _frames(5)
    spill = FrameSpill(6, 4, frame_bytes(6, 4) * 3, tmp_path)
    assert len(list(spill.keep(iter(frames)))) == 5
    assert not spill.complete and spill.count == 0
    with pytest.raises(IndexError):
        spill.read(0)
    assert not FrameSpill(6, 4, 0).complete


def test_a_disk_that_refuses_writes_means_decoding_again(tmp_path, monkeypatch):
    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    spill = FrameSpill(6, 4, 10**6, tmp_path)
    assert len(list(spill.keep(iter(_frames(3))))) == 3
    assert not spill.complete


def test_a_video_known_to_exceed_the_budget_is_not_written_at_all(tmp_path, monkeypatch):
    writes: list[int] = []
    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: writes.append(offset) or real(fd, data, offset))
    spill = FrameSpill(6, 4, frame_bytes(6, 4) * 3, tmp_path, expected_frames=4)
    assert len(list(spill.keep(iter(_frames(2))))) == 2
    assert not spill.complete and writes == []
    fits = FrameSpill(6, 4, frame_bytes(6, 4) * 3, tmp_path, expected_frames=3)
    list(fits.keep(iter(_frames(3))))
    assert fits.complete and len(writes) == 3
    fits.close()


def test_nothing_is_spilled_onto_a_disk_short_of_space(tmp_path, monkeypatch):
    from openlipsync.media import spill as spill_module

    frame = frame_bytes(6, 4)

    class Free:
        f_frsize = 1
        f_bavail = spill_module.MIN_FREE_BYTES + 2 * 3 * frame - 1  # one byte short for three frames

    monkeypatch.setattr(os, "statvfs", lambda path: Free())
    short = FrameSpill(6, 4, frame * 10, tmp_path, expected_frames=3)
    assert short.capacity == 0
    Free.f_bavail += 1
    assert FrameSpill(6, 4, frame * 10, tmp_path, expected_frames=3).capacity == 10
