from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

import hpo
from acquisition.ei import LogEI, log_h
from acquisition.optimize import optimize_acquisition
from acquisition.ucb import UCB
from hpo.space import SearchSpace


def test_log_h_matches_direct_formula_where_it_is_representable():
    z = np.linspace(-30, 5, 500)
    direct = np.log(norm.pdf(z) + z * norm.cdf(z))
    ours = log_h(torch.as_tensor(z)).numpy()
    ok = np.isfinite(direct)
    np.testing.assert_allclose(ours[ok], direct[ok], rtol=1e-6, atol=1e-9)


def test_log_h_is_finite_and_monotone_far_in_the_tail():
    z = torch.as_tensor(-np.logspace(0, 8, 200)[::-1].copy())
    v = log_h(z).numpy()
    assert np.all(np.isfinite(v))
    assert np.all(np.diff(v) > 0)
    zz = torch.tensor([-50.0, -1e5], requires_grad=True)
    log_h(zz).sum().backward()
    assert torch.all(torch.isfinite(zz.grad))


class _Quadratic:
    """A fake Gaussian model: mean = distance to a target point, constant std."""

    def __init__(self, target):
        self.target = torch.as_tensor(target)

    def predict_torch(self, X):
        m = ((X - self.target) ** 2).sum(-1)
        return m, torch.full_like(m, 0.1)


def test_logei_prefers_low_mean_and_ucb_prefers_high_std():
    model = _Quadratic([0.2, 0.8])
    acq = LogEI(model, best_f=0.5)
    v = acq(np.array([[0.2, 0.8], [0.9, 0.1]]))
    assert v[0] > v[1]
    u = UCB(model, beta=4.0)
    assert u(np.array([[0.2, 0.8]]))[0] == pytest.approx(-(0.0 - 2 * 0.1))
    with pytest.raises(ValueError, match="beta"):
        UCB(model, beta=-1.0)


def test_optimizer_finds_the_optimum_in_a_mixed_space():
    space = SearchSpace(
        {
            "x": hpo.Float(0, 1),
            "k": hpo.Int(0, 10),
            "c": hpo.Categorical(["a", "b", "c"]),
            "lr": hpo.Float(1e-4, 1, log=True),
        }
    )
    target = space.encode([{"x": 0.37, "k": 7, "c": "c", "lr": 1e-2}])[0]
    acq = UCB(_Quadratic(target), beta=0.0)
    x, val = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=256)
    cfg = space.decode(x[None])[0]
    assert cfg["k"] == 7 and cfg["c"] == "c"
    assert cfg["x"] == pytest.approx(0.37, abs=1e-4)
    assert math.log10(cfg["lr"]) == pytest.approx(-2, abs=1e-3)


def test_optimizer_avoids_excluded_points_in_discrete_spaces():
    space = SearchSpace({"k": hpo.Int(0, 3)})
    target = space.encode([{"k": 2}])[0]
    acq = UCB(_Quadratic(target), beta=0.0)
    x, _ = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=16, exclude=target[None])
    assert space.decode(x[None])[0]["k"] in (1, 3)


def test_optimizer_is_a_pure_function_of_the_rng():
    space = SearchSpace({"x": hpo.Float(0, 1), "y": hpo.Float(0, 1)})
    acq = UCB(_Quadratic([0.3, 0.6]), beta=0.0)
    a, _ = optimize_acquisition(acq, space, np.random.default_rng(3))
    b, _ = optimize_acquisition(acq, space, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_constrained_log_ei_is_log_ei_plus_log_probability_of_feasibility():
    from acquisition.ei import ConstrainedLogEI
    from surrogates.gp import GPSurrogate

    rng = np.random.default_rng(3)
    X = rng.random((15, 2))
    f = GPSurrogate().fit(X, np.sin(3 * X[:, 0]) + X[:, 1])
    g = GPSurrogate(center=False).fit(X, X[:, 0] + X[:, 1] - 1.0)
    acq = ConstrainedLogEI(f, [g], best_f=0.5)
    P = rng.random((40, 2))
    pf, pg = f.posterior(P), g.posterior(P)
    z = (0.5 - pf.mean) / pf.std
    with np.errstate(divide="ignore"):  # EI underflows to 0 far from the incumbent; those points are skipped
        want = np.log(pf.std * (norm.pdf(z) + z * norm.cdf(z))) + norm.logcdf(-pg.mean / pg.std)
    ok = np.isfinite(want)
    np.testing.assert_allclose(acq(P)[ok], want[ok], rtol=1e-5, atol=1e-6)
    space = SearchSpace({"a": hpo.Float(0, 1), "b": hpo.Float(0, 1)})
    x, _ = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=128)
    assert g.posterior(x[None, :]).mean[0] < 0.3  # the chosen point is likely feasible


def test_believed_values_of_pending_trials_count_for_the_incumbent():
    from acquisition.ei import from_model

    model = _Quadratic([0.3, 0.6])
    rng = np.random.default_rng(0)
    assert from_model(model, np.array([0.5, 0.2]), rng).best_f == 0.2
    assert from_model(model, np.array([0.5, 0.2]), rng, y_pending=np.array([0.1, 0.4])).best_f == 0.1
    assert from_model(model, np.array([0.5, 0.2]), rng, y_pending=np.zeros(0)).best_f == 0.2


def test_scheduler_passes_the_believed_values_of_pending_trials(monkeypatch):
    import acquisition
    from hpo.history import Dataset
    from hpo.scheduler import Proposer

    seen = []
    original = acquisition.make_acquisition

    def spy(name, model, y, rng, **options):
        seen.append(options.get("y_pending"))
        return original(name, model, y, rng, **options)

    monkeypatch.setattr(acquisition, "make_acquisition", spy)
    rng = np.random.default_rng(1)
    X = rng.random((12, 2))
    pending = np.array([[0.3, 0.6], [0.7, 0.2]])
    data = Dataset(
        X=X, Y=((X - 0.3) ** 2).sum(1)[:, None], G=np.zeros((12, 0)), constraint_names=(), X_pending=pending
    )
    space = SearchSpace({"a": hpo.Float(0, 1), "b": hpo.Float(0, 1)})
    Proposer().propose(data, space, seed=0, trial_number=14)
    Proposer(pending_incumbent=False).propose(data, space, seed=0, trial_number=14)
    assert seen[0] is not None and seen[0].shape == (2,)
    assert seen[1] is None
