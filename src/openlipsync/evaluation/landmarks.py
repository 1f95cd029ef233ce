"""The evaluator's own landmark detector: dlib HOG face detector + 68-point ERT shape predictor.

It is deliberately a different model family, code base and training set (iBUG-300W) from the engine's
MediaPipe face mesh, so the harness does not grade the engine with the engine's own eyes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from openlipsync.errors import ConfigError

log = logging.getLogger("openlipsync.evaluation")

DETECT_WIDTH = 640  # HOG runs on a copy this wide: ~30 ms/frame instead of ~130-180 ms at 720p/1080p
CACHE_VERSION = 2  # 2: videos that skip frames are decoded onto a constant-rate grid (media.probe)


def dlib_available() -> bool:
    """True when dlib and the 68-point model (``eval`` extra) are installed."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError:
        return False
    return True


class DlibLandmarker:
    """68 landmarks per RGB frame; the largest face is measured, NaN when no face is found.

    The detector runs on every frame (no tracking, so one bad frame cannot bias the next); when it misses
    a frame right after a hit, the previous box is reused for the shape predictor.
    """

    def __init__(self) -> None:
        if not dlib_available():
            raise ConfigError("the eval harness needs dlib: pip install 'openlipsync[eval]' "
                              "(dlib-bin, face-recognition-models)")
        import dlib
        import face_recognition_models

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        self._last_box: object | None = None

    def reset(self) -> None:
        """Forget the previous face box (call between unrelated videos)."""
        self._last_box = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(68, 2) float32 pixel coordinates for the largest face in ``frame`` (H×W×3 uint8 RGB)."""
        import cv2

        h, w = frame.shape[:2]
        scale = min(1.0, DETECT_WIDTH / w)
        small = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) \
            if scale < 1.0 else frame
        boxes = self._detector(small, 0)
        if len(boxes) == 0:
            box = self._last_box
            self._last_box = None
            if box is None:
                return np.full((68, 2), np.nan, np.float32)
        else:
            b = max(boxes, key=lambda r: r.area())
            box = self._dlib.rectangle(round(b.left() / scale), round(b.top() / scale),
                                       round(b.right() / scale), round(b.bottom() / scale))
            self._last_box = box
        shape = self._predictor(frame, box)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def track(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """(n, 68, 2) landmarks for a frame sequence."""
        self.reset()
        rows = [self(f) for f in frames]
        return np.stack(rows) if rows else np.zeros((0, 68, 2), np.float32)


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (the cache key of its measurements)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def measure_video(path: str | Path, landmarker: DlibLandmarker, cache_dir: Path | None = None) -> np.ndarray:
    """(n, 68, 2) dlib landmarks of every frame of ``path``, cached in ``cache_dir`` by file hash."""
    from openlipsync.media import iter_frames

    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"dlib68-v{CACHE_VERSION}-{file_digest(path)[:32]}.npy"
        if cache_file.is_file():
            log.info("landmarks of %s from cache", Path(path).name)
            return np.load(cache_file)
    marks = landmarker.track(iter_frames(path))
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, marks)
    return marks
