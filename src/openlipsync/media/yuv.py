"""Frames as decoded: 8-bit yuv420p, limited range, in the source's own colour matrix.

The engine pipes yuv420p through ffmpeg in both directions, so no full-frame colour conversion runs
anywhere: a detector gets a fast approximate RGB picture, and only the face region that is edited is
converted to RGB (with the right matrix) and back. Pixels the engine does not change leave the encoder
exactly as the decoder produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# (Kr, Kb) luma coefficients of the matrices ``MediaInfo.color_matrix`` names.
_LUMA = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722), "bt2020": (0.2627, 0.0593),
         "fcc": (0.30, 0.11), "smpte240m": (0.212, 0.087)}

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (pixels, end exclusive)


def frame_bytes(width: int, height: int) -> int:
    """Size of one yuv420p frame as ffmpeg's rawvideo muxer writes it (chroma planes rounded up)."""
    cw, ch = -(-width // 2), -(-height // 2)
    return width * height + 2 * cw * ch


@dataclass(frozen=True)
class YuvFrame:
    """One yuv420p frame: ``data`` is the raw buffer, ``y``/``u``/``v`` are views of its planes."""

    data: np.ndarray  # (frame_bytes,) uint8
    width: int
    height: int

    @classmethod
    def from_buffer(cls, data: np.ndarray, width: int, height: int) -> YuvFrame:
        if data.shape != (frame_bytes(width, height),) or data.dtype != np.uint8:
            raise ValueError(f"buffer of {data.shape} {data.dtype} is not a {width}x{height} yuv420p frame")
        return cls(data, width, height)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, matrix: str = "bt601") -> YuvFrame:
        """Convert an ``H×W×3 uint8`` RGB image (tests, still images made in memory)."""
        h, w = rgb.shape[:2]
        frame = cls(np.zeros(frame_bytes(w, h), np.uint8), w, h)
        y, u, v = _rgb_to_yuv420(rgb, matrix)
        frame.y[:] = y
        frame.u[:] = u
        frame.v[:] = v
        return frame

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def y(self) -> np.ndarray:
        return self.data[:self.width * self.height].reshape(self.height, self.width)

    def _chroma(self, k: int) -> np.ndarray:
        cw, ch = -(-self.width // 2), -(-self.height // 2)
        start = self.width * self.height + k * cw * ch
        return self.data[start:start + cw * ch].reshape(ch, cw)

    @property
    def u(self) -> np.ndarray:
        return self._chroma(0)

    @property
    def v(self) -> np.ndarray:
        return self._chroma(1)

    def copy(self) -> YuvFrame:
        return YuvFrame(self.data.copy(), self.width, self.height)

    def preview_rgb(self) -> np.ndarray:
        """The whole frame as RGB for detectors: fast, BT.601 whatever the source matrix."""
        if self.width % 2 == 0 and self.height % 2 == 0:
            return cv2.cvtColor(self.data.reshape(-1, self.width), cv2.COLOR_YUV2RGB_I420)
        return self.to_rgb("bt601")

    def to_rgb(self, matrix: str, box: Box | None = None) -> np.ndarray:
        """RGB of ``box`` (default: the whole frame) in the frame's own ``matrix``; ``box`` must start on
        even coordinates (see ``even_box``)."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        if x0 % 2 or y0 % 2:
            raise ValueError(f"box {box} must start on even coordinates")
        w, h = x1 - x0, y1 - y0
        # one chroma sample of context on each side, so the upsampling inside the box is the same as
        # the whole frame's (no replicated edge where the box cuts the picture)
        cy0, cx0 = max(0, y0 // 2 - 1), max(0, x0 // 2 - 1)
        cy1, cx1 = min(self.u.shape[0], -(-y1 // 2) + 1), min(self.u.shape[1], -(-x1 // 2) + 1)
        oy, ox = y0 - 2 * cy0, x0 - 2 * cx0
        size = (2 * (cx1 - cx0), 2 * (cy1 - cy0))
        uu, vv = (cv2.resize(p[cy0:cy1, cx0:cx1], size, interpolation=cv2.INTER_LINEAR)[oy:oy + h, ox:ox + w]
                  for p in (self.u, self.v))
        yuv = cv2.merge([np.ascontiguousarray(self.y[y0:y1, x0:x1]), uu, vv])
        return cv2.transform(yuv, _yuv_to_rgb_matrix(matrix))

    def with_rgb(self, matrix: str, box: Box, before: np.ndarray, after: np.ndarray, *,
                 in_place: bool = False) -> YuvFrame:
        """A copy (this frame itself when ``in_place``) whose ``box`` shows ``after`` wherever it differs
        from ``before`` (both RGB of ``box``, ``before`` as ``to_rgb`` returned it). Unchanged pixels keep
        their exact decoded values; chroma is rewritten only in 2×2 blocks that contain a changed pixel."""
        diff = cv2.absdiff(before, after)
        # bounding box of the changed bytes (x counts channel bytes), grown to chroma sites
        bx, by, bw, bh = cv2.boundingRect(diff.reshape(diff.shape[0], -1))
        if bw == 0:
            return self
        cx0, cy0 = bx // 3 - (bx // 3) % 2, by - by % 2
        cx1, cy1 = -(-(bx + bw) // 3), by + bh
        d: np.ndarray = diff[cy0:cy1, cx0:cx1]
        changed = np.bitwise_or(np.bitwise_or(d[..., 0], d[..., 1]), d[..., 2]) > 0
        x0, y0 = box[0] + cx0, box[1] + cy0
        out = self if in_place else self.copy()
        y, u, v = _rgb_to_yuv420(after[cy0:cy1, cx0:cx1], matrix)
        h, w = changed.shape
        np.copyto(out.y[y0:y0 + h, x0:x0 + w], y, where=changed)
        # a chroma sample is rewritten when any pixel of its 2×2 block changed
        padded = np.zeros((2 * u.shape[0], 2 * u.shape[1]), bool)
        padded[:h, :w] = changed
        block = padded[0::2, 0::2] | padded[1::2, 0::2] | padded[0::2, 1::2] | padded[1::2, 1::2]
        for plane, new in ((out.u, u), (out.v, v)):
            np.copyto(plane[y0 // 2:y0 // 2 + new.shape[0], x0 // 2:x0 // 2 + new.shape[1]], new, where=block)
        return out


def even_box(box: Box, width: int, height: int) -> Box:
    """``box`` grown to start on even coordinates (chroma sites), clipped to the frame."""
    x0, y0, x1, y1 = box
    return max(0, x0 - x0 % 2), max(0, y0 - y0 % 2), min(width, x1), min(height, y1)


def _coefficients(matrix: str) -> tuple[float, float]:
    return _LUMA.get(matrix, _LUMA["bt601"])


@lru_cache(maxsize=8)
def _yuv_to_rgb_matrix(matrix: str) -> np.ndarray:
    """3×4 affine map from limited-range (Y, U, V) to full-range RGB, for ``cv2.transform``."""
    kr, kb = _coefficients(matrix)
    kg = 1.0 - kr - kb
    sy, sc = 255.0 / 219.0, 255.0 / 224.0
    rows = np.array([
        [sy, 0.0, sc * 2 * (1 - kr)],
        [sy, -sc * 2 * (1 - kb) * kb / kg, -sc * 2 * (1 - kr) * kr / kg],
        [sy, sc * 2 * (1 - kb), 0.0],
    ])
    offset = -rows @ np.array([16.0, 128.0, 128.0])
    return _frozen(np.c_[rows, offset].astype(np.float32))


@lru_cache(maxsize=8)
def _rgb_to_yuv_matrix(matrix: str) -> np.ndarray:
    kr, kb = _coefficients(matrix)
    kg = 1.0 - kr - kb
    luma = np.array([kr, kg, kb])
    rows = np.array([
        luma * 219.0 / 255.0,
        (np.array([0.0, 0.0, 1.0]) - luma) / (2 * (1 - kb)) * 224.0 / 255.0,
        (np.array([1.0, 0.0, 0.0]) - luma) / (2 * (1 - kr)) * 224.0 / 255.0,
    ])
    return _frozen(np.c_[rows, [16.0, 128.0, 128.0]].astype(np.float32))


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only (it is cached and shared by every caller)."""
    a.flags.writeable = False
    return a


def _rgb_to_yuv420(rgb: np.ndarray, matrix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Limited-range planes of an RGB image; chroma is the 2×2 mean (odd edges replicated)."""
    h, w = rgb.shape[:2]
    to_yuv = _rgb_to_yuv_matrix(matrix)
    y = cv2.transform(np.ascontiguousarray(rgb), to_yuv[:1])  # uint8 in, rounded and saturated uint8 out
    # the transform is affine, so the chroma of the 2×2 mean colour is the 2×2 mean of the chroma
    rgb_f: np.ndarray = rgb.astype(np.float32)
    if h % 2 or w % 2:
        rgb_f = cv2.copyMakeBorder(rgb_f, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    mean = cv2.resize(rgb_f, (rgb_f.shape[1] // 2, rgb_f.shape[0] // 2), interpolation=cv2.INTER_AREA)
    uv = cv2.transform(mean, to_yuv[1:])
    uv = np.clip(np.rint(uv), 0, 255).astype(np.uint8)
    return y.reshape(h, w), np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])
