"""Decoded frames set aside on disk by one pass over a video and read back by the next.

Decoding a video a second time costs about as much CPU per frame as tracking its face. The analysis
pass therefore appends the frames it decodes to an anonymous temporary file (no name on disk, gone when
closed) and the render pass reads them back instead of decoding again. The frames are held by the
kernel's page cache, which may write them out or drop them, not by the process: the job's memory stays
flat whatever the video's length. Past a size budget the file is discarded and the caller decodes again.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from openlipsync.media.yuv import YuvFrame, frame_bytes

log = logging.getLogger("openlipsync.media")


MIN_FREE_BYTES = 512 * 1024 * 1024  # never spill onto a disk with less free space than this left over


def _room_for(size: int, directory: str | Path | None) -> bool:
    """Whether the disk holding ``directory`` (default: the temporary directory) has ``size`` bytes to
    spare beyond MIN_FREE_BYTES."""
    try:
        st = os.statvfs(directory if directory is not None else tempfile.gettempdir())
    except OSError:
        return False
    return st.f_bavail * st.f_frsize >= size + MIN_FREE_BYTES


class FrameSpill:
    """yuv420p frames of one size, appended in order and then read back in any order.

    ``keep`` passes a pass's frames through while appending them; ``complete`` tells afterwards whether
    every frame was kept (none are when the budget is exceeded or the disk refuses the writes).
    ``expected_frames``: the video's probed length; a video known to exceed the budget is not spilled,
    nor one whose frames would take more than half of the disk's free space (beyond MIN_FREE_BYTES)."""

    def __init__(self, width: int, height: int, budget: int, directory: str | Path | None = None, *,
                 expected_frames: int = 0) -> None:
        self.width, self.height = width, height
        self.frame_size = frame_bytes(width, height)
        self.capacity = max(0, budget) // self.frame_size
        # the output is written to the same disk: leave it the room (for the whole budget when the length
        # is unknown)
        needed = 2 * (expected_frames or self.capacity) * self.frame_size
        if expected_frames > self.capacity or not _room_for(needed, directory):
            self.capacity = 0  # known not to fit: do not write what would be thrown away
        self.directory = directory
        self.count = 0
        self.complete = False
        self._fd: int | None = None

    def keep(self, frames: Iterator[YuvFrame]) -> Iterator[YuvFrame]:
        """Yield ``frames`` unchanged, appending each one to the spill while it fits."""
        for frame in frames:
            if self.capacity:
                if self.count < self.capacity and self._append(frame):
                    self.count += 1
                else:
                    self.discard()
            yield frame
        self.complete = self.capacity > 0 and self.count > 0

    def _append(self, frame: YuvFrame) -> bool:
        if (frame.width, frame.height) != (self.width, self.height):
            return False
        try:
            if self._fd is None:
                with tempfile.TemporaryFile(dir=self.directory) as fh:
                    self._fd = os.dup(fh.fileno())  # the file lives as long as this descriptor
            data, offset = frame.data.data.cast("B"), self.count * self.frame_size
            while data:
                written = os.pwrite(self._fd, data, offset)
                data, offset = data[written:], offset + written
            return True
        except OSError as exc:  # a full or read-only disk: decode again instead
            log.info("frame spill stopped: %s", exc)
            return False

    def read(self, k: int) -> YuvFrame:
        """Frame ``k`` (0 ≤ k < count) as a new buffer."""
        if self._fd is None or not 0 <= k < self.count:
            raise IndexError(f"frame {k} is not in the spill ({self.count} frames)")
        buf = np.empty(self.frame_size, np.uint8)
        view, offset = buf.data, k * self.frame_size
        while view:
            got = os.preadv(self._fd, [view], offset)
            if got <= 0:
                raise OSError(f"frame spill ended early at frame {k}")
            view, offset = view[got:], offset + got
        return YuvFrame(buf, self.width, self.height)

    def discard(self) -> None:
        """Stop keeping frames and release the file."""
        self.capacity = 0
        self.count = 0
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FrameSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
