"""Metrics on synthetic 68-point landmark sequences: known answers, no media."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openlipsync.evaluation import metrics as M


def face(opening: float = 0.0, iod: float = 60.0) -> np.ndarray:
    """A schematic 68-point face: eyes ``iod`` apart, inner lips ``opening`` (in iod units) apart."""
    pts = np.zeros((68, 2), np.float64)
    pts[0:17] = np.stack([np.linspace(-70, 70, 17), 10 + 60 * np.sin(np.linspace(0, np.pi, 17))], 1)  # jaw
    pts[27:36] = np.stack([np.r_[np.zeros(4), np.linspace(-12, 12, 5)],  # nose bridge, then nostrils
                           np.r_[np.linspace(-20, 5, 4), np.full(5, 10)]], 1)
    for k, cx in ((36, -iod / 2), (42, iod / 2)):
        ang = np.linspace(0, 2 * np.pi, 6, endpoint=False)
        pts[k:k + 6] = np.stack([cx + 10 * np.cos(ang), -30 + 4 * np.sin(ang)], 1)
    mouth_y, half_gap = 35.0, opening * iod / 2
    pts[48:60] = np.stack([25 * np.cos(np.linspace(0, 2 * np.pi, 12, endpoint=False)),
                           mouth_y + 8 * np.sin(np.linspace(0, 2 * np.pi, 12, endpoint=False))], 1)
    pts[60], pts[64] = (-20, mouth_y), (20, mouth_y)
    for k, x in zip((61, 62, 63), (-10, 0, 10), strict=True):
        pts[k] = (x, mouth_y - half_gap)
    for k, x in zip((67, 66, 65), (-10, 0, 10), strict=True):
        pts[k] = (x, mouth_y + half_gap)
    return pts + 200.0


def transform(pts: np.ndarray, angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = math.radians(angle_deg)
    rot = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return pts @ rot.T + np.array(shift)


def test_mouth_opening_is_inner_lip_gap_over_inter_ocular_distance():
    seq = np.stack([face(0.0), face(0.2), face(0.35, iod=90.0)])
    assert M.inter_ocular(seq) == pytest.approx([60.0, 60.0, 90.0])
    assert M.mouth_opening(seq) == pytest.approx([0.0, 0.2, 0.35])


def test_mouth_opening_does_not_depend_on_face_size_or_pose():
    base = face(0.25)
    moved = transform(base, 12.0, 2.5, (40.0, -15.0))
    assert M.mouth_opening(moved[None])[0] == pytest.approx(0.25)


def test_missing_face_gives_nan_and_is_skipped_by_pearson():
    seq = np.stack([face(v) for v in (0.0, 0.1, 0.3, 0.2, 0.05)])
    seq[2] = np.nan
    op = M.mouth_opening(seq)
    assert not M.valid_mask(seq)[2] and math.isnan(op[2])
    assert M.pearson(op, op * 3 + 1) == pytest.approx(1.0)


def test_pearson_known_values_and_undefined_cases():
    x = np.arange(10, dtype=float)
    assert M.pearson(x, -x) == pytest.approx(-1.0)
    assert M.pearson(x, x**2) == pytest.approx(0.9627, abs=1e-4)
    assert math.isnan(M.pearson(x, np.ones(10)))  # constant: undefined
    assert math.isnan(M.pearson(x[:2], x[:2]))  # too short


def test_lmd_is_zero_for_the_same_mouth_under_a_similarity_transform():
    truth = np.stack([face(0.1), face(0.3)])
    pred = np.stack([transform(f, -8.0, 1.7, (30.0, 12.0)) for f in truth])
    assert M.mouth_lmd(pred, truth) == pytest.approx([0.0, 0.0], abs=1e-9)


def test_lmd_measures_a_mouth_change_in_inter_ocular_units():
    truth = face(0.1)[None]
    pred = transform(face(0.3), 20.0, 0.5, (0.0, 0.0))[None]  # different pose AND wider open
    # only the 6 inner points 61-63 / 65-67 moved, each by 0.1 iod: mean over 20 points = 6 * 0.1 / 20
    assert M.mouth_lmd(pred, truth)[0] == pytest.approx(6 * 0.1 / 20, rel=1e-6)


def test_lmd_is_nan_where_a_face_is_missing():
    truth = np.stack([face(0.1), np.full((68, 2), np.nan)])
    assert math.isnan(M.mouth_lmd(truth.copy(), truth)[1])


@pytest.mark.parametrize("shift", [-3, 0, 2, 5])
def test_best_lag_recovers_a_known_shift(shift: int):
    rng = np.random.default_rng(1)
    env = np.convolve(rng.normal(size=300), np.ones(4) / 4, mode="same")
    opening = np.roll(env, shift)  # opening[t + shift] = env[t]: mouth late by `shift` frames
    opening[:max(shift, 0)] = 0
    lag, r = M.best_lag(env, opening, 8)
    assert lag == shift and r > 0.9


def test_av_offset_recovers_a_shift_despite_slow_drift_and_noise():
    rng = np.random.default_rng(2)
    fps, n = 25.0, 400
    syllables = np.convolve(rng.random(n) > 0.8, np.hanning(7), mode="same")
    drift = np.linspace(0, 3, n)  # phrase-level loudness drift that the mouth does not follow
    env = syllables + drift
    opening = np.roll(syllables, -2) + 0.05 * rng.normal(size=n)  # mouth leads the sound by 2 frames
    assert M.av_offset(env, opening, fps, 8)[0] == -2


def test_similarity_transform_inverts_a_known_transform():
    src = face(0.2)
    dst = transform(src, 33.0, 1.3, (5.0, -7.0))
    m = M.similarity_transform(src, dst)
    assert src @ m[:, :2].T + m[:, 2] == pytest.approx(dst, abs=1e-6)


def test_silence_opening_is_a_percentage_of_the_open_range():
    opening = np.array([0.1, 0.1, 0.3, 0.5, 0.2])
    silent = np.array([True, True, False, False, True])
    # silent mean = (0.1 + 0.1 + 0.2) / 3 = 0.1333; range 0.1..0.5
    assert M.silence_opening(opening, silent, 0.1, 0.5) == pytest.approx((0.4 / 3 - 0.1) / 0.4 * 100)
    assert math.isnan(M.silence_opening(opening, np.zeros(5, bool), 0.1, 0.5))


def test_psnr_known_values_mask_and_cap():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    assert M.psnr(a, b)[0] == M.PSNR_CAP
    b[:5] = 10  # half the image off by 10 levels: mse 50 over all, 100 over the top half
    assert M.psnr(a, b)[0] == pytest.approx(10 * math.log10(255**2 / 50))
    top = np.zeros((10, 10), bool)
    top[:5] = True
    assert M.psnr(a, b, top)[0] == pytest.approx(10 * math.log10(255**2 / 100))
    assert M.psnr(a, b, ~top)[0] == M.PSNR_CAP


def test_band_limit_keeps_missing_frames_missing():
    x = np.sin(np.arange(60) / 2.0)
    x[10] = np.nan
    out = M.band_limit(x, 25.0)
    assert math.isnan(out[10]) and np.isfinite(np.delete(out, 10)).all()
