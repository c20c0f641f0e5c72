"""Quantile Thompson sampling (acquisition/thompson.py): candidates, choice, duplicates, pending, registry, plugin."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

import hpo
from acquisition import ACQUISITIONS, DEFAULT_ACQUISITION, make_acquisition
from acquisition.thompson import QuantileThompson, candidate_set, refine_quantile
from hpo.space import SearchSpace
from surrogates.base import GaussianPosterior, QuantilePosterior
from surrogates.cqr import CQRSurrogate

MIXED = SearchSpace(
    {
        "lr": hpo.Float(1e-4, 1.0, log=True),
        "units": hpo.Int(1, 8),
        "act": hpo.Categorical(["relu", "tanh", "gelu"]),
        "w": hpo.Float(0.0, 1.0, step=0.25),
    }
)


class _Bowl:
    """A fake model: quantiles of a bowl centred at ``c`` with a fixed band (no fitting, exact answers)."""

    def __init__(self, c: np.ndarray, width: float = 0.1) -> None:
        self.c, self.width = c, width

    def posterior(self, X):
        m = ((np.asarray(X) - self.c) ** 2).sum(1)
        return QuantilePosterior(
            np.array([0.25, 0.5, 0.75]), np.column_stack([m - self.width, m, m + self.width])
        )


def test_registry_lines():
    assert ACQUISITIONS["thompson"] == "acquisition.thompson:from_model"
    assert DEFAULT_ACQUISITION["cqr"] == "thompson"
    acq = make_acquisition("thompson", _Bowl(np.zeros(2)), np.zeros(3), np.random.default_rng(0), beta=4.0)
    assert isinstance(acq, QuantileThompson)  # beta (meant for UCB) is accepted and ignored
    with pytest.raises(ValueError, match="n_random"):
        QuantileThompson(_Bowl(np.zeros(2)), n_random=-1)


def test_candidates_are_admissible_and_concentrate_near_incumbents():
    rng = np.random.default_rng(0)
    inc = MIXED.round_encoded(MIXED.sample(2, np.random.default_rng(1)))
    C = candidate_set(MIXED, rng, incumbents=inc, n_random=300, n_local=300)
    assert C.shape == (600, MIXED.dim)
    np.testing.assert_allclose(MIXED.round_encoded(C), C)  # snapped: ints, steps, one-hot
    d_local = np.min(((C[300:, None, :] - inc[None]) ** 2).sum(-1), axis=1)
    d_rand = np.min(((C[:300, None, :] - inc[None]) ** 2).sum(-1), axis=1)
    assert np.median(d_local) < 0.25 * np.median(d_rand)
    only_random = candidate_set(MIXED, rng, incumbents=None, n_random=50, n_local=300)
    assert only_random.shape == (50, MIXED.dim)


def test_optimize_finds_the_bowl_minimum_in_10d_thanks_to_local_candidates():
    space = SearchSpace({f"x{i}": hpo.Float(0.0, 1.0) for i in range(10)})
    c = np.full(10, 0.37)
    inc = (c + 0.05)[None, :]
    # global_share=0: every proposal gets the local candidates (a global step would ignore the incumbent)
    acq = QuantileThompson(
        _Bowl(c, width=1e-3), n_random=1000, n_local=1000, global_share=0.0, refine_rounds=0
    )
    x, val = acq.optimize(space, np.random.default_rng(0), incumbents=inc, exclude=None)
    assert x.shape == (10,)
    assert ((x - c) ** 2).sum() < ((inc[0] - c) ** 2).sum()  # improved on the incumbent
    blind = QuantileThompson(_Bowl(c, width=1e-3), n_random=2000, n_local=0, refine_rounds=0)
    xb, _ = blind.optimize(space, np.random.default_rng(0), incumbents=None, exclude=None)
    assert ((x - c) ** 2).sum() < ((xb - c) ** 2).sum()  # uniform candidates alone are far off in 10-D


def test_duplicates_of_observed_or_pending_points_are_skipped():
    space = SearchSpace({"a": hpo.Categorical(["x", "y", "z"])})
    model = _Bowl(np.array([1.0, 0.0, 0.0]), width=0.0)  # "x" is best
    acq = QuantileThompson(model, n_random=50, n_local=10)
    ex = space.encode([{"a": "x"}])
    x, _ = acq.optimize(space, np.random.default_rng(0), incumbents=ex, exclude=ex)
    assert space.decode(x[None])[0]["a"] != "x"
    all3 = space.encode([{"a": v} for v in "xyz"])
    x, _ = acq.optimize(
        space, np.random.default_rng(0), incumbents=ex, exclude=all3
    )  # nothing left: any point
    assert space.decode(x[None])[0]["a"] in "xyz"


def test_draws_are_reproducible_and_vary_with_the_generator():
    space = SearchSpace({f"x{i}": hpo.Float(0.0, 1.0) for i in range(3)})
    rng = np.random.default_rng(3)
    X = rng.random((40, 3))
    y = ((X - 0.5) ** 2).sum(1) + 0.05 * rng.standard_normal(40)
    model = CQRSurrogate(seed=0).fit(X, y)
    acq = QuantileThompson(model)
    inc = X[np.argsort(y)[:5]]
    a = acq.optimize(space, np.random.default_rng(10), incumbents=inc, exclude=X)[0]
    b = acq.optimize(space, np.random.default_rng(10), incumbents=inc, exclude=X)[0]
    c = acq.optimize(space, np.random.default_rng(11), incumbents=inc, exclude=X)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(acq(X[:5]), acq(X[:5]))  # __call__: same points, same scores


def test_works_with_a_gaussian_posterior_too():
    class _G:
        def posterior(self, X):
            m = ((np.asarray(X) - 0.2) ** 2).sum(1)
            return GaussianPosterior(m, np.full(len(m), 1e-4))

    space = SearchSpace({"x": hpo.Float(0.0, 1.0)})
    x, _ = QuantileThompson(_G()).optimize(space, np.random.default_rng(0), incumbents=None, exclude=None)
    assert abs(x[0] - 0.2) < 0.02


def test_pending_trials_spread_parallel_proposals():
    """Two workers asking while the other's trial runs get different configurations (fantasies + draws)."""
    space = {"x": hpo.Float(0.0, 1.0), "y": hpo.Float(0.0, 1.0)}
    study = hpo.create_study(
        space=space, storage=optuna.storages.InMemoryStorage(), surrogate="cqr", seed=0, n_startup_trials=5
    )
    for _ in range(12):
        t = study.ask()
        study.tell(t, (t.params["x"] - 0.3) ** 2 + (t.params["y"] - 0.6) ** 2)
    running = [study.ask() for _ in range(4)]
    configs = {tuple(round(v, 9) for v in t.params.values()) for t in running}
    assert len(configs) == 4
    for t in running:
        study.tell(t, 1.0)


def test_hpo_sampler_with_cqr_on_a_mixed_space_is_reproducible():
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        units = trial.suggest_int("units", 1, 8)
        act = trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
        return (np.log10(lr) + 2) ** 2 + (units - 5) ** 2 / 10 + (act != "tanh")

    from integrations.optuna import HPOSampler

    runs = []
    for _ in range(2):
        s = optuna.create_study(sampler=HPOSampler("cqr", seed=5, n_startup_trials=5))
        s.optimize(objective, n_trials=11)
        runs.append([t.params for t in s.trials])
    assert runs[0] == runs[1]
    assert len({tuple(p.items()) for p in runs[0]}) == 11


def test_global_steps_choose_among_uniform_candidates_only():
    """With ``global_share`` a proposal ignores the incumbents with that probability (drawn from the proposal's
    generator): its winner is then one of the uniform candidates, never a perturbation of the incumbent, although
    the incumbent's neighbourhood has the lowest quantiles."""
    space = SearchSpace({f"x{i}": hpo.Float(0.0, 1.0) for i in range(6)})
    c = np.full(6, 0.3)
    inc = (c + 0.01)[None, :]
    local_wins = 0
    for s in range(40):
        x_loc, _ = QuantileThompson(
            _Bowl(c), n_random=200, n_local=200, global_share=0.0, refine_rounds=0
        ).optimize(space, np.random.default_rng(s), incumbents=inc)
        local_wins += np.abs(x_loc - inc[0]).max() < 0.1
        # global_share=1: the candidates are exactly the uniform set the same generator yields without incumbents
        rng = np.random.default_rng(s)
        x_glob, _ = QuantileThompson(
            _Bowl(c), n_random=200, n_local=200, global_share=1.0, refine_rounds=0
        ).optimize(space, rng, incumbents=inc)
        ref = np.random.default_rng(s)
        ref.random()  # the share's coin
        uniform = candidate_set(space, ref, incumbents=None, n_random=200, n_local=200)
        assert np.any(np.all(np.isclose(uniform, x_glob), axis=1))
    assert local_wins == 40  # without global steps the bowl's minimum next to the incumbent always wins
    shares = []
    for share in (0.0, 0.3):
        acq = QuantileThompson(_Bowl(c), n_random=200, n_local=200, global_share=share, refine_rounds=0)
        far = [
            np.abs(acq.optimize(space, np.random.default_rng(s), incumbents=inc)[0] - inc[0]).max() >= 0.1
            for s in range(200)
        ]
        shares.append(np.mean(far))
    assert shares[0] == 0.0 and 0.15 < shares[1] < 0.45
    with pytest.raises(ValueError, match="global_share"):
        QuantileThompson(_Bowl(c), global_share=1.5)


class _Slope:
    """A fake model whose quantiles fall linearly in ``x0`` and quadratically towards 0.4 in the other columns, with
    a band that widens with ``x1`` (so the lowest level and the median disagree about ``x1``)."""

    def posterior(self, X):
        X = np.asarray(X)
        m = -X[:, 0] + ((X[:, 1:] - 0.4) ** 2).sum(1)
        w = 0.5 * X[:, 1]
        return QuantilePosterior(np.array([0.25, 0.5, 0.75]), np.column_stack([m - w, m, m + w]))


def test_refine_moves_to_a_bound_and_lowers_the_drawn_quantile():
    """The refinement follows the drawn quantile function: ``x0`` goes to its upper bound (the slope's end, which a
    random candidate almost never is), and the level decides ``x1``: the median's optimum is 0.4, the lowest level's
    (whose band widens with ``x1``) is further up."""
    space = SearchSpace({f"x{i}": hpo.Float(0.0, 1.0) for i in range(4)})
    x0 = np.array([0.5, 0.5, 0.5, 0.5])
    model = _Slope()
    xm, vm = refine_quantile(model, space, x0, 0.5, np.random.default_rng(0), rounds=30)
    assert xm[0] == 1.0
    assert np.all(np.abs(xm[1:] - 0.4) < 0.06)
    assert vm == pytest.approx(-float(model.posterior(xm[None]).quantile(0.5)[0]))
    assert -vm < float(model.posterior(x0[None]).quantile(0.5)[0])
    xl, _ = refine_quantile(model, space, x0, 0.25, np.random.default_rng(0), rounds=30)
    assert xl[0] == 1.0 and xl[1] > 0.55  # lowest level: -x0 + (x1 - 0.4)^2 - x1 / 2 is smallest at x1 = 0.65
    # no round: the point is returned as given; an excluded improvement is never taken
    x_same, _ = refine_quantile(model, space, x0, 0.5, np.random.default_rng(0), rounds=0)
    np.testing.assert_array_equal(x_same, x0)
    bound = x0.copy()
    bound[0] = 1.0
    x_ex, _ = refine_quantile(model, space, x0, 0.5, np.random.default_rng(0), rounds=1, exclude=bound[None])
    assert not np.array_equal(x_ex, bound)


def test_optimize_refines_the_winner_and_keeps_categoricals():
    space = SearchSpace(
        {"x0": hpo.Float(0.0, 1.0), "x1": hpo.Float(0.0, 1.0), "c": hpo.Categorical(["a", "b"])}
    )
    model = _Slope()
    for s in range(5):
        x0, v0 = QuantileThompson(model, n_random=100, n_local=0, refine_rounds=0).optimize(
            space, np.random.default_rng(s)
        )
        x3, v3 = QuantileThompson(model, n_random=100, n_local=0, refine_rounds=3).optimize(
            space, np.random.default_rng(s)
        )
        assert v3 >= v0  # the same draw's quantile, lowered (or kept)
        np.testing.assert_array_equal(x3[2:], x0[2:])  # the one-hot block is not moved by the refinement
        np.testing.assert_allclose(space.round_encoded(x3[None])[0], x3)
    with pytest.raises(ValueError, match="refine_rounds"):
        QuantileThompson(model, refine_rounds=-1)


def test_refinement_with_a_gaussian_posterior_uses_the_drawn_level():
    class _G:
        def posterior(self, X):
            X = np.asarray(X)
            return GaussianPosterior(-X[:, 0], np.full(len(X), 0.1))

    space = SearchSpace({"x": hpo.Float(0.0, 1.0), "y": hpo.Float(0.0, 1.0)})
    x, v = QuantileThompson(_G(), n_random=20, n_local=0, refine_rounds=3).optimize(
        space, np.random.default_rng(0)
    )
    assert x[0] == 1.0  # the mean falls towards x = 1: the refinement's bound move takes it there
