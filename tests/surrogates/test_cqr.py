"""CQR surrogate (surrogates/cqr.py): levels, the conformal correction, coverage, ordering, seeding, fantasies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surrogates import NotFittedError, QuantilePosterior, make_surrogate
from surrogates.cqr import CQRSurrogate, conformal_correction, quantile_levels


def _hetero(n: int, rng: np.random.Generator, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Heteroscedastic data: noise scale grows tenfold across x_0."""
    X = rng.random((n, d))
    scale = 0.05 + 0.5 * X[:, 0]
    y = np.sin(4.0 * X[:, 0]) + X[:, 1] + scale * rng.standard_normal(n)
    return X, y


def test_levels_and_bad_counts():
    np.testing.assert_allclose(quantile_levels(5), [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])
    np.testing.assert_allclose(quantile_levels(3), [0.25, 0.5, 0.75])
    for bad in (4, 1, 2.0, True):
        with pytest.raises(ValueError, match="n_quantiles"):
            quantile_levels(bad)


def test_conformal_correction_hand_case():
    """Scores max(lo - y, y - hi) = [-1, 0.5, 2, -0.5]; sorted [-1, -0.5, 0.5, 2].

    coverage 0.5: k = ceil(5 * 0.5) = 3 -> 0.5; coverage 0.2: k = 1 -> -1 (band narrows);
    coverage 0.9: k = ceil(4.5) = 5 > 4 rows -> the largest score, 2."""
    lo = np.array([0.0, 0.0, 0.0, 0.0])
    hi = np.array([2.0, 1.0, 1.0, 1.0])
    y = np.array([1.0, 1.5, 3.0, 0.5])
    assert conformal_correction(lo, hi, y, 0.5) == pytest.approx(0.5)
    assert conformal_correction(lo, hi, y, 0.2) == pytest.approx(-1.0)
    assert conformal_correction(lo, hi, y, 0.9) == pytest.approx(2.0)
    assert conformal_correction(lo[:0], hi[:0], y[:0], 0.5) == 0.0


def test_bad_options_and_inputs_name_the_field():
    X, y = _hetero(20, np.random.default_rng(0))
    with pytest.raises(ValueError, match="calibration_fraction"):
        CQRSurrogate(calibration_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="max_iter"):
        CQRSurrogate(max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        CQRSurrogate(learning_rate=-1).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        CQRSurrogate().fit(X, np.where(np.arange(20) == 3, np.nan, y))
    with pytest.raises(ValueError, match="rows"):
        CQRSurrogate().fit(X, y[:-1])
    with pytest.raises(NotFittedError):
        CQRSurrogate().posterior(X)


def test_sklearn_contract_and_registry():
    m = make_surrogate("cqr", seed=3)
    assert isinstance(m, CQRSurrogate)
    assert m.get_params()["seed"] == 3
    assert not any(k.endswith("_") for k in vars(m))  # __init__ only stores
    X, y = _hetero(40, np.random.default_rng(1))
    assert m.fit(X, y) is m
    assert m.conformalized_ and m.levels_.shape == (5,)


def test_quantiles_never_cross_and_posterior_interface():
    rng = np.random.default_rng(2)
    X, y = _hetero(60, rng)
    m = CQRSurrogate(seed=0).fit(X, y)
    Xq = rng.random((500, 2))
    Q = m.predict_quantiles(Xq)
    assert Q.shape == (500, 5)
    assert np.all(np.diff(Q, axis=1) >= 0)
    post = m.posterior(Xq)
    assert isinstance(post, QuantilePosterior)
    assert post.mean.shape == (500,)
    lo, hi = post.quantile(0.01), post.quantile(0.99)  # what CONFIG asks for: flat beyond the outer levels
    assert np.all(lo <= post.mean) and np.all(post.mean <= hi)
    s = post.sample(7, np.random.default_rng(0))
    assert s.shape == (7, 500)
    assert np.all((s >= Q[:, :1].T - 1e-12) & (s <= Q[:, -1:].T + 1e-12))


def test_no_calibration_below_the_threshold_and_constant_targets():
    rng = np.random.default_rng(4)
    X, y = _hetero(20, rng)
    m = CQRSurrogate(min_samples_to_conformalize=32).fit(X, y)
    assert not m.conformalized_ and np.all(m.corrections_ == 0)
    m1 = CQRSurrogate().fit(X[:1], y[:1])
    assert np.allclose(m1.predict_quantiles(X), y[0])
    mc = CQRSurrogate().fit(X, np.full(20, 2.5))
    assert np.allclose(mc.predict_quantiles(X), 2.5)


def test_seeded_reproducibility_including_the_calibration_split():
    X, y = _hetero(80, np.random.default_rng(5))
    Xq = np.random.default_rng(6).random((50, 2))
    a = CQRSurrogate(seed=11).fit(X, y)
    b = CQRSurrogate(seed=11).fit(X, y)
    c = CQRSurrogate(seed=12).fit(X, y)
    np.testing.assert_array_equal(a.predict_quantiles(Xq), b.predict_quantiles(Xq))
    np.testing.assert_array_equal(a.corrections_, b.corrections_)
    assert not np.array_equal(a.corrections_, c.corrections_)  # another split, another correction


def test_conformal_coverage_on_heteroscedastic_data():
    """Split conformal with k = ceil((n_cal + 1) c) covers a fresh point with probability in [c, c + 1/(n_cal + 1)]
    (marginally, over the draw of calibration and test data). Over 30 draws, the mean empirical coverage of each
    band must lie within 0.04 of that range; the raw (uncalibrated) quantile band of these small trees is far off."""
    n, n_test, draws = 200, 1000, 30
    cal_fraction = (
        0.3  # 60 calibration rows: the guarantee holds for any size; more rows only shrink the spread
    )
    n_cal = round(cal_fraction * n)
    cover = {0: [], 1: []}
    for r in range(draws):
        rng = np.random.default_rng(100 + r)
        X, y = _hetero(n, rng)
        Xt, yt = _hetero(n_test, rng)
        m = CQRSurrogate(seed=r, calibration_fraction=cal_fraction, max_iter=30).fit(X, y)
        assert m.conformalized_
        Q = m.predict_quantiles(Xt)
        for j in (0, 1):
            cover[j].append(np.mean((Q[:, j] <= yt) & (yt <= Q[:, 4 - j])))
    for j, nominal in ((0, 4 / 6), (1, 2 / 6)):
        mean = float(np.mean(cover[j]))
        upper = math.ceil((n_cal + 1) * nominal) / (n_cal + 1)
        assert nominal - 0.04 <= mean <= upper + 0.04, (j, mean, nominal)


def test_fantasies_collapse_the_band_near_pending_points_only():
    rng = np.random.default_rng(7)
    X, y = _hetero(50, rng)
    m = CQRSurrogate(seed=0).fit(X, y)
    xp = np.array([[0.5, 0.5]])
    believed = m.posterior(xp).mean
    f = m.with_fantasies(xp, believed)
    assert f is not m and np.all(m.corrections_ == f.corrections_)
    near = f.predict_quantiles(xp)
    assert np.ptp(near) < 1e-6 and near[0, 0] == pytest.approx(believed[0])
    far = np.array([[0.0, 0.0]])
    np.testing.assert_allclose(f.predict_quantiles(far), m.predict_quantiles(far), atol=1e-6)
    f2 = f.with_fantasies(np.array([[0.9, 0.1]]), np.array([0.0]))  # fantasies stack
    assert f2.X_fantasy_.shape == (2, 2)
    assert f.with_fantasies(np.zeros((0, 2)), np.zeros(0)) is f
