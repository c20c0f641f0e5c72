"""GO-UCB acquisition: the index, its schedule and trust region, optimization, and every entry point."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from acquisition import DEFAULT_ACQUISITION, make_acquisition
from acquisition.goucb import GOUCB, beta_schedule, trust_region
from acquisition.optimize import optimize_acquisition
from hpo.space import Categorical, Float, Int, SearchSpace
from surrogates.goucb import GOUCBSurrogate

SMALL = {"hidden": (8, 8), "n_ensemble": 2, "max_epochs": 200, "min_epochs": 50, "patience": 50}


def _model(n: int = 25, d: int = 3, **kw) -> tuple[GOUCBSurrogate, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    y = ((X - 0.3) ** 2).sum(1)
    return GOUCBSurrogate(seed=0, **{**SMALL, **kw}).fit(X, y), X, y


def test_beta_schedule() -> None:
    assert beta_schedule(2.0, 10) == pytest.approx(2.0)
    assert beta_schedule(1.0, 100) == pytest.approx(math.log(101) / math.log(11))
    assert beta_schedule(1.0, 0) == 0.0
    with pytest.raises(ValueError, match="beta"):
        beta_schedule(-1.0, 5)


def test_index_is_optimistic_value_of_the_posterior() -> None:
    model, X, y = _model()
    acq = make_acquisition("goucb", model, y, np.random.default_rng(0), goucb_trust_region=False)
    assert isinstance(acq, GOUCB) and acq.differentiable
    assert DEFAULT_ACQUISITION["goucb"] == "goucb"
    Xq = np.random.default_rng(1).random((6, 3))
    post = model.posterior(Xq)
    beta = beta_schedule(1.0, len(y))
    np.testing.assert_allclose(acq(Xq), -post.lower(beta), rtol=1e-10)


def test_gradient_in_x_through_the_network() -> None:
    model, X, y = _model()
    acq = make_acquisition("goucb", model, y, np.random.default_rng(0), goucb_trust_region=False)
    x = np.random.default_rng(2).random((2, 3))
    v, g = acq.value_and_grad(x)
    eps = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = eps
        fd = (acq(x + e) - acq(x - e)) / (2 * eps)
        np.testing.assert_allclose(g[:, j], fd, rtol=1e-4, atol=1e-6)


def test_trust_region_replays_turbo_counters() -> None:
    X = np.random.default_rng(0).random((40, 8))
    X[:, 7] = np.arange(40) % 2  # a 0/1 column stays free
    improving = np.linspace(10.0, 0.0, 40)
    centre, length, free = trust_region(X, improving)
    assert length == 1.6 and np.array_equal(centre, X[-1])
    assert free.tolist() == [False] * 7 + [True]
    stuck = np.concatenate([np.linspace(10.0, 0.0, 10), np.full(20, 5.0)])
    _, length, _ = trust_region(X[:30], stuck)
    assert length == 0.8 / 2**5  # halved after every 4 failures
    _, length, _ = trust_region(np.tile(X, (2, 1)), np.concatenate([stuck, np.full(50, 5.0)]))
    assert length == 0.8 / 2**3  # below 2^-7 it restarted at 0.8
    # the failure tolerance is max(4, d / 10): 4 in 40-D, 10 in 100-D
    for d, tol in ((40, 4), (100, 10)):
        Xd = np.random.default_rng(1).random((30, d))
        _, length, _ = trust_region(Xd, stuck)
        assert length == 0.8 / 2 ** (20 // tol)


def test_optimizer_stays_in_trust_region_on_mixed_space() -> None:
    space = SearchSpace(
        {"a": Float(0.0, 1.0), "b": Float(1e-3, 1.0, log=True), "k": Int(1, 5), "c": Categorical(["x", "y"])}
    )
    rng = np.random.default_rng(0)
    X = space.sample(30, rng)
    X = space.round_encoded(X)
    y = (X[:, 0] - 0.7) ** 2 + X[:, 1] + 0.1 * X[:, 3]
    model = GOUCBSurrogate(seed=0, **SMALL).fit(X, y)
    acq = make_acquisition("goucb", model, y, rng)
    centre, length, free = acq.region
    x, value = optimize_acquisition(
        acq, space, rng, n_raw=256, n_restarts=4, incumbents=X[np.argsort(y)[:3]], exclude=X
    )
    assert np.all(np.isfinite(x)) and math.isfinite(value)
    assert np.array_equal(space.round_encoded(x[None]), x[None])  # admissible
    assert np.all(np.abs(x - centre)[~free] <= 0.5 * length + 0.05)
    assert free[3:].all()  # the one-hot block is free


def test_own_optimizer_searches_inside_the_trust_region_box() -> None:
    """GOUCB.optimize keeps continuous columns within the box (as bounds, not only a penalty), returns admissible
    points, is a pure function of the rng, and is not beaten by a dense random search of the same box."""
    space = SearchSpace(
        {"a": Float(0.0, 1.0), "b": Float(1e-3, 1.0, log=True), "k": Int(1, 5), "c": Categorical(["x", "y"])}
    )
    rng = np.random.default_rng(1)
    X = space.round_encoded(space.sample(30, rng))
    y = (X[:, 0] - 0.7) ** 2 + X[:, 1] + 0.1 * X[:, 3]
    model = GOUCBSurrogate(seed=0, **SMALL).fit(X, y)
    acq = make_acquisition("goucb", model, y, rng, goucb_n_raw=128, goucb_n_restarts=3)
    assert (acq.n_raw, acq.n_restarts, acq.maxiter) == (128, 3, 50)
    centre, length, free = acq.region
    lo, hi = acq.box(space.dim)
    assert np.all(lo[free] == 0.0) and np.all(hi[free] == 1.0)
    np.testing.assert_allclose(lo[~free], np.maximum(centre - length / 2, 0.0)[~free])
    np.testing.assert_allclose(hi[~free], np.minimum(centre + length / 2, 1.0)[~free])
    inc = X[np.argsort(y)[:3]]
    x, value = acq.optimize(space, np.random.default_rng(5), incumbents=inc, exclude=X)
    x2, value2 = acq.optimize(space, np.random.default_rng(5), incumbents=inc, exclude=X)
    assert np.array_equal(x, x2) and value == value2
    assert np.array_equal(space.round_encoded(x[None]), x[None])
    cont = space.continuous_mask
    assert np.all(x[cont] >= lo[cont] - 1e-12) and np.all(x[cont] <= hi[cont] + 1e-12)
    assert value == pytest.approx(float(acq(x[None])[0]))
    dense = space.round_encoded(lo + (hi - lo) * np.random.default_rng(9).random((4000, space.dim)))
    assert value >= float(np.max(acq(dense))) - 1e-6


def test_own_optimizer_without_region_is_the_shared_optimizer() -> None:
    model, X, y = _model()
    space = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(3)})
    acq = make_acquisition("goucb", model, y, np.random.default_rng(0), goucb_trust_region=False)
    assert acq.region is None
    x, v = acq.optimize(space, np.random.default_rng(3), incumbents=X[:2], exclude=X)
    x_ref, v_ref = optimize_acquisition(
        acq,
        space,
        np.random.default_rng(3),
        n_raw=acq.n_raw,
        n_restarts=acq.n_restarts,
        incumbents=X[:2],
        exclude=X,
        maxiter=acq.maxiter,
    )
    np.testing.assert_array_equal(x, x_ref)
    assert v == v_ref


def test_bad_optimizer_budgets_are_named() -> None:
    model, _, y = _model()
    for name in ("n_raw", "n_restarts", "maxiter"):
        with pytest.raises(ValueError, match=name):
            GOUCB(model, beta=1.0, **{name: 0})


# ------------------------------------------------------------------ entry points
def _objective(params: dict) -> float:
    return (
        (params["x"] - 0.3) ** 2
        + (math.log10(params["lr"]) + 2.0) ** 2 / 4.0
        + 0.1 * params["n"]
        + (0.0 if params["act"] == "relu" else 0.2)
    )


SPACE = {
    "x": Float(0.0, 1.0),
    "lr": Float(1e-4, 1.0, log=True),
    "n": Int(1, 4),
    "act": Categorical(["relu", "tanh"]),
}


def test_ask_tell_study_is_seeded(tmp_path) -> None:
    import hpo

    runs = []
    for name in ("a", "b"):
        study = hpo.create_study(
            space=SPACE,
            storage=f"sqlite:///{tmp_path}/{name}.db",
            surrogate="goucb",
            seed=3,
            n_startup_trials=3,
        )
        study.optimize(_objective, n_trials=5, show_progress_bar=False)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]
    assert len({tuple(sorted(p.items())) for p in runs[0]}) == 5


def test_optuna_sampler_is_seeded_and_handles_pending_trials() -> None:
    from integrations.optuna import HPOSampler

    def run(seed: int) -> list[dict]:
        study = optuna.create_study(sampler=HPOSampler(surrogate="goucb", seed=seed, n_startup_trials=3))
        study.optimize(
            lambda t: _objective({k: getattr(t, "suggest_" + s)(k, *a, **kw) for k, s, a, kw in SUGGEST}),
            n_trials=4,
        )
        # two trials asked before either is told: the pending one must not be proposed again
        t1, t2 = study.ask(), study.ask()
        for t in (t1, t2):
            for k, s, a, kw in SUGGEST:
                getattr(t, "suggest_" + s)(k, *a, **kw)
        assert t1.params != t2.params
        return [t.params for t in study.get_trials()]

    assert run(1) == run(1)


SUGGEST = [
    ("x", "float", (0.0, 1.0), {}),
    ("lr", "float", (1e-4, 1.0), {"log": True}),
    ("n", "int", (1, 4), {}),
    ("act", "categorical", (["relu", "tanh"],), {}),
]


def test_cli_yaml_accepts_goucb(tmp_path) -> None:
    from hpo.cli import load_config

    path = tmp_path / "study.yaml"
    path.write_text(
        "objective: mymod:f\nspace:\n  x: {type: float, low: 0, high: 1}\nsurrogate: goucb\nbudget:\n  n_trials: 5\n"
    )
    assert load_config(path).surrogate == "goucb"


def test_config_constraints_and_pending_trials_with_goucb_models() -> None:
    """CONFIG fits one GO-UCB model per constraint and reads their bounds; pending points get fantasies."""
    from hpo.history import Dataset
    from hpo.scheduler import Proposer

    space = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
    rng = np.random.default_rng(0)
    X = rng.random((12, 2))
    y = ((X - 0.5) ** 2).sum(1)
    G = X[:, :1] - 0.6  # feasible iff a <= 0.6
    data = Dataset(X=X, Y=y[:, None], G=G, constraint_names=("c",), X_pending=np.full((1, 2), 0.55))
    proposer = Proposer(surrogate="goucb", n_startup_trials=5, n_raw=128, n_restarts=2)
    cfg, info = proposer.propose_with_info(data, space, seed=0, trial_number=12)
    assert set(cfg) == {"a", "b"} and info["declared_infeasible"] is False
