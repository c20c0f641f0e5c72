from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogates.base import NotFittedError
from surrogates.gp import GPSurrogate


def _data(n=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2]
    return X, y


def test_unfitted_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        GPSurrogate().posterior(np.zeros((1, 2)))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="2-D"):
        GPSurrogate().fit(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        GPSurrogate().fit(np.zeros((2, 1)), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="rows"):
        GPSurrogate().fit(np.zeros((2, 1)), np.zeros(3))


def test_interpolates_and_predicts_held_out_points():
    X, y = _data(60)
    gp = GPSurrogate().fit(X, y)
    post = gp.posterior(X)
    assert post.mean.shape == (60,) and post.std.shape == (60,)
    assert np.max(np.abs(post.mean - y)) < 0.05
    Xt, yt = _data(200, seed=1)
    err = np.sqrt(np.mean((gp.posterior(Xt).mean - yt) ** 2))
    assert err < 0.15 * np.std(yt)


def test_fit_is_deterministic():
    X, y = _data()
    a = GPSurrogate().fit(X, y).posterior(X[:5])
    b = GPSurrogate().fit(X, y).posterior(X[:5])
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)


def test_posterior_matches_gpytorch_exact_gp_with_same_hyperparameters():
    """Our Cholesky posterior is the textbook one: check it against gpytorch's ExactGP."""
    import gpytorch

    X, y = _data(25)
    gp = GPSurrogate().fit(X, y)
    z = (y - gp.y_mean_) / gp.y_std_
    Xt = torch.as_tensor(X)
    zt = torch.as_tensor(z)

    class M(gpytorch.models.ExactGP):
        def __init__(self, lik):
            super().__init__(Xt, zt, lik)
            self.mean_module = gpytorch.means.ZeroMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=3)
            )

        def forward(self, x):
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))

    lik = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=gpytorch.constraints.GreaterThan(1e-10))
    m = M(lik).double()
    m.covar_module.base_kernel.lengthscale = torch.as_tensor(gp.lengthscale_)
    m.covar_module.outputscale = gp.signal_
    lik.noise = gp.noise_
    m.eval()
    lik.eval()
    Xq = np.random.default_rng(5).random((40, 3))
    with torch.no_grad(), gpytorch.settings.fast_computations(False, False, False):
        f = m(torch.as_tensor(Xq))
        ref_mean = f.mean.numpy() * gp.y_std_ + gp.y_mean_
        ref_std = f.variance.clamp_min(1e-12).sqrt().numpy() * gp.y_std_
    post = gp.posterior(Xq)
    np.testing.assert_allclose(post.mean, ref_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(post.std, ref_std, rtol=1e-4, atol=1e-6)


def test_fantasies_shrink_uncertainty_without_refitting():
    X, y = _data(20)
    gp = GPSurrogate().fit(X, y)
    xp = np.array([[0.5, 0.5, 0.5]])
    before = gp.posterior(xp)
    fan = gp.with_fantasies(xp, before.mean)
    after = fan.posterior(xp)
    assert after.std[0] < 0.5 * before.std[0]
    assert after.mean[0] == pytest.approx(before.mean[0], abs=1e-6)
    np.testing.assert_array_equal(fan.lengthscale_, gp.lengthscale_)


def test_constant_targets_do_not_break_the_fit():
    X = np.random.default_rng(0).random((8, 2))
    post = GPSurrogate().fit(X, np.ones(8)).posterior(X)
    assert np.all(np.isfinite(post.mean)) and np.all(np.isfinite(post.std))


def test_quantiles_are_ordered():
    X, y = _data(15)
    post = GPSurrogate().fit(X, y).posterior(X)
    assert np.all(post.quantile(0.1) <= post.quantile(0.5))
    assert np.all(post.quantile(0.5) <= post.quantile(0.9))
    s = post.sample(3, np.random.default_rng(0))
    assert s.shape == (3, 15)


def test_prior_options_are_validated_and_change_the_fit():
    X, y = _data(20)
    a = GPSurrogate().fit(X, y)
    b = GPSurrogate(lengthscale_prior="dim-scaled", noise_prior=(-4.0, 1.0)).fit(X, y)
    assert not np.allclose(a.lengthscale_, b.lengthscale_)
    with pytest.raises(ValueError, match="lengthscale_prior='wide'"):
        GPSurrogate(lengthscale_prior="wide").fit(X, y)
    from surrogates import make_surrogate

    with pytest.raises(ValueError, match="surrogate_options"):
        make_surrogate("gp", bogus=1)
