import numpy as np
from scipy.spatial import Delaunay

from openlipsync.engine import warp


def _exact(tri: Delaunay, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation by qhull's own (brute-force) point location."""
    simplex = tri.find_simplex(query, bruteforce=True)
    out = np.zeros((len(query), values.shape[1]))
    ok = simplex >= 0
    t = tri.transform[simplex[ok]]
    b = np.einsum("nij,nj->ni", t[:, :2], query[ok] - t[:, 2])
    bary = np.c_[b, 1.0 - b.sum(1)]
    out[ok] = (values[tri.simplices[simplex[ok]]] * bary[..., None]).sum(1)
    return out


def test_interpolation_matches_the_triangle_each_grid_point_lies_in():
    rng = np.random.default_rng(3)
    # a face-like cloud with slivers: pairs of points a fraction of a pixel apart with opposite motion
    pts = rng.uniform(5, 95, (120, 2))
    pairs = pts[:20] + rng.normal(0, 0.3, (20, 2))
    pts = np.concatenate([pts, pairs, [[0, 0], [99, 0], [0, 79], [99, 79]]])
    values = rng.normal(0, 5, (len(pts), 2))
    values[-4:] = 0
    tri = Delaunay(pts)
    step = 4
    gx = (np.arange(25) + 0.5) * step - 0.5
    gy = (np.arange(20) + 0.5) * step - 0.5
    got = warp._interpolate(tri, values, gx, gy, step)
    xx, yy = np.meshgrid(gx, gy)
    want = _exact(tri, values, np.c_[xx.ravel(), yy.ravel()]).reshape(got.shape)
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_backward_maps_send_destination_points_to_their_sources():
    rng = np.random.default_rng(5)
    dst = rng.uniform(20, 100, (40, 2)).astype(np.float32)
    src = dst + rng.normal(0, 2, dst.shape).astype(np.float32)
    map_x, map_y = warp.backward_maps(dst, src, (120, 120), step=1)
    xi, yi = np.round(dst).astype(int).T
    # at the (rounded) control points the maps hold the source position, up to the rounding
    err = np.hypot(map_x[yi, xi] - (src[:, 0] + xi - dst[:, 0]), map_y[yi, xi] - (src[:, 1] + yi - dst[:, 1]))
    assert np.median(err) < 0.5
    # far from every control point (the ROI corners are fixed) nothing moves
    assert abs(map_x[0, 0]) < 1e-3 and abs(map_y[0, 0]) < 1e-3


def test_maps_of_some_rows_equal_those_rows_of_the_whole_maps():
    rng = np.random.default_rng(7)
    h, w = 93, 70
    dst = rng.uniform(3, [w - 3, h - 3], (60, 2)).astype(np.float32)
    src = dst + rng.normal(0, 3, dst.shape).astype(np.float32)
    whole_x, whole_y = warp.backward_maps(dst, src, (h, w), step=4)
    for rows in [(0, h), (0, 1), (0, 37), (5, 6), (13, 58), (40, h), (h - 1, h)]:
        part_x, part_y = warp.backward_maps(dst, src, (h, w), step=4, rows=rows)
        assert part_x.shape == (rows[1] - rows[0], w)
        np.testing.assert_array_equal(part_x, whole_x[rows[0]:rows[1]])
        np.testing.assert_array_equal(part_y, whole_y[rows[0]:rows[1]])
