"""FaceMesh sizes MediaPipe's graph to the faces present: tracking only, newcomers found by a probe."""

from __future__ import annotations

import numpy as np

from openlipsync.engine.facemesh import FaceMesh


def test_graph_follows_the_number_of_faces(astronaut: np.ndarray) -> None:
    blank = np.full_like(astronaut, 120)
    one = np.concatenate([astronaut, blank], axis=1)  # 640×320: one face, room for a second
    two = np.concatenate([astronaut, astronaut], axis=1)
    mesh = FaceMesh(max_faces=4)
    try:
        counts = [len(mesh.detect(one)) for _ in range(12)]
        assert counts[-1] == 1 and mesh.capacity == 1  # tracking one face: no detector on every frame
        seen = []
        for _ in range(2 * FaceMesh.PROBE_EVERY):
            seen.append(len(mesh.detect(two)))
        first_two = seen.index(2)
        assert first_two <= FaceMesh.PROBE_EVERY  # the probe found the newcomer within its period
        assert all(c == 2 for c in seen[first_two:]) and mesh.capacity == 2
        for _ in range(FaceMesh.LOST_FRAMES + 2):
            faces = mesh.detect(one)
        assert len(faces) == 1 and mesh.capacity == 1  # a face that left shrinks the graph again
    finally:
        mesh.close()
