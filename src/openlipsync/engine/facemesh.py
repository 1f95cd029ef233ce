"""Face landmarks from MediaPipe's face mesh (the .tflite models ship inside the mediapipe 0.10.14 wheel).

The legacy ``mp.solutions.face_mesh`` graph is used in tracking mode: it detects faces with BlazeFace
only when it has lost them and otherwise follows the previous frame's mesh, which is faster and more
accurate than per-frame detection. The first result after a (re)detection can sit low on the face
(measured ~20 px at 720p), so a fresh detection is refined by running the same frame again: the second
pass crops around the first mesh.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger("openlipsync.engine.facemesh")


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
            self._graph = self._open()
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
