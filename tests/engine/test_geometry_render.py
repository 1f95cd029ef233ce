from __future__ import annotations

import numpy as np

from openlipsync.engine import blend, geometry, mesh
from openlipsync.engine.render_warp import WarpRenderer, lower_face_region


def test_target_landmarks_reach_the_requested_opening_and_width(astronaut_landmarks):
    lm = astronaut_landmarks
    for opening, width in [(0.0, 0.8), (0.15, 0.85), (0.3, 0.7)]:
        dst = geometry.target_landmarks(lm, opening, width)
        assert abs(float(mesh.mouth_opening(dst)) - opening) < 0.02
        assert abs(float(mesh.mouth_width(dst)) - width) < 0.04 or not 0.75 < width / mesh.mouth_width(lm) < 1.3
        # the eyes and nose never move
        assert np.allclose(dst[list(mesh.STABLE[:6])], lm[list(mesh.STABLE[:6])], atol=0.05)


def test_chin_follows_the_opening_jaw(astronaut_landmarks):
    lm = astronaut_landmarks
    dst = geometry.target_landmarks(lm, 0.3, float(mesh.mouth_width(lm)))
    drop = dst[152, 1] - lm[152, 1]
    lip_drop = dst[14, 1] - lm[14, 1]
    assert 0.4 * lip_drop < drop < lip_drop


def test_warp_changes_the_mouth_and_nothing_outside_the_lower_face(astronaut, astronaut_landmarks):
    lm = astronaut_landmarks
    out = WarpRenderer().render(astronaut, lm, 0.25, 0.8)
    region = lower_face_region(lm, astronaut.shape[:2])
    inside = np.zeros(astronaut.shape[:2], bool)
    x0, y0, x1, y1 = region.box
    inside[y0:y1, x0:x1] = region.mask > 0
    changed = np.any(out != astronaut, axis=2)
    assert changed.sum() > 200
    assert not changed[~inside].any()  # byte-identical outside the feathered lower-face mask
    # the open mouth is darker inside the lips than the closed original
    inner = blend.polygon_mask(geometry.target_landmarks(lm, 0.25, 0.8)[list(mesh.LIPS_INNER)],
                               astronaut.shape[:2]) > 0
    assert out[inner].mean() < astronaut[inner].mean() - 20


def test_warp_to_the_current_shape_is_nearly_identity(astronaut, astronaut_landmarks):
    lm = astronaut_landmarks
    out = WarpRenderer().render(astronaut, lm, float(mesh.mouth_opening(lm)), float(mesh.mouth_width(lm)))
    assert np.abs(out.astype(int) - astronaut).mean() < 1.0


def test_blends_are_exact_where_alpha_is_zero():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = np.full((64, 64, 3), 200, np.uint8)
    alpha = np.zeros((64, 64), np.float32)
    alpha[12:52, 12:52] = 1.0
    alpha = blend.feather(alpha, 3.0)
    for fn in (blend.alpha_blend, blend.laplacian_blend):
        out = fn(a, b, alpha)
        assert np.array_equal(out[alpha == 0], a[alpha == 0])
        assert np.abs(out[30, 30].astype(int) - b[30, 30]).max() <= 12


def test_feathering_an_8bit_polygon_mask_equals_feathering_the_float_one():
    poly = np.array([[10, 12], [70, 8], [90, 50], [40, 75], [12, 45]], np.float64) + 0.3
    for sigma in (0.2, 1.0, 3.7):
        want = blend.feather(blend.polygon_mask(poly, (90, 100)), sigma)
        got = blend.feathered_polygon(poly, (90, 100), sigma)
        assert got.dtype == np.float32 and np.array_equal(got, want)
    assert blend.feathered_polygon(poly, (90, 100), 3.7)[0, 0] == 0.0
