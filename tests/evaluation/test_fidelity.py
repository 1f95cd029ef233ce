"""PSNR outside the lower face, edit detection and the seam measure on constructed frames."""

from __future__ import annotations

import numpy as np
import pytest

from openlipsync.evaluation.fidelity import FidelityAccumulator, edit_region, lower_face_mask, seam_strength
from openlipsync.evaluation.metrics import PSNR_CAP
from tests.evaluation.test_metrics import face


def textured(h: int = 400, w: int = 400, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 3)
    return cv2.normalize(noise, None, 40, 200, cv2.NORM_MINMAX)


def test_lower_face_mask_covers_mouth_and_jaw_but_not_the_eyes():
    marks = face(0.2)
    mask = lower_face_mask((400, 400), marks)
    for k in (48, 54, 57, 62, 8, 33):
        x, y = marks[k].round().astype(int)
        assert mask[y, x], f"point {k} should be inside"
    for k in (37, 44):  # eyes
        x, y = marks[k].round().astype(int)
        assert not mask[y, x]
    assert not lower_face_mask((400, 400), np.full((68, 2), np.nan)).any()


def test_hard_pasted_box_has_a_strong_seam_and_a_feathered_edit_a_weak_one():
    import cv2

    src = textured()
    hard = src.copy()
    hard[220:260, 180:240] = np.clip(hard[220:260, 180:240].astype(int) + 60, 0, 255)
    alpha = np.zeros((400, 400), np.float32)
    alpha[220:260, 180:240] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), 8)[..., None]
    soft = (src + alpha * 60).clip(0, 255).astype(np.uint8)
    hard_seam = seam_strength(src, hard, edit_region(src, hard))
    soft_seam = seam_strength(src, soft, edit_region(src, soft))
    assert hard_seam is not None and soft_seam is not None
    assert hard_seam > 4 * soft_seam and hard_seam > 5.0


def test_no_edit_means_no_seam():
    src = textured()
    assert seam_strength(src, src.copy(), edit_region(src, src)) is None


def test_accumulator_ignores_edits_inside_the_lower_face_and_counts_changed_frames():
    src = textured()
    marks = face(0.2)
    inside_edit = src.copy()
    x, y = marks[62].round().astype(int)
    inside_edit[y - 8:y + 8, x - 15:x + 15] = 0
    outside_edit = src.copy()
    outside_edit[20:40, 20:40] = 255  # far from the face: must cost PSNR
    acc = FidelityAccumulator()
    acc.add(src, inside_edit, marks)
    assert acc.psnr_outside == PSNR_CAP and acc.frames_changed == 1
    acc2 = FidelityAccumulator()
    acc2.add(src, outside_edit, marks)
    assert acc2.psnr_outside < 40 and acc2.frames_changed == 0
    assert acc2.worst_frame_psnr == pytest.approx(acc2.psnr_outside)
