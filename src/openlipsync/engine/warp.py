"""Dense backward warps from sparse landmark motion, on a region of interest only.

The displacement (destination → source) known at control points is interpolated piecewise-linearly
over a Delaunay triangulation of the destination points (a piecewise-affine warp), evaluated on a
coarse grid and upsampled; ``cv2.remap`` then resamples the ROI. Evaluating on a grid of 4 px keeps
the cost a few milliseconds per frame whatever the resolution of the face. The triangulation is
OpenCV's incremental Delaunay (``Subdiv2D``) in ≈ 60 % of qhull's time: the same triangles, except
where four points are nearly on one circle and either diagonal is Delaunay (its in-circle test has a
tolerance; 4 of 642 triangulations of one real clip's run).
"""

from __future__ import annotations

import cv2
import numpy as np

_JITTER = np.random.default_rng(0).normal(0, 1e-3, (1024, 2))


def _jitter(n: int) -> np.ndarray:
    """(n, 2) fixed sub-pixel offsets (the same for every call: warps are deterministic)."""
    return _JITTER[:n] if n <= len(_JITTER) else np.random.default_rng(0).normal(0, 1e-3, (n, 2))


def roi_box(points: np.ndarray, shape: tuple[int, int], margin: float = 0.0) -> tuple[int, int, int, int]:
    """Integer box (x0, y0, x1, y1) around ``points`` grown by ``margin`` px, clipped to the frame."""
    h, w = shape
    x0, y0 = np.floor(points.min(0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(0) + margin).astype(int) + 1
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def backward_maps(dst: np.ndarray, src: np.ndarray, size: tuple[int, int], step: int = 4,
                  rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps of shape ``size`` (h, w) sending each destination pixel to its source position.

    ``dst``/``src``: (k, 2) control points in ROI coordinates. The ROI corners are added as fixed points,
    so pixels away from the moving points keep their position. ``rows`` (r0, r1): only those rows of the
    maps, the same values as the whole maps' rows (for warps that are shown on part of the ROI only).
    """
    return backward_maps_many(dst, (src,), size, step, rows)[0]


def backward_maps_many(dst: np.ndarray, sources: tuple[np.ndarray, ...], size: tuple[int, int], step: int = 4,
                       rows: tuple[int, int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``backward_maps`` from the same destination points to each of several source point sets, on one
    triangulation and one pass over the grid."""
    h, w = size
    r0, r1 = rows if rows is not None else (0, h)
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    pts = np.concatenate([dst.astype(np.float64), corners])
    val = np.concatenate([np.concatenate([(src - dst).astype(np.float64) for src in sources], axis=1),
                          np.zeros((4, 2 * len(sources)))])
    # coincident or cocircular points make the triangulation ambiguous; a sub-pixel jitter is invisible
    pts += _jitter(len(pts))
    # sample at cell centres so that a plain resize by ``step`` puts every sample back at its position
    gx = (np.arange(-(-w // step), dtype=np.float64) + 0.5) * step - 0.5
    gy = (np.arange(-(-h // step), dtype=np.float64) + 0.5) * step - 0.5
    # the coarse rows that the upsampling of rows r0..r1-1 reads (the resize clamps at the grid's ends,
    # so a sub-grid must not end where the whole grid goes on)
    c0 = max(0, int(np.floor((r0 + 0.5) / step - 0.5)))
    c1 = min(len(gy), int(np.floor((r1 - 0.5) / step - 0.5)) + 2)
    coarse = _interpolate(pts, delaunay(pts), val, gx, gy[c0:c1], step)
    full = cv2.resize(coarse, (len(gx) * step, (c1 - c0) * step), interpolation=cv2.INTER_LINEAR)
    full = full[r0 - c0 * step:r1 - c0 * step, :w]
    # the pixel's own position plus its displacement (the position arrays broadcast over rows / columns)
    xs, ys = np.arange(w, dtype=np.float32), np.arange(r0, r1, dtype=np.float32)[:, None]
    return [(full[..., 2 * i] + xs, full[..., 2 * i + 1] + ys) for i in range(len(sources))]


def delaunay(points: np.ndarray) -> np.ndarray:
    """(t, 3) indices into ``points`` (k, 2) of their Delaunay triangles (none when the points are not
    finite or all on a line). The points should be in general position (see ``backward_maps``' jitter)."""
    if len(points) < 3 or not np.isfinite(points).all():
        return np.zeros((0, 3), np.int64)
    p32 = np.ascontiguousarray(points, np.float32)
    lo, extent = p32.min(0), float(np.ptp(p32, axis=0).max()) + 1.0
    # the outer triangle's corners far away (40× the extent), so that no hull triangle is lost to them
    margin = 40.0 * extent
    size = int(2 * margin + extent) + 1
    try:
        subdiv = cv2.Subdiv2D((int(lo[0] - margin), int(lo[1] - margin), size, size))
        subdiv.insert(p32)  # type: ignore[call-overload]  # (the binding takes an (n, 2) array; the stub lists sequences)
    except (cv2.error, OverflowError):  # never fail a frame for it: no triangles, no motion
        return np.zeros((0, 3), np.int64)
    corners = np.ascontiguousarray(subdiv.getTriangleList(), np.float32).reshape(-1, 3, 2)
    # back to indices: a corner is an inserted point with the very same float32 coordinates (compared as
    # one 64-bit key per point); triangles with an outer corner are dropped
    keys = p32.view(np.int64).ravel()
    order = np.argsort(keys)
    wanted = np.ascontiguousarray(corners).view(np.int64)[..., 0]
    pos = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
    found = (keys[order][pos] == wanted).all(axis=1)
    return order[pos[found]]


def _interpolate(points: np.ndarray, simplices: np.ndarray, values: np.ndarray, gx: np.ndarray, gy: np.ndarray,
                 step: int) -> np.ndarray:
    """Piecewise-linear interpolation of ``values`` (at ``points``) on the grid ``gx`` × ``gy`` over the
    triangles ``simplices`` (0 outside them).

    Each grid point takes the barycentric mix of the triangle that contains it. The candidates are the
    grid points inside each triangle's bounding box, all tested at once (qhull's point location degrades
    to a brute-force search on the sliver triangles that closed lips produce)."""
    nx, ny = len(gx), len(gy)
    vals = values[simplices]  # (t, 3, channels)
    # triangles whose corners all stay put interpolate to zero, which the output already holds (the big
    # triangles between the fixed outline and the ROI corners: a third of the grid points)
    moving = np.abs(vals).max(axis=(1, 2)) > 0
    vals, corner = vals[moving], points[simplices[moving]]
    a, e1, e2 = corner[:, 0], corner[:, 1] - corner[:, 0], corner[:, 2] - corner[:, 0]
    den = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    ok = np.abs(den) > 1e-9  # degenerate slivers: their points lie on the neighbours' edges
    corner, a, e1, e2, den, vals = corner[ok], a[ok], e1[ok], e2[ok], den[ok], vals[ok]
    # grid cells spanned by each triangle's bounding box, enumerated as (triangle, ix, iy)
    origin = np.array([gx[0], gy[0]])
    lo = np.maximum(np.ceil((corner.min(1) - origin) / step - 1e-6).astype(np.int64), 0)
    hi = np.minimum(np.floor((corner.max(1) - origin) / step + 1e-6).astype(np.int64), [nx - 1, ny - 1])
    span = hi - lo + 1
    count = np.where((span > 0).all(1), span[:, 0] * span[:, 1], 0)
    t = np.repeat(np.arange(len(count)), count)
    k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    width = span[t, 0]
    ix, iy = lo[t, 0] + k % width, lo[t, 1] + k // width
    # the barycentric coordinates (l1, l2) are linear in the offset from corner a, and so is the value:
    # per triangle, the rows of the inverse of [e1 e2] and the value's two edge differences
    inv = 1.0 / den
    r1x, r1y, r2x, r2y = e2[:, 1] * inv, -e2[:, 0] * inv, -e1[:, 1] * inv, e1[:, 0] * inv
    d1, d2 = vals[:, 1] - vals[:, 0], vals[:, 2] - vals[:, 0]
    qx, qy = gx[ix] - a[t, 0], gy[iy] - a[t, 1]
    l1 = qx * r1x[t] + qy * r1y[t]
    l2 = qx * r2x[t] + qy * r2y[t]
    inside = (l1 >= -1e-7) & (l2 >= -1e-7) & (l1 + l2 <= 1.0 + 1e-7)
    t, l1, l2 = t[inside], l1[inside, None], l2[inside, None]
    out = np.zeros((ny, nx, values.shape[1]), np.float32)
    out[iy[inside], ix[inside]] = vals[t, 0] + l1 * d1[t] + l2 * d2[t]
    return out


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Resample ``image`` (ROI) with cubic interpolation (keeps teeth and lip edges sharp)."""
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
