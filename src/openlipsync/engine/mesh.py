"""MediaPipe face-mesh landmark indices and the face geometry measured from them.

All measurements are in face-normalised units: pixel distances divided by the inter-ocular distance,
defined here as the distance between the two eye centres (mean of each eye's inner and outer corner).
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478

LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Closed polygons (clockwise in image space for a frontal face).
LIPS_OUTER = LIPS_OUTER_UPPER + tuple(reversed(LIPS_OUTER_LOWER[1:-1]))
LIPS_INNER = LIPS_INNER_UPPER + tuple(reversed(LIPS_INNER_LOWER[1:-1]))
LIP_POINTS = tuple(sorted(set(LIPS_OUTER + LIPS_INNER)))
UPPER_LIP = tuple(sorted(set(LIPS_OUTER_UPPER[1:-1] + LIPS_INNER_UPPER[1:-1])))
LOWER_LIP = tuple(sorted(set(LIPS_OUTER_LOWER[1:-1] + LIPS_INNER_LOWER[1:-1])))
CORNERS = (61, 291, 78, 308)

# Lower face outline, ear to ear through the chin (part of MediaPipe's FACEMESH_FACE_OVAL).
JAW = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

RIGHT_EYE = (33, 133)  # subject's right eye (image left): outer, inner corner
LEFT_EYE = (362, 263)  # subject's left eye: inner, outer corner
NOSE_TIP = 1
NOSE_BASE = 2
CHIN = 152
CHEEKS = (234, 454)
# Points that do not move when the mouth moves: used to align frames to each other.
STABLE = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 234, 454, 127, 356)

# Index arrays (a bare tuple would index several axes at once).
IDX = {name: np.array(val, np.intp) for name, val in dict(
    LIPS_OUTER_UPPER=LIPS_OUTER_UPPER, LIPS_OUTER_LOWER=LIPS_OUTER_LOWER, LIPS_INNER_UPPER=LIPS_INNER_UPPER,
    LIPS_INNER_LOWER=LIPS_INNER_LOWER, LIPS_OUTER=LIPS_OUTER, LIPS_INNER=LIPS_INNER, LIP_POINTS=LIP_POINTS,
    UPPER_LIP=UPPER_LIP, LOWER_LIP=LOWER_LIP, CORNERS=CORNERS, JAW=JAW, FACE_OVAL=FACE_OVAL,
    STABLE=STABLE).items()}


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye centres, shape (..., 2) each."""
    return lm[..., RIGHT_EYE, :].mean(axis=-2), lm[..., LEFT_EYE, :].mean(axis=-2)


def interocular(lm: np.ndarray) -> np.ndarray:
    """Eye-centre distance in pixels, shape (...)."""
    r, left = eye_centres(lm)
    return np.linalg.norm(left - r, axis=-1)


def face_axes(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (across, down) of the face in image space, from the eye line."""
    r, left = eye_centres(lm)
    across = left - r
    across = across / np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-6)
    down = np.stack([-across[..., 1], across[..., 0]], axis=-1)
    return across, down


def mouth_opening(lm: np.ndarray) -> np.ndarray:
    """Inner-lip vertical gap / inter-ocular distance, shape (...). Averaged over the three central pairs."""
    _, down = face_axes(lm)
    up_idx, lo_idx = (82, 13, 312), (87, 14, 317)
    gap = ((lm[..., lo_idx, :] - lm[..., up_idx, :]) * down[..., None, :]).sum(-1).mean(-1)
    return np.maximum(gap, 0.0) / np.maximum(interocular(lm), 1e-6)


def mouth_width(lm: np.ndarray) -> np.ndarray:
    """Outer mouth-corner distance / inter-ocular distance, shape (...)."""
    return np.linalg.norm(lm[..., 291, :] - lm[..., 61, :], axis=-1) / np.maximum(interocular(lm), 1e-6)


def head_pose(lm: np.ndarray) -> np.ndarray:
    """Pose proxy (yaw, pitch, roll), shape (..., 3), roughly in radians-like units; 0 = frontal.

    yaw: asymmetry of the nose tip between the outer eye corners;
    pitch: nose length (bridge to tip) over inter-ocular distance, minus a typical frontal value;
    roll: angle of the eye line.
    """
    across, down = face_axes(lm)
    r, left = eye_centres(lm)
    # yaw: asymmetry of the nose tip between the outer eye corners (0 frontal, ±1 full profile)
    d_r = ((lm[..., NOSE_TIP, :] - lm[..., 33, :]) * across).sum(-1)
    d_l = ((lm[..., 263, :] - lm[..., NOSE_TIP, :]) * across).sum(-1)
    yaw = (d_r - d_l) / np.maximum(np.abs(d_r) + np.abs(d_l), 1e-6)
    # pitch from the nose only (the mouth moves with speech): foreshortened nose length over d
    d = np.maximum(np.linalg.norm(left - r, axis=-1), 1e-6)
    v_nose = ((lm[..., NOSE_TIP, :] - lm[..., 168, :]) * down).sum(-1)
    pitch = v_nose / d - 0.75
    roll = np.arctan2(across[..., 1], across[..., 0])
    return np.stack([yaw, pitch, roll], axis=-1).astype(np.float32)


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (2×3 matrix) mapping points ``src`` (k,2) onto ``dst`` (k,2) (Umeyama)."""
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s, mu_d = (w[:, None] * src).sum(0), (w[:, None] * dst).sum(0)
    s, d = src - mu_s, dst - mu_d
    cov = (w[:, None, None] * d[:, :, None] * s[:, None, :]).sum(0)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u @ vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (w * (s**2).sum(1)).sum()
    scale = (sig * np.diag(sign)).sum() / max(var, 1e-12)
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine matrix to points (..., 2)."""
    return pts @ m[:, :2].T + m[:, 2]


def shift_affine_input(m: np.ndarray, origin: np.ndarray | tuple[float, float]) -> np.ndarray:
    """The 2×3 affine map ``p ↦ m(p − origin)``: ``m`` for points measured from another origin."""
    out = np.array(m, np.float64)
    out[:, 2] -= out[:, :2] @ np.asarray(origin, np.float64)
    return out


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine matrix."""
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -(a @ m[:, 2])[:, None]])
