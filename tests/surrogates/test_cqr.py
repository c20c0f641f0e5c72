"""CQR surrogate (surrogates/cqr.py): levels, the conformal correction, coverage, ordering, seeding, fantasies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surrogates import NotFittedError, QuantilePosterior, make_surrogate
from surrogates.cqr import (
    _BASE_QUADRATIC_WEIGHTS,
    CQRSurrogate,
    _KernelRidge,
    _matern52,
    _quadratic_features,
    _YeoJohnson,
    conformal_correction,
    quantile_levels,
)


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
    with pytest.raises(ValueError, match="base"):
        CQRSurrogate(base="gp").fit(X, y)
    with pytest.raises(ValueError, match="base_quadratic"):
        CQRSurrogate(base_quadratic="yes").fit(X, y)
    with pytest.raises(ValueError, match="target_transform"):
        CQRSurrogate(target_transform="log").fit(X, y)
    with pytest.raises(ValueError, match="base_max_rows"):
        CQRSurrogate(base_max_rows=1).fit(X, y)
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


def test_coverage_holds_on_heavy_tailed_values_through_the_transform():
    """The conformal step runs on the transformed values; intervals map to intervals under a monotone map, so the
    guarantee holds for the values themselves. Heavy right tail (log-normal noise), as HPO losses with diverged
    runs have: the fitted exponent is log-like (< 1) and the coverage is still within the tolerance above."""
    n, n_test, draws, cal_fraction = 200, 1000, 30, 0.3
    n_cal = round(cal_fraction * n)
    cover, lams = [], []
    for r in range(draws):
        rng = np.random.default_rng(300 + r)
        X, y = _hetero(n, rng)
        Xt, yt = _hetero(n_test, rng)
        y, yt = np.exp(2.0 * y), np.exp(2.0 * yt)
        m = CQRSurrogate(seed=r, calibration_fraction=cal_fraction, max_iter=30).fit(X, y)
        lams.append(m.transform_.lam_)
        Q = m.predict_quantiles(Xt)
        cover.append(np.mean((Q[:, 0] <= yt) & (yt <= Q[:, 4])))
    upper = math.ceil((n_cal + 1) * 4 / 6) / (n_cal + 1)
    assert 4 / 6 - 0.04 <= float(np.mean(cover)) <= upper + 0.04
    assert np.median(lams) < 0.5


def test_yeo_johnson_round_trip_range_and_unit_invariance():
    rng = np.random.default_rng(5)
    for y in (
        rng.lognormal(size=60),
        -rng.lognormal(size=60),
        rng.normal(size=60),
        np.r_[np.full(40, 0.03), 0.9],
    ):
        t = _YeoJohnson().fit(y)
        np.testing.assert_allclose(t.inverse(t.transform(y)), y, atol=1e-9)
        far = t.inverse(np.array([-1e6, -50.0, 0.0, 50.0, 1e6]))
        assert np.all(np.isfinite(far)) and np.all(np.diff(far) >= 0.0)
        assert far[0] >= y.min() - 10.0 * np.ptp(y) - 1e-9 and far[-1] <= y.max() + 10.0 * np.ptp(y) + 1e-9
    assert _YeoJohnson().fit(rng.lognormal(sigma=1.5, size=200)).lam_ < 0.5  # right tail compressed
    # the exponent is fitted after standardization, so the model does not depend on the values' units
    X, y = _hetero(80, np.random.default_rng(6))
    y = np.exp(y)
    Q = CQRSurrogate(seed=0).fit(X, y).predict_quantiles(X[:20])
    Q2 = CQRSurrogate(seed=0).fit(X, 1000.0 * y - 7.0).predict_quantiles(X[:20])
    np.testing.assert_allclose(Q2, 1000.0 * Q - 7.0, rtol=1e-6, atol=1e-6)


def test_local_scale_widens_the_band_away_from_the_data():
    """With ``local_scale`` the band is narrow among the observations and wide far from them (as a GP's); without
    it the trees and the constant correction give about one width everywhere."""
    rng = np.random.default_rng(11)
    X = 0.4 * rng.random((80, 2))  # all data in the corner [0, 0.4]^2
    y = np.sin(5.0 * X[:, 0]) + X[:, 1] + 0.02 * rng.standard_normal(80)
    inside, far = np.array([[0.2, 0.2]]), np.array([[0.95, 0.95]])
    m = CQRSurrogate(seed=0).fit(X, y)
    assert m.scaled_ and m.conformalized_
    width = lambda model, x: float(np.diff(model.predict_quantiles(x)[0, [0, -1]])[0])  # noqa: E731
    assert width(m, far) > 5.0 * width(m, inside)
    flat = CQRSurrogate(seed=0, local_scale=False).fit(X, y)
    assert not flat.scaled_
    assert width(flat, far) < 2.0 * width(flat, inside)
    with pytest.raises(ValueError, match="local_scale"):
        CQRSurrogate(local_scale="yes").fit(X, y)


def test_transform_off_fits_the_values_themselves():
    X, y = _hetero(80, np.random.default_rng(8))
    off = CQRSurrogate(seed=0, target_transform="none").fit(X, y)
    assert off.transform_ is None
    on = CQRSurrogate(seed=0).fit(X, y)
    assert on.transform_ is not None
    # quantiles stay ordered and in the values' units either way
    for m in (off, on):
        Q = m.predict_quantiles(X)
        assert np.all(np.diff(Q, axis=1) >= 0.0)
        assert abs(float(np.median(Q[:, 2])) - float(np.median(y))) < 0.5


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


@pytest.mark.parametrize("quadratic", [True, False])
def test_kernel_base_leave_one_out_residuals_match_explicit_refits(quadratic: bool):
    """The trees learn y_i - m_{-i}(x_i); the closed form alpha_i / (A^-1)_ii must equal a refit without row i
    (same length-scale, quadratic weight and ridge)."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(21)
    X = rng.random((15, 3))
    y = np.sin(3.0 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2]
    kr = _KernelRidge(max_rows=256, quadratic=quadratic)
    res = kr.fit(X, y, np.random.default_rng(0))
    w = kr.quadratic_weight_
    assert (w in _BASE_QUADRATIC_WEIGHTS) if quadratic else w == 0.0

    def kernel(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return _matern52(cdist(A, B), kr.length_) + w * _quadratic_features(A) @ _quadratic_features(B).T

    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        mu, sd = kr.mean_, kr.scale_
        K = kernel(X[keep], X[keep]) + kr.ridge_ * np.eye(keep.sum())
        a = np.linalg.solve(K, (y[keep] - mu) / sd)
        pred_i = mu + sd * (kernel(X[i : i + 1], X[keep]) @ a)[0]
        assert res[i] == pytest.approx(y[i] - pred_i, rel=1e-6, abs=1e-8)
        # the local scale: the predictive standard deviation of row i from the other rows, noise included
        k_i = kernel(X[i : i + 1], X[keep])[0]
        var_i = kernel(X[i : i + 1], X[i : i + 1])[0, 0] + kr.ridge_ - k_i @ np.linalg.solve(K, k_i)
        assert kr.row_sd_[i] == pytest.approx(sd * math.sqrt(max(var_i, kr.ridge_)), rel=1e-5)
        # and sd() at a point equals the same formula with every row
        K_all = kernel(X, X) + kr.ridge_ * np.eye(len(y))
        k_all = kernel(X[i : i + 1] + 0.01, X)[0]
        var = (
            kernel(X[i : i + 1] + 0.01, X[i : i + 1] + 0.01)[0, 0]
            + kr.ridge_
            - k_all @ np.linalg.solve(K_all, k_all)
        )
        assert kr.sd(X[i : i + 1] + 0.01)[0] == pytest.approx(sd * math.sqrt(max(var, kr.ridge_)), rel=1e-5)
    if not quadratic:
        far = kr.predict(np.full((1, 3), 50.0))  # far from every row: the mean of y
        assert far[0] == pytest.approx(kr.mean_)


def test_kernel_base_quadratic_term_carries_a_valley_between_sparse_rows():
    """On a valley sampled sparsely (12 points in 4-D) the leave-one-out error picks a non-zero quadratic weight, and
    the initial estimate then ranks fresh points better than the Matérn kernel alone."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    centre = np.array([0.3, 0.6, 0.5, 0.7])

    def f(X: np.ndarray) -> np.ndarray:
        return ((X - centre) ** 2 * np.array([4.0, 1.0, 2.0, 0.5])).sum(1)

    X = rng.random((12, 4))
    Q = rng.random((400, 4))
    quad = _KernelRidge(max_rows=256, quadratic=True)
    quad.fit(X, f(X), np.random.default_rng(0))
    plain = _KernelRidge(max_rows=256, quadratic=False)
    plain.fit(X, f(X), np.random.default_rng(0))
    assert quad.quadratic_weight_ > 0.0
    rho_quad = spearmanr(quad.predict(Q), f(Q))[0]
    rho_plain = spearmanr(plain.predict(Q), f(Q))[0]
    assert rho_quad > rho_plain + 0.05, (rho_quad, rho_plain)


def test_kernel_base_subsample_keeps_the_best_half_and_is_seeded():
    rng = np.random.default_rng(22)
    X = rng.random((40, 2))
    y = X.sum(axis=1)
    a = _KernelRidge(max_rows=10)
    res = a.fit(X, y, np.random.default_rng(3))
    assert a.X_.shape == (10, 2)
    best5 = X[np.argsort(y)[:5]]
    assert all(any(np.array_equal(b, r) for r in a.X_) for b in best5)
    # rows left out of the subsample are out of sample already: plain residual and predictive sd
    out = ~np.array([any(np.array_equal(x, r) for r in a.X_) for x in X])
    assert out.sum() == 30
    np.testing.assert_allclose(res[out], y[out] - a.predict(X[out]))
    np.testing.assert_allclose(a.row_sd_[out], a.sd(X[out]))
    assert np.all(a.row_sd_ > 0.0)
    b = _KernelRidge(max_rows=10)
    np.testing.assert_array_equal(res, b.fit(X, y, np.random.default_rng(3)))
    m = CQRSurrogate(base_max_rows=10, seed=1).fit(X, y)
    assert m.base_.X_.shape == (10, 2)


def test_kernel_base_gives_the_quantiles_a_slope_between_the_data():
    """On a smooth function the constant-base trees are flat over whole boxes; with the kernel base the median
    follows the function between the observations (here a line through 12 points of x_0 + x_1)."""
    rng = np.random.default_rng(23)
    X = rng.random((12, 2))
    y = X[:, 0] + X[:, 1]
    line = np.column_stack([np.linspace(0.2, 0.8, 50), np.full(50, 0.5)])
    kernel = CQRSurrogate(seed=0).fit(X, y)
    const = CQRSurrogate(seed=0, base="constant").fit(X, y)
    assert kernel.base_ is not None and const.base_ is None
    med_k = kernel.posterior(line).mean
    med_c = const.posterior(line).mean
    assert len(np.unique(np.round(med_c, 9))) < 10  # a few steps
    assert np.corrcoef(med_k, line[:, 0])[0, 1] > 0.95
    assert np.mean(np.diff(med_k) > 0) > 0.9


def test_small_studies_use_a_constant_base():
    X, y = _hetero(4, np.random.default_rng(24))
    assert CQRSurrogate(seed=0).fit(X, y).base_ is None  # fewer than min_samples_for_base rows
    assert CQRSurrogate(seed=0).fit(*_hetero(5, np.random.default_rng(24))).base_ is not None
