"""Dense backward warps from sparse landmark motion, on a region of interest only.

The displacement (destination → source) known at control points is interpolated piecewise-linearly
over a Delaunay triangulation of the destination points (a piecewise-affine warp), evaluated on a
coarse grid and upsampled; ``cv2.remap`` then resamples the ROI. Evaluating on a grid of 4 px keeps
the cost a few milliseconds per frame whatever the resolution of the face.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from scipy.spatial import Delaunay, QhullError


def roi_box(points: np.ndarray, shape: tuple[int, int], margin: float = 0.0) -> tuple[int, int, int, int]:
    """Integer box (x0, y0, x1, y1) around ``points`` grown by ``margin`` px, clipped to the frame."""
    h, w = shape
    x0, y0 = np.floor(points.min(0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(0) + margin).astype(int) + 1
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def backward_maps(dst: np.ndarray, src: np.ndarray, size: tuple[int, int], step: int = 4
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps of shape ``size`` (h, w) sending each destination pixel to its source position.

    ``dst``/``src``: (k, 2) control points in ROI coordinates. The ROI corners are added as fixed points,
    so pixels away from the moving points keep their position.
    """
    h, w = size
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    pts = np.concatenate([dst.astype(np.float64), corners])
    val = np.concatenate([(src - dst).astype(np.float64), np.zeros((4, 2))])
    # qhull rejects exactly coincident points; a sub-pixel jitter is invisible
    pts += np.random.default_rng(0).normal(0, 1e-3, pts.shape)
    # sample at cell centres so that a plain resize by ``step`` puts every sample back at its position
    gx = (np.arange(-(-w // step), dtype=np.float64) + 0.5) * step - 0.5
    gy = (np.arange(-(-h // step), dtype=np.float64) + 0.5) * step - 0.5
    try:
        coarse = _interpolate(Delaunay(pts), val, gx, gy, step)
    except QhullError:
        coarse = np.zeros((len(gy), len(gx), 2), np.float32)
    full = cv2.resize(coarse, (len(gx) * step, len(gy) * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
    base_x, base_y = _pixel_grid(h, w)
    return base_x + full[..., 0], base_y + full[..., 1]


@lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = False
    gy.flags.writeable = False
    return gx, gy


def _interpolate(tri: Delaunay, values: np.ndarray, gx: np.ndarray, gy: np.ndarray, step: int
                 ) -> np.ndarray:
    """Piecewise-linear interpolation of ``values`` on the grid ``gx`` × ``gy`` (0 outside the hull).

    Triangles are rasterised into a triangle-id image with OpenCV (qhull's point location degrades to a
    brute-force search on the sliver triangles that closed lips produce), then barycentric coordinates
    are computed directly (qhull's ``transform`` property is slow)."""
    ids = np.full((len(gy), len(gx)), -1, np.int32)
    # grid cell (i, j) sits at (gx[j], gy[i]); draw triangles in grid units with 4 fractional bits
    origin = np.array([gx[0], gy[0]])
    corners = np.round((tri.points[tri.simplices] - origin) / step * 16).astype(np.int32)
    for k, poly in enumerate(corners):
        cv2.fillConvexPoly(ids, poly, int(k), lineType=cv2.LINE_8, shift=4)
    xx, yy = np.meshgrid(gx, gy)
    query = np.c_[xx.ravel(), yy.ravel()]
    simplex = ids.ravel()
    inside = simplex >= 0
    out = np.zeros((len(query), values.shape[1]), np.float32)
    verts = tri.simplices[simplex[inside]]
    a, b, c = (tri.points[verts[:, k]] for k in range(3))
    v0, v1, v2 = b - a, c - a, query[inside] - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-9
    den = np.where(ok, den, 1.0)
    l1 = np.where(ok, (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den, 0.0)
    l2 = np.where(ok, (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den, 0.0)
    bary = np.clip(np.stack([1.0 - l1 - l2, l1, l2], axis=1), -0.5, 1.5)
    out[inside] = (values[verts] * bary[..., None]).sum(1)
    return out.reshape(len(gy), len(gx), values.shape[1])


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Resample ``image`` (ROI) with cubic interpolation (keeps teeth and lip edges sharp)."""
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
