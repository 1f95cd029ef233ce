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


def test_leftover_cavity_and_teeth_inside_closed_lips_are_filled_with_lip():
    """Bits of interior the warp carries into closed lips (a dark cavity fleck, a white tooth, a dark
    corner) are inpainted from the lip; lip shading, and everything outside the lips and their corners,
    is left alone."""
    import cv2

    from openlipsync.engine.render_warp import mend_closed_lips

    lip, skin = np.array([170, 90, 95]), np.array([200, 160, 140])
    img = np.empty((80, 120, 3), np.uint8)
    img[:] = skin
    top = np.stack([np.linspace(20, 100, 11), 40 - 8 * np.sin(np.linspace(0, np.pi, 11))], axis=1)
    bottom = np.stack([np.linspace(90, 30, 9), 40 + 10 * np.sin(np.linspace(np.pi / 10, np.pi * 0.9, 9))],
                      axis=1)
    outer = np.concatenate([top, bottom]).astype(np.float32)  # mesh.LIPS_OUTER order: upper, then lower back
    cv2.fillPoly(img, [np.round(outer).astype(np.int32)], lip.tolist())
    img[38:41, 60:90] = (lip * 0.8).astype(np.uint8)  # lip shading: must stay
    shaded = img[38:41, 60:90].copy()
    img[39:43, 40:46] = (30, 15, 15)  # cavity
    img[36:40, 50:54] = (235, 235, 230)  # a tooth
    img[38:42, 20:23] = (25, 10, 10)  # a dark corner left where the wider mouth's corner was
    beard = (60, 45, 40)
    img[5:10, 10:110] = beard  # dark, but outside the lips
    out = mend_closed_lips(img, outer, lip.astype(np.float64))
    for y0, y1, x0, x1 in ((39, 43, 40, 46), (36, 40, 50, 54)):
        assert np.abs(out[y0:y1, x0:x1].astype(int) - lip).max() < 40
    assert out[38:42, 20:23].min() > 80  # the corner (half outside the lips) is filled from lip and skin
    assert np.array_equal(out[38:41, 60:90], shaded)
    assert (out[5:10, 10:110] == beard).all()
    assert np.array_equal(mend_closed_lips(out, outer, lip.astype(np.float64)), out)  # nothing left to mend


def test_lip_colour_is_the_mean_between_the_contours_and_survives_lips_outside_the_region():
    from openlipsync.engine.interior import lip_colour

    roi = np.zeros((50, 60, 3), np.uint8)
    roi[:, :] = (200, 90, 80)
    outer = np.array([[10, 10], [40, 10], [25, 30]], np.float32)
    inner = np.array([[20, 15], [30, 15], [25, 20]], np.float32)
    roi[16:19, 23:27] = (0, 0, 0)  # the dark mouth inside the inner contour does not count
    assert np.abs(lip_colour(roi, outer, inner) - (200, 90, 80)).max() < 1.0
    outside = outer + 100
    assert np.array_equal(lip_colour(roi, outside, inner + 100), [150.0, 80.0, 80.0])


def test_colour_matching_moves_the_patch_to_the_frames_skin_on_the_ring():
    import cv2

    rng = np.random.default_rng(2)
    ref = np.clip(rng.normal((170, 120, 100), 6, (60, 80, 3)), 0, 255).astype(np.uint8)
    # the library frame was darker and flatter: lightness −25, contrast ×0.9, a colour cast
    lab = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] = (lab[..., 0] - lab[..., 0].mean()) * 0.9 + lab[..., 0].mean() - 25
    lab[..., 1] += 6
    patch = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    weight = np.zeros((60, 80), np.float32)
    weight[10:50, 10:70] = 1.0
    weight[20:40, 25:55] = 0.0  # a ring: the mouth in the middle does not count
    out = blend.match_colour(patch, ref, weight)
    ring = weight > 0.05
    lab_out, lab_ref = (cv2.cvtColor(x, cv2.COLOR_RGB2LAB)[ring].astype(float) for x in (out, ref))
    assert np.abs(lab_out.mean(0) - lab_ref.mean(0)).max() < 1.5
    assert abs(lab_out[:, 0].std() - lab_ref[:, 0].std()) < 1.0
    flat = blend.match_colour(patch, np.full_like(ref, 128), weight)  # contrast gain stays bounded
    assert cv2.cvtColor(flat, cv2.COLOR_RGB2LAB)[ring][:, 0].std() > 0.7 * lab_out[:, 0].std()
    assert blend.match_colour(patch, ref, np.zeros_like(weight)) is patch  # nothing to measure on
