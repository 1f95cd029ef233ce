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
    got = warp._interpolate(tri.points, tri.simplices, values, gx, gy, step)
    xx, yy = np.meshgrid(gx, gy)
    want = _exact(tri, values, np.c_[xx.ravel(), yy.ravel()]).reshape(got.shape)
    np.testing.assert_allclose(got, want, atol=1e-3)


def _triangles(simplices: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(sorted(t)) for t in np.asarray(simplices).tolist()}


def test_delaunay_gives_qhulls_triangles():
    rng = np.random.default_rng(7)
    for n, spread in ((3, 50.0), (40, 100.0), (300, 1000.0)):
        pts = rng.uniform(0, spread, (n, 2))
        # a face-like cloud's slivers: points a fraction of a pixel apart
        pts = np.concatenate([pts, pts[: n // 4] + rng.normal(0, 0.05, (n // 4, 2))]) + warp._jitter(n + n // 4)
        assert _triangles(warp.delaunay(pts)) == _triangles(Delaunay(pts).simplices)
    far = rng.uniform(0, 10, (10, 2)) * 1e9  # far beyond any frame
    assert _triangles(warp.delaunay(far)) == _triangles(Delaunay(far).simplices)


def test_delaunay_of_unusable_points_is_empty():
    line = np.c_[np.arange(10.0), 2 * np.arange(10.0)]
    assert warp.delaunay(line).shape == (0, 3)
    assert warp.delaunay(line[:2]).shape == (0, 3)
    cloud = np.random.default_rng(1).uniform(0, 10, (10, 2))
    cloud[3] = np.nan
    assert warp.delaunay(cloud).shape == (0, 3)
    # all motion is lost, not the frame: the maps are the identity
    map_x, map_y = warp.backward_maps(cloud.astype(np.float32), cloud.astype(np.float32) + 1, (12, 12), step=2)
    assert np.array_equal(map_x, np.tile(np.arange(12, dtype=np.float32), (12, 1)))


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


def test_maps_to_several_sources_equal_the_maps_to_each():
    rng = np.random.default_rng(11)
    h, w = 81, 64
    dst = rng.uniform(3, [w - 3, h - 3], (50, 2)).astype(np.float32)
    sources = tuple(dst + rng.normal(0, s, dst.shape).astype(np.float32) for s in (1.0, 3.0, 0.5))
    many = warp.backward_maps_many(dst, sources, (h, w), step=4, rows=(9, 70))
    assert len(many) == len(sources)
    for (mx, my), src in zip(many, sources, strict=True):
        one_x, one_y = warp.backward_maps(dst, src, (h, w), step=4, rows=(9, 70))
        np.testing.assert_allclose(mx, one_x, atol=1e-4)
        np.testing.assert_allclose(my, one_y, atol=1e-4)
