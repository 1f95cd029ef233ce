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


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float, weight: np.ndarray | None = None) -> RidgeModel:
    """Weighted ridge; ``lam`` is per sample (penalty = lam · Σw · |coef|²) so it does not depend on n."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    sw = w.sum()
    mean = (w[:, None] * x).sum(axis=0) / sw
    scale = np.sqrt((w[:, None] * (x - mean) ** 2).sum(axis=0) / sw)
    scale = np.where(scale < 1e-8, 1.0, scale)
    z = (x - mean) / scale
    ym = float((w * y).sum() / sw)
    a = z.T @ (w[:, None] * z) + lam * sw * np.eye(z.shape[1])
    coef = np.linalg.solve(a, z.T @ (w * (y - ym)))
    return RidgeModel(mean, scale, coef, ym)


def _blocks(n: int, k: int) -> list[np.ndarray]:
    """k contiguous folds (neighbouring frames are correlated, random folds would leak)."""
    edges = np.linspace(0, n, k + 1).astype(int)
    return [np.arange(edges[i], edges[i + 1]) for i in range(k)]


def cv_ridge(x: np.ndarray, y: np.ndarray, weight: np.ndarray, *, folds: int = 4,
             lambdas: tuple[float, ...] = LAMBDAS, gap: int = 3) -> tuple[float, float, np.ndarray]:
    """Pick lambda by blocked CV. Returns (lambda, cv Pearson r, out-of-fold predictions)."""
    n = len(y)
    best: tuple[float, float, np.ndarray] = (lambdas[-1], 0.0, np.full(n, float(np.mean(y))))
    if n < folds * 8:
        return best
    best_r = -np.inf
    for lam in lambdas:
        pred = np.full(n, float(np.mean(y)))
        rs = []
        for test in _blocks(n, folds):
            train = np.ones(n, bool)
            train[max(test[0] - gap, 0): test[-1] + gap + 1] = False  # keep context windows from leaking
            if weight[train].sum() < 10:
                continue
            pred[test] = fit_ridge(x[train], y[train], lam, weight[train]).predict(x[test])
            rs.append(_weighted_r(pred[test], y[test], weight[test]))
        # mean within-fold r: strong shrinkage must not be judged by fold-to-fold offsets
        r = float(np.mean(rs)) if rs else 0.0
        if r > best_r:
            best_r, best = r, (lam, r, pred)
    return best


def _weighted_r(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    sw = w.sum()
    if sw <= 0:
        return 0.0
    am, bm = (w * a).sum() / sw, (w * b).sum() / sw
    cov = (w * (a - am) * (b - bm)).sum()
    va, vb = (w * (a - am) ** 2).sum(), (w * (b - bm) ** 2).sum()
    if va <= 1e-12 or vb <= 1e-12:
        return 0.0
    return float(cov / np.sqrt(va * vb))
