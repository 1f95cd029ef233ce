"""Generated media and helpers for the engine-feature tests (speaker, occlusion, segments, tiers).

Nothing here is committed media: every clip is drawn at test time from the public-domain astronaut.
``capture_frames`` swaps the pipeline's encoder for a recorder, so tests compare the engine's output
frames with the decoded input frames exactly (no re-encode noise in the way of "untouched" checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openlipsync import pipeline
from openlipsync.media import FrameWriter, load_audio, probe
from openlipsync.media.audio import SAMPLE_RATE
from openlipsync.media.decode import iter_yuv_frames
from openlipsync.media.yuv import YuvFrame


class ScriptedDetector:
    """Stands in for the face mesh: returns prepared landmark lists frame by frame."""

    def __init__(self, script: list[list[np.ndarray]]) -> None:
        self.script, self.k = script, 0

    def detect(self, frame: np.ndarray) -> list[np.ndarray]:
        self.k += 1
        return self.script[self.k - 1]

    def reset(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Recorder:
    """Stands in for ``FrameWriter`` inside ``pipeline``: keeps the frames (as RGB) instead of encoding them."""

    frames: list[np.ndarray]

    def __init__(self, store: list[np.ndarray], *args: Any, color_matrix: str = "bt601", **kwargs: Any) -> None:
        self.frames = store
        self.matrix = color_matrix

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, frame: np.ndarray | YuvFrame) -> None:
        self.frames.append(frame.to_rgb(self.matrix) if isinstance(frame, YuvFrame) else np.array(frame, copy=True))


@contextmanager
def capture_frames(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[np.ndarray]]:
    """Within the block, pipeline runs record their output frames into the yielded list."""
    store: list[np.ndarray] = []
    monkeypatch.setattr(pipeline, "FrameWriter", lambda *a, **k: _Recorder(store, *a, **k))
    yield store


def skip_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan from the generic prior only: person calibration costs seconds and is not what these tests check."""
    monkeypatch.setattr(pipeline, "calibration_for", lambda *a, **k: None)


def decoded(path: Path) -> np.ndarray:
    """The frames of ``path`` as RGB, converted exactly as the recorder converts the engine's output."""
    matrix = probe(path).color_matrix
    return np.stack([f.to_rgb(matrix) for f in iter_yuv_frames(path)])


def speech_openings(speech: Path, n: int, fps: float = 25.0) -> np.ndarray:
    """A mouth opening per frame that follows the loudness of ``speech`` (a 'speaking' face)."""
    audio = load_audio(speech)
    hop = SAMPLE_RATE / fps
    rms = np.array([np.sqrt(np.mean(audio[int(i * hop):int((i + 1) * hop)] ** 2) + 1e-12) for i in range(n)])
    level = np.clip((np.log10(rms + 1e-4) + 2.6) / 1.4, 0.0, 1.0)
    return (0.2 * level).astype(np.float32)


def make_two_faces(path: Path, astronaut: np.ndarray, landmarks: np.ndarray, speech: Path | None, *,
                   talking: str = "right", seconds: float = 2.4, fps: float = 25.0) -> Path:
    """Two astronaut copies side by side (640×320). The ``talking`` one ('left'/'right'/'none') opens its
    mouth with the loudness of ``speech``; the other stays still. The audio track is ``speech``."""
    from openlipsync.engine.render_warp import WarpRenderer

    n = int(round(seconds * fps))
    renderer = WarpRenderer()
    opening = speech_openings(speech, n, fps) if speech is not None else np.zeros(n, np.float32)
    with FrameWriter(path, width=640, height=320, fps=fps, audio=speech, crf=14) as writer:
        for i in range(n):
            moving = renderer.render(astronaut, landmarks, float(opening[i]), 0.8) if talking != "none" \
                else astronaut
            left, right = (moving, astronaut) if talking == "left" else (astronaut, moving)
            writer.write(np.concatenate([left, right], axis=1))
    return path


def occluder_frames(astronaut: np.ndarray, n: int, kind: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of the astronaut with an object sliding across the mouth, and the object's mask per frame.

    ``kind`` 'hand': a skin-toned rounded palm with finger grooves and soft shading (its colour sampled
    from the face's own cheek, the hard case for a colour model); 'bar': a dark grey microphone-like bar.
    The object enters from the left, covers the mouth in the middle frames and leaves to the right.
    """
    import cv2

    h, w = astronaut.shape[:2]
    cheek = astronaut[150:165, 108:120].reshape(-1, 3).mean(0)
    frames, masks = [], []
    for i in range(n):
        t = i / max(n - 1, 1)
        cx = int(round(-60 + t * (w + 120)))  # the centre sweeps from off-screen left to off-screen right
        mask = np.zeros((h, w), np.uint8)
        if kind == "hand":
            cv2.ellipse(mask, (cx, 150), (34, 26), 0, 0, 360, 1, -1)
            for k in range(4):  # fingers pointing up-right
                cv2.ellipse(mask, (cx - 22 + 14 * k, 118 - 4 * k), (6, 18), 12, 0, 360, 1, -1)
            colour = np.clip(cheek * 0.92 + 6, 0, 255)
        else:
            cv2.rectangle(mask, (cx - 12, 95), (cx + 12, 230), 1, -1)
            colour = np.array([70, 70, 76], np.float64)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        shade = 1.0 + 0.12 * np.sin((xx - cx) / 9.0) * (kind == "hand") - 0.08 * (yy - 150) / 60
        obj = np.clip(colour[None, None, :] * shade[..., None], 0, 255)
        f = astronaut.astype(np.float32).copy()
        f[mask > 0] = obj[mask > 0]
        frames.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
        masks.append(mask > 0)
    return frames, masks


def write_frames(path: Path, frames: list[np.ndarray], audio: Path | None, fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    with FrameWriter(path, width=w, height=h, fps=fps, audio=audio, crf=14) as writer:
        for f in frames:
            writer.write(f)
    return path


def sine_openings(n: int) -> np.ndarray:
    return np.array([max(0.0, 0.2 * math.sin(2 * math.pi * i / 12.5)) for i in range(n)], np.float32)
