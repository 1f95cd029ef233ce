from __future__ import annotations

import numpy as np
import pytest

from openlipsync.engine.library import LibraryBuilder, MouthLibrary, _median_u8
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


def test_library_shapes_come_from_the_finished_track(analysed):
    """Entries are keyed by the finished track's landmarks (two-way smoothed, no lag), carried into the
    canonical crop by the same similarity that made the crop: the canonical stable points land on the
    canonical reference and the opening is the track's own."""
    from openlipsync.engine import mesh

    frames, track, lib = analysed
    stable = lib.lm[:, mesh.IDX["STABLE"]]
    assert np.abs(stable - lib.canon.ref).max() < 0.05 * lib.canon.d
    assert np.allclose(lib.opening, mesh.mouth_opening(track.landmarks[lib.src]), atol=0.005)


def test_a_library_offered_face_regions_equals_one_offered_whole_frames(talking_video, analysed):
    """The pipeline offers the face region of each frame (``origin`` = its corner); the entries must be
    the same as from whole frames, since the finished track is in whole-frame pixels."""
    frames, track, lib = analysed
    tracker, builder = FaceTracker(25.0, 320, 320), LibraryBuilder(25.0)
    x0, y0 = 24, 10
    for i, f in enumerate(frames):
        faces = tracker.update(f)
        builder.offer(i, f[y0:, x0:], {k: v - np.array([x0, y0], np.float32) for k, v in faces.items()},
                      (x0, y0))
    regional = builder.finish(tracker.finish())
    assert regional is not None and regional.size == lib.size
    assert np.abs(regional.lm - lib.lm).max() < 1e-3
    assert np.allclose(regional.opening, lib.opening, atol=1e-5)


def test_offering_only_the_region_the_crop_samples_gives_the_same_library(analysed):
    frames, track, lib = analysed
    tracker, builder = FaceTracker(25.0, 320, 320), LibraryBuilder(25.0)
    areas = []
    for i, f in enumerate(frames):
        for ident, lm in tracker.update(f).items():
            if not builder.wants(i, ident, lm):
                continue
            lo, hi = builder.region(ident, lm)
            x0, y0 = np.maximum(np.floor(lo).astype(int), 0)
            x1, y1 = np.minimum(np.ceil(hi).astype(int) + 1, [320, 320])
            areas.append((x1 - x0) * (y1 - y0) / (320 * 320))
            builder.offer(i, f[y0:y1, x0:x1], {ident: lm - np.array([x0, y0], np.float32)}, (x0, y0))
    regional = builder.finish(tracker.finish())
    assert regional is not None and regional.size == lib.size
    assert np.abs(regional.lm - lib.lm).max() < 1e-3
    crops = np.stack(regional.crops).astype(int) - np.stack(lib.crops)
    assert np.abs(crops).max() <= 1  # float rounding of the shifted similarity only
    assert max(areas) < 0.5  # and far fewer pixels than the frame


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


def test_a_small_gap_to_the_plan_is_closed_by_warping_the_pasted_mouth(analysed):
    """With a target opening, the pasted mouth is warped by the residual (at most MAX_RESIDUAL) and the
    render reports, and shows, the planned opening; pixels outside the lower face stay untouched."""
    from openlipsync.engine import mesh
    from openlipsync.engine.facemesh import FaceMesh
    from openlipsync.engine.render_retrieval import MAX_RESIDUAL

    frames, track, lib = analysed
    renderer = RetrievalRenderer(lib)
    entry = int(np.argsort(lib.opening)[3 * len(lib.opening) // 4])  # an open mouth (half the clip is closed)
    k = int(lib.src[entry])
    plain, opening = renderer.render(frames[k], track.landmarks[k], track.pose[k], entry)
    wider, wide_opening = renderer.render(frames[k], track.landmarks[k], track.pose[k], entry,
                                          target=opening + 0.04)
    capped, capped_opening = renderer.render(frames[k], track.landmarks[k], track.pose[k], entry,
                                             target=opening + 1.0)
    assert wide_opening == pytest.approx(opening + 0.04) and capped_opening == pytest.approx(opening + MAX_RESIDUAL)

    def measured(img: np.ndarray) -> float:
        with FaceMesh(max_faces=1) as detector:
            return float(mesh.mouth_opening(detector.detect(img)[0]))

    assert measured(wider) - measured(plain) > 0.02
    assert measured(capped) > measured(wider)
    assert np.array_equal(wider[:90], plain[:90])  # above the lower face


def test_a_library_mouth_from_a_nodding_frame_sits_on_the_current_upper_lip(analysed):
    """Eyes and nose fit the canonical frame, but a nod moves the mouth against them: the pasted mouth
    must still land on the current frame's upper lip, texture and landmarks together."""
    from openlipsync.engine import mesh

    frames, track, lib = analysed
    k = 30
    entry = int(np.where(lib.src == k)[0][0])
    nodded = MouthLibrary(lib.canon, lib.src, lib.opening, lib.width, lib.teeth, lib.pose, lib.lm.copy(),
                          list(lib.crops))
    # as if that library frame's mouth sat 6 canonical px lower (crop and landmarks alike)
    nodded.lm[entry] += np.array([0.0, 6.0], np.float32)
    crop = lib.crops[entry]
    nodded.crops[entry] = np.concatenate([np.repeat(crop[:1], 6, axis=0), crop[:-6]])
    renderer = RetrievalRenderer(nodded)
    lm = track.landmarks[k]
    m = lib.canon.to_canon(lm)
    shift = renderer._anchor_shift(entry, lm, m)
    upper = mesh.IDX["LIPS_OUTER_UPPER"][1:-1]
    placed = mesh.apply_affine(mesh.invert_affine(m), nodded.lm[entry][upper]) + shift
    assert np.abs(placed - lm[upper]).max() < 0.5
    # the output is the frame's own mouth again, not one shifted by 6 px
    out, _ = renderer.render(frames[k], lm, track.pose[k], entry)
    x0, y0 = np.floor(lm[mesh.IDX["LIPS_OUTER"]].min(0)).astype(int) - 4
    x1, y1 = np.ceil(lm[mesh.IDX["LIPS_OUTER"]].max(0)).astype(int) + 4
    diff = np.abs(out[y0:y1, x0:x1].astype(int) - frames[k][y0:y1, x0:x1])
    assert diff.mean() < 4.0  # measured 1.3 (21 when the mouth lands 6 px low)


def _skin_ring(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and a ring-shaped weight around its centre (as around a pasted mouth)."""
    import cv2

    rng = np.random.default_rng(4)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 3.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2))
    ring = np.clip(1.0 - np.abs(r - 0.6) / 0.2, 0, 1).astype(np.float32)
    return texture, ring


def test_pro_alignment_finds_the_sub_pixel_shift_of_the_pasted_skin():
    import cv2

    from openlipsync.engine.render_retrieval import _refine_shift

    base, ring = _skin_ring(90, 120)
    t = np.array([1.6, -0.8])
    # the patch shows the frame's skin moved by t: sampling it at x + t lines it up again
    moved = cv2.warpAffine(base, np.float32([[1, 0, t[0]], [0, 1, t[1]]]), (120, 90), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    shift = _refine_shift(base, moved, ring, max_shift=4.0)
    assert shift is not None and np.abs(shift - t).max() < 0.3  # ECC stops at eps 1e-3: ~0.1–0.2 px off
    back = cv2.warpAffine(moved, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (120, 90),
                          flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    inner = ring > 0.5
    assert np.abs(back.astype(int) - base)[inner].mean() < np.abs(moved.astype(int) - base)[inner].mean() / 3
    assert _refine_shift(base, moved, ring, max_shift=1.0) is None  # beyond the allowed correction
    assert _refine_shift(base, moved, np.zeros_like(ring), max_shift=4.0) is None  # no skin to align on
    flat = np.full_like(base, 128)
    assert _refine_shift(flat, flat, ring, max_shift=4.0) is None  # nothing to lock onto


def test_median_of_8_bit_values_equals_numpys() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 4, 257, 1000, 1001):
        values = rng.integers(0, 256, (n,), dtype=np.uint8)
        assert _median_u8(values) == float(np.median(values))
    assert _median_u8(np.array([[10, 20], [30, 250]], np.uint8)) == 25.0
