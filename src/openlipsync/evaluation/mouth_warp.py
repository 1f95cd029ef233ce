"""A deliberately simple mouth-opening warp (no retrieval, no texture model).

Used by the harness for two things that must not depend on the engine: the naive "loudness baseline"
reference, and the synthetic talking clip the project can ship. The lower lip and chin are pushed along
the face's vertical axis and the gap is painted as a dark cavity; a negative amount pulls the lower lip
up to close an open mouth.
"""

from __future__ import annotations

import numpy as np

UPPER_INNER = np.array([60, 61, 62, 63, 64])
LOWER_INNER = np.array([65, 66, 67])


def _frame_axes(marks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mouth centre, unit vector along the mouth (left→right), unit vector down the face, half width."""
    left, right = marks[48].astype(np.float64), marks[54].astype(np.float64)
    centre = (left + right) / 2
    eu = right - left
    half = float(np.linalg.norm(eu)) / 2
    eu = eu / max(2 * half, 1e-6)
    ev = np.array([-eu[1], eu[0]])
    if np.dot(marks[8] - centre, ev) < 0:  # make ev point to the chin
        ev = -ev
    return centre, eu, ev, half


def warp_mouth(frame: np.ndarray, marks: np.ndarray, delta_px: float) -> np.ndarray:
    """Open (``delta_px`` > 0) or close (< 0) the mouth of ``frame`` by about ``delta_px`` pixels.

    ``marks`` are the frame's 68 landmarks. Returns a new frame; ``frame`` is not modified.
    """
    import cv2

    if not np.isfinite(marks).all() or abs(delta_px) < 0.25:
        return frame.copy()
    centre, eu, ev, half = _frame_axes(marks)
    rel = marks.astype(np.float64) - centre
    u_pts, v_pts = rel @ eu, rel @ ev
    v_chin = float(v_pts[8])
    fall = max(3 * abs(delta_px), 0.25 * v_chin)
    # region of interest: the mouth, the chin and the fall-off below it
    reach = np.array([half * 1.3, v_chin + fall + 4])
    corners = [centre + sx * reach[0] * eu + sy * ev for sx in (-1, 1) for sy in (-half * 0.5, reach[1])]
    h, w = frame.shape[:2]
    x0, y0 = np.floor(np.min(corners, axis=0)).astype(int)
    x1, y1 = np.ceil(np.max(corners, axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
    if x1 <= x0 + 2 or y1 <= y0 + 2:
        return frame.copy()
    ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1].astype(np.float64)
    px, py = xs - centre[0], ys - centre[1]
    u, v = px * eu[0] + py * eu[1], px * ev[0] + py * ev[1]
    order = np.argsort(u_pts[UPPER_INNER])
    v_split = np.interp(u, u_pts[UPPER_INNER][order], v_pts[UPPER_INNER][order])
    lens = np.sqrt(np.clip(1 - (u / (half * 1.05)) ** 2, 0, 1))
    vert = np.clip(1 - (v - v_chin) / fall, 0, 1)
    vert = np.where(v < v_split, 0.0, vert)
    shift = delta_px * lens * vert
    v_src = v - shift
    map_x = (centre[0] + u * eu[0] + v_src * ev[0]).astype(np.float32)
    map_y = (centre[1] + u * eu[1] + v_src * ev[1]).astype(np.float32)
    roi = frame[y0:y1 + 1, x0:x1 + 1]
    warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if delta_px > 0:
        warped = _paint_cavity(warped, roi, v - v_split, delta_px * lens, marks, (x0, y0))
    out = frame.copy()
    out[y0:y1 + 1, x0:x1 + 1] = warped
    return out


def _paint_cavity(warped: np.ndarray, roi: np.ndarray, depth: np.ndarray, gap: np.ndarray,
                  marks: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Fill the opened gap (0 ≤ depth < gap) with a dark, lip-tinted cavity with soft 1-px edges."""
    alpha = np.clip(np.minimum(depth + 0.5, gap - depth + 0.5), 0, 1) * (gap > 0.5)
    lips = marks[48:60].astype(int) - np.array(origin)
    lips[:, 0] = np.clip(lips[:, 0], 0, roi.shape[1] - 1)
    lips[:, 1] = np.clip(lips[:, 1], 0, roi.shape[0] - 1)
    lip_colour = roi[lips[:, 1], lips[:, 0]].astype(np.float64).mean(axis=0)
    cavity = lip_colour * 0.22
    a = alpha[..., None]
    return (warped * (1 - a) + cavity * a).round().clip(0, 255).astype(np.uint8)
