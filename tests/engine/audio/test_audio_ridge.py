"""Ridge regression with blocked cross-validation."""

from __future__ import annotations

import numpy as np

from openlipsync.engine.audio.ridge import cv_ridge, fit_ridge


def test_ridge_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = x @ np.array([1.0, -2.0, 0.0, 0.5, 0.0]) + 3.0 + rng.normal(0, 0.1, 300)
    m = fit_ridge(x, y, 1e-4)
    np.testing.assert_allclose(m.predict(x), y, atol=0.5)
    lam, r, oof = cv_ridge(x, y, np.ones(300))
    assert r > 0.95 and oof.shape == (300,) and lam in (1.0, 3.0, 10.0, 30.0)


def test_cv_reports_no_skill_on_noise():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 8)), rng.normal(size=200)
    _, r, _ = cv_ridge(x, y, np.ones(200))
    assert r < 0.25


def test_weights_focus_the_fit():
    x = np.linspace(0, 1, 100)[:, None]
    y = np.where(np.arange(100) < 50, 2 * x[:, 0], -5.0)
    w = np.r_[np.ones(50), np.zeros(50) + 1e-9]
    m = fit_ridge(x, y, 1e-6, w)
    assert abs(m.predict(np.array([[0.25]]))[0] - 0.5) < 0.05
