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
from collections.abc import Callable, Iterator
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
    """Streaming face-mesh detector: ``detect(frame)`` → list of (478, 2) float32 pixel landmarks.

    MediaPipe's graph runs its face detector on every frame while it tracks fewer faces than its
    ``max_num_faces``. So the graph is sized to the faces actually present (``capacity``): it only tracks,
    and a face detector looks for newcomers every ``PROBE_EVERY`` frames (the graph grows when it finds
    more faces; it shrinks when faces stay lost for ``LOST_FRAMES`` frames).
    """

    PROBE_EVERY = 10
    LOST_FRAMES = 5

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self._graph: Any = None
        self._probe: Any = None
        self._last_count = 0
        self._capacity = max_faces  # the first frames look for every face
        self._short = 0  # consecutive frames with fewer faces than the capacity
        self._frames = 0
        self._probe_every = self.PROBE_EVERY
        self._grown_at = -1_000_000

    @property
    def capacity(self) -> int:
        return self._capacity

    def _open(self) -> Any:
        import mediapipe as mp  # heavy import, only when a run needs it

        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=self._capacity, refine_landmarks=True,
            min_detection_confidence=self.min_confidence, min_tracking_confidence=self.min_confidence)

    def _open_probe(self) -> Any:
        import mediapipe as mp

        # model 0 (short range) is the detector the face-mesh graph itself uses
        return mp.solutions.face_detection.FaceDetection(model_selection=0,
                                                         min_detection_confidence=self.min_confidence)

    def reset(self) -> None:
        """Forget the tracked faces (call at scene cuts)."""
        self.close()
        self._capacity = self.max_faces
        self._probe_every = self.PROBE_EVERY

    def close(self) -> None:
        for graph in (self._graph, self._probe):
            if graph is not None:
                graph.close()
        self._graph = self._probe = None
        self._last_count = 0
        self._short = 0

    def _resize(self, capacity: int) -> None:
        if capacity != self._capacity and self._graph is not None:
            self._graph.close()
            self._graph = None
            self._last_count = 0
        self._capacity = capacity
        self._short = 0

    @staticmethod
    def _first_frame(open_graph: Callable[[], Any], frame: np.ndarray) -> tuple[Any, Any]:
        """Open a MediaPipe graph and process its first frame with the native start-up chatter (which
        comes with that frame) silenced; returns (graph, result)."""
        with _quiet_native_stderr():
            graph = open_graph()
            return graph, graph.process(frame)

    def _run(self, frame: np.ndarray) -> list[np.ndarray]:
        if self._graph is None:
            self._graph, res = self._first_frame(self._open, frame)
        else:
            res = self._graph.process(frame)
        h, w = frame.shape[:2]
        faces = []
        for face in res.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark], np.float32)
            faces.append(pts)
        return faces

    def _count_faces(self, frame: np.ndarray) -> int:
        if self._probe is None:
            self._probe, res = self._first_frame(self._open_probe, frame)
        else:
            res = self._probe.process(frame)
        return len(res.detections or [])

    def detect(self, frame: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face in an RGB ``H×W×3 uint8`` frame (tracking state carries over)."""
        self._frames += 1
        if self._capacity < self.max_faces and self._frames % self._probe_every == 0:
            found = self._count_faces(frame)
            if found > self._capacity:
                self._resize(min(found, self.max_faces))
                self._grown_at = self._frames
        faces = self._run(frame)
        if len(faces) > self._last_count:
            # A face was (re)detected on this frame: refine it from its own mesh (two extra passes).
            for _ in range(2):
                faces = self._run(frame)
        self._last_count = len(faces)
        self._short = self._short + 1 if len(faces) < self._capacity else 0
        if self._short >= self.LOST_FRAMES or (self._capacity == self.max_faces and 0 < len(faces) < self._capacity):
            if self._frames - self._grown_at <= self.LOST_FRAMES + 1:
                # the detector saw faces the mesh cannot follow (tiny, far): look less often
                self._probe_every = min(2 * self._probe_every, 25 * self.PROBE_EVERY)
            self._resize(max(1, len(faces)))
        return faces

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
