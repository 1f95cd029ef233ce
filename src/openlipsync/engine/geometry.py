"""Target geometry of the lower face: where lips, jaw and chin go for a wanted mouth shape.

Following JALI (Edwards et al. 2016), opening is driven mostly by the jaw: the lower lip moves fully,
the chin and jaw follow with a weight that falls off towards the ears, the upper lip barely moves.
Width (spreading/rounding) scales the lips about the mouth centre and drags the nearby cheek skin.
"""

from __future__ import annotations

import numpy as np

from openlipsync.engine import mesh

_N = mesh.N_LANDMARKS
_IS_LIP = np.zeros(_N, bool)
_IS_LIP[mesh.IDX["LIP_POINTS"]] = True
_IS_LOWER = np.zeros(_N, bool)
_IS_LOWER[mesh.IDX["LOWER_LIP"]] = True
_IS_UPPER = np.zeros(_N, bool)
_IS_UPPER[mesh.IDX["UPPER_LIP"]] = True
_IS_CORNER = np.zeros(_N, bool)
_IS_CORNER[mesh.IDX["CORNERS"]] = True
_FACE = np.arange(468)  # the iris points (468..477) never move with the mouth


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def face_coords(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(u, v) of every landmark relative to the mouth centre in inter-ocular units, plus the axes and d."""
    across, down = mesh.face_axes(lm)
    d = float(mesh.interocular(lm))
    centre = (lm[61] + lm[291]) / 2
    rel = lm - centre
    return (rel @ across) / d, (rel @ down) / d, np.stack([across, down]), d


def jaw_weights(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How much each landmark follows the lower lip's vertical motion (0 = fixed, 1 = fully)."""
    lateral = np.clip(1.0 - (u / 1.15) ** 2, 0.0, 1.0) ** 1.5
    onset = _smoothstep(v, -0.02, 0.14)
    depth = 1.0 - 0.35 * _smoothstep(v, 0.15, 0.75)  # the chin drops less than the lower lip
    w = lateral * onset * depth
    w[~_IS_LOWER & _IS_LIP] = 0.0
    w[_IS_LOWER] = 1.0
    w[_IS_CORNER] = 0.45
    return w


def move_lips(lm: np.ndarray, lip_targets: np.ndarray) -> np.ndarray:
    """Landmarks with the lip points (``mesh.LIP_POINTS`` order) at ``lip_targets`` and the jaw following.

    The lower lip's mean vertical displacement drives the jaw/chin; the corners' horizontal displacement
    drags the cheek skin next to them.
    """
    u, v, axes, d = face_coords(lm)
    across, down = axes
    out = lm.astype(np.float64).copy()
    lip_idx = mesh.IDX["LIP_POINTS"]
    disp = lip_targets - lm[lip_idx]
    lower_sel = _IS_LOWER[lip_idx]
    delta = float((disp[lower_sel] @ down).mean())
    w = jaw_weights(u, v)
    other = ~_IS_LIP
    other[468:] = False
    out[other] += np.outer(w[other] * delta, down)
    # cheek skin beside each corner follows that corner sideways
    for corner, side in ((61, -1.0), (291, 1.0)):
        k = int(np.where(lip_idx == corner)[0][0])
        shift = float(disp[k] @ across)
        dist2 = (u - u[corner]) ** 2 + (v - v[corner]) ** 2
        fall = np.exp(-dist2 / (2 * 0.22**2)) * (np.sign(u) == side)
        out[other] += np.outer(fall[other] * shift, across)
    out[lip_idx] = lip_targets
    return out.astype(np.float32)


def shaped_lips(lm: np.ndarray, opening: float, width: float) -> np.ndarray:
    """Lip points (``mesh.LIP_POINTS`` order) reshaped to ``opening``/``width`` (inter-ocular units).

    The gap between the inner lips is rescaled point by point (so the lips never cross near the
    corners); a closed source mouth opens with an elliptical profile.
    """
    _, _, axes, d = face_coords(lm)
    across, down = axes
    out = lm.astype(np.float64).copy()
    up_in, lo_in = mesh.IDX["LIPS_INNER_UPPER"], mesh.IDX["LIPS_INNER_LOWER"]
    lo_out = mesh.IDX["LIPS_OUTER_LOWER"]
    gaps = np.maximum((lm[lo_in] - lm[up_in]) @ down, 0.0)  # per column, corners included (≈0)
    cur = float(mesh.mouth_opening(lm)) * d
    want = max(opening, 0.0) * d
    k = len(up_in)
    ellipse = np.sqrt(np.clip(1.0 - np.linspace(-1, 1, k) ** 2, 0, 1))
    own = gaps / max(cur, 1e-6)
    lam = float(np.clip(cur / (0.08 * d), 0.0, 1.0))
    profile = lam * np.clip(own, 0, 1.5) + (1 - lam) * ellipse
    move = want * profile - gaps  # how far each lower-lip column moves down
    lift = 0.08 * np.maximum(move, 0.0)  # the upper lip rises a little when opening
    out[lo_in] += np.outer(move, down)
    out[lo_out] += np.outer(move, down)
    out[up_in] -= np.outer(lift, down)
    out[mesh.IDX["LIPS_OUTER_UPPER"]] -= np.outer(lift, down)
    corner_drop = 0.3 * (want - cur)
    for c in mesh.CORNERS:
        out[c] = lm[c] + corner_drop * down
    # width: scale the lips about the mouth centre along the eye line
    cur_w = float(mesh.mouth_width(lm))
    scale = float(np.clip(width / max(cur_w, 1e-3), 0.75, 1.3))
    lip_idx = mesh.IDX["LIP_POINTS"]
    pts = out[lip_idx]
    centre = (lm[61] + lm[291]) / 2
    along = (pts - centre) @ across
    pts += np.outer(along * (scale - 1.0), across)
    return pts.astype(np.float32)


def target_landmarks(lm: np.ndarray, opening: float, width: float) -> np.ndarray:
    """Full landmark set for a frame whose mouth should have ``opening`` and ``width``."""
    return move_lips(lm, shaped_lips(lm, opening, width))


def lower_face_polygon(lm: np.ndarray, scale: float = 1.3) -> np.ndarray:
    """The editable region: jaw line pushed out from the mouth (room for the chin to move), closed under
    the nose. (k, 2) float32 in image coordinates."""
    centre = (lm[61] + lm[291]) / 2
    jaw = centre + (lm[mesh.IDX["JAW"]] - centre) * scale
    top = lm[[327, 2, 98]]
    return np.concatenate([jaw, top]).astype(np.float32)
