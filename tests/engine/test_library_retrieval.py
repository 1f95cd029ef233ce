from __future__ import annotations

import numpy as np
import pytest

from openlipsync.engine.library import LibraryBuilder, MouthLibrary
from openlipsync.engine.render_retrieval import RetrievalRenderer
from openlipsync.engine.tracking import FaceTrack, FaceTracker
from openlipsync.media import iter_frames


@pytest.fixture(scope="module")
def analysed(talking_video) -> tuple[list[np.ndarray], FaceTrack, MouthLibrary]:
    frames = list(iter_frames(talking_video))
    tracker, builder = FaceTracker(25.0, 320, 320), LibraryBuilder(25.0)
    for i, f in enumerate(frames):
        builder.offer(i, f, tracker.update(f))
    track = tracker.finish()
    lib = builder.finish(track)
    assert lib is not None
    return frames, track, lib


def test_library_spans_the_mouth_shapes_of_the_clip(analysed):
    frames, track, lib = analysed
    assert lib.size == len(frames) and lib.usable
    assert np.ptp(lib.opening) > 0.08 and lib.opening.min() < 0.06
    h, w = lib.crops[0].shape[:2]
    assert all(c.shape == (h, w, 3) for c in lib.crops)
    # open mouths show more teeth/darkness than closed ones: the keys differ
    assert np.corrcoef(lib.opening, lib.teeth)[0, 1] > 0.0 or lib.teeth.max() == 0


def test_showing_a_frame_its_own_mouth_changes_almost_nothing(analysed):
    frames, track, lib = analysed
    renderer = RetrievalRenderer(lib)
    for k in (10, 30):
        entry = int(np.where(lib.src == k)[0][0])
        out, opening = renderer.render(frames[k], track.landmarks[k], track.pose[k], entry)
        assert abs(opening - float(lib.opening[entry])) < 1e-6
        diff = np.abs(out.astype(int) - frames[k])
        assert diff.mean() < 0.5 and np.percentile(diff, 99.9) < 40


def test_another_frames_mouth_is_placed_on_the_current_face(analysed):
    frames, track, lib = analysed
    closed = int(np.argmin(lib.opening))
    wide = int(np.argmax(lib.opening))
    k = int(lib.src[closed])
    out, _ = RetrievalRenderer(lib, pro=True).render(frames[k], track.landmarks[k], track.pose[k], wide)
    src_wide = frames[int(lib.src[wide])]
    box = (slice(130, 165), slice(120, 175))
    # the closed frame now looks like the wide-open one around the mouth
    assert np.abs(out[box].astype(int) - src_wide[box]).mean() < 0.5 * np.abs(frames[k][box].astype(int)
                                                                              - src_wide[box]).mean()
