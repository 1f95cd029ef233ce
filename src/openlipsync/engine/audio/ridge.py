"""Small ridge regression with blocked cross-validation (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAMBDAS = (1.0, 3.0, 10.0, 30.0)


@dataclass(frozen=True)
class RidgeModel:
    """y ≈ ((x - mean) / scale) @ coef + intercept."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def _stats(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple:
    """Weighted standardisation and normal equations (computed once, solved for any lambda)."""
    sw = w.sum()
    mean = (w[:, None] * x).sum(axis=0) / sw
    scale = np.sqrt((w[:, None] * (x - mean) ** 2).sum(axis=0) / sw)
    scale = np.where(scale < 1e-8, 1.0, scale)
    z = (x - mean) / scale
    ym = float((w * y).sum() / sw)
    return mean, scale, ym, sw, z.T @ (w[:, None] * z), z.T @ (w * (y - ym))


def _solve(stats: tuple, lam: float) -> RidgeModel:
    mean, scale, ym, sw, gram, rhs = stats
    coef = np.linalg.solve(gram + lam * sw * np.eye(gram.shape[0]), rhs)
    return RidgeModel(mean, scale, coef, ym)


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float, weight: np.ndarray | None = None) -> RidgeModel:
    """Weighted ridge; ``lam`` is per sample (penalty = lam · Σw · |coef|²) so it does not depend on n."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    return _solve(_stats(x, y, w), lam)


def _blocks(n: int, k: int) -> list[np.ndarray]:
    """k contiguous folds (neighbouring frames are correlated, random folds would leak)."""
    edges = np.linspace(0, n, k + 1).astype(int)
    return [np.arange(edges[i], edges[i + 1]) for i in range(k)]


def cv_ridge(x: np.ndarray, y: np.ndarray, weight: np.ndarray, *, folds: int = 4,
             lambdas: tuple[float, ...] = LAMBDAS, gap: int = 3) -> tuple[float, float, np.ndarray]:
    """Pick lambda by blocked CV. Returns (lambda, cv Pearson r, out-of-fold predictions).

    The r is the mean of the within-fold correlations, so strong shrinkage is not judged by
    fold-to-fold offsets.
    """
    n = len(y)
    if n < folds * 8:
        return lambdas[-1], 0.0, np.full(n, float(np.mean(y)))
    preds = {lam: np.full(n, float(np.mean(y))) for lam in lambdas}
    rs: dict[float, list[float]] = {lam: [] for lam in lambdas}
    for test in _blocks(n, folds):
        train = np.ones(n, bool)
        train[max(test[0] - gap, 0): test[-1] + gap + 1] = False  # keep context windows from leaking
        if weight[train].sum() < 10:
            continue
        stats = _stats(x[train], y[train], weight[train])  # one Gram matrix per fold, every lambda
        for lam in lambdas:
            preds[lam][test] = _solve(stats, lam).predict(x[test])
            rs[lam].append(weighted_r(preds[lam][test], y[test], weight[test]))
    score = {lam: float(np.mean(v)) if v else 0.0 for lam, v in rs.items()}
    best = max(lambdas, key=lambda lam: score[lam])
    return best, score[best], preds[best]


def weighted_r(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` with row weights ``w`` (0 when undefined)."""
    sw = w.sum()
    if sw <= 0:
        return 0.0
    am, bm = (w * a).sum() / sw, (w * b).sum() / sw
    cov = (w * (a - am) * (b - bm)).sum()
    va, vb = (w * (a - am) ** 2).sum(), (w * (b - bm) ** 2).sum()
    if va <= 1e-12 or vb <= 1e-12:
        return 0.0
    return float(cov / np.sqrt(va * vb))
