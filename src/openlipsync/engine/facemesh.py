"""Face landmarks from MediaPipe's face mesh (the .tflite models ship inside the mediapipe 0.10.14 wheel).

The legacy ``mp.solutions.face_mesh`` graph is used in tracking mode: it detects faces with BlazeFace
only when it has lost them and otherwise follows the previous frame's mesh, which is faster and more
accurate than per-frame detection. The first result after a (re)detection can sit low on the face
(measured ~20 px at 720p), so a fresh detection is refined by running the same frame again: the second
pass crops around the first mesh.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

log = logging.getLogger("openlipsync.engine.facemesh")
# protobuf 4 warns on every graph output that mediapipe 0.10.14 reads; it is noise for our users.
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """MediaPipe's C++ (absl/TFLite) prints start-up chatter on fd 2 that no logging setting reaches;
    hide it while a graph starts so the CLI and server logs stay readable."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class FaceMesh:
    """Streaming face-mesh detector: ``detect(frame)`` → list of (478, 2) float32 pixel landmarks."""

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self._graph: Any = None
        self._last_count = 0

    def _open(self) -> Any:
        import mediapipe as mp  # heavy import, only when a run needs it

        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=self.max_faces, refine_landmarks=True,
            min_detection_confidence=self.min_confidence, min_tracking_confidence=self.min_confidence)

    def reset(self) -> None:
        """Forget the tracked faces (call at scene cuts)."""
        self.close()

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None
        self._last_count = 0

    def _run(self, frame: np.ndarray) -> list[np.ndarray]:
        if self._graph is None:
            with _quiet_native_stderr():
                self._graph = self._open()
                res = self._graph.process(frame)
        else:
            res = self._graph.process(frame)
        h, w = frame.shape[:2]
        faces = []
        for face in res.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark], np.float32)
            faces.append(pts)
        return faces

    def detect(self, frame: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face in an RGB ``H×W×3 uint8`` frame (tracking state carries over)."""
        faces = self._run(frame)
        if len(faces) > self._last_count:
            # A face was (re)detected on this frame: refine it from its own mesh (two extra passes).
            for _ in range(2):
                faces = self._run(frame)
        self._last_count = len(faces)
        return faces

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
