"""CONFIG acquisition on toy posteriors with known answers, and the infeasibility declaration."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest

import hpo
from acquisition.config import INFEASIBLE_OFFSET, ConfigAcquisition, is_declaration
from acquisition.optimize import optimize_acquisition
from hpo.space import SearchSpace
from integrations.optuna import DECLARED_KEY, HPOSampler
from surrogates.base import GaussianPosterior


class _Toy:
    """A known posterior: mean(x) = fn(x), std = s everywhere."""

    def __init__(self, fn, s=0.1):
        self.fn, self.s = fn, s

    def posterior(self, X):
        m = self.fn(np.asarray(X))
        return GaussianPosterior(m, np.full_like(m, self.s))


def test_lcb_feasible_set_and_objective_on_a_toy_posterior():
    # objective mean x0 (minimize), constraint mean 0.5 - x0 with std 0.1, beta 9 -> LCB_g = 0.2 - x0 <= 0
    obj = _Toy(lambda X: X[:, 0])
    con = _Toy(lambda X: 0.5 - X[:, 0])
    acq = ConfigAcquisition(obj, [con], beta=9.0)
    X = np.array([[0.1], [0.19], [0.21], [0.9]])
    v = acq(X)
    assert v[0] < -INFEASIBLE_OFFSET and v[1] < -INFEASIBLE_OFFSET  # optimistically infeasible
    assert v[2] == pytest.approx(-(0.21 - 3 * 0.1))
    assert v[2] > v[3]  # among feasible points: lowest objective LCB wins
    assert v[0] < v[1]  # among infeasible points: least violation wins
    space = SearchSpace({"x": hpo.Float(0, 1)})
    x, best = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=64)
    assert x[0] == pytest.approx(0.2, abs=2e-3)  # the boundary of the optimistic feasible set
    assert not is_declaration(best)


def test_no_feasible_point_returns_least_violation_not_unconstrained_optimum():
    obj = _Toy(lambda X: X[:, 0])  # unconstrained optimum at x = 0
    con = _Toy(lambda X: 1.0 + (X[:, 0] - 0.7) ** 2)  # never feasible, least violated at x = 0.7
    acq = ConfigAcquisition(obj, [con], beta=1.0)
    space = SearchSpace({"x": hpo.Float(0, 1)})
    x, best = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=64)
    assert is_declaration(best)
    assert x[0] == pytest.approx(0.7, abs=0.02)


def test_bad_beta_is_named():
    with pytest.raises(ValueError, match="beta=-1"):
        ConfigAcquisition(_Toy(lambda X: X[:, 0]), [_Toy(lambda X: X[:, 0])], beta=-1)
    with pytest.raises(ValueError, match="at least one constraint"):
        ConfigAcquisition(_Toy(lambda X: X[:, 0]), [])


def _feasible(trial):
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_float("y", 0, 1)
    trial.set_constraint("g", 1.2 - x - y)
    return (x - 0.2) ** 2 + (y - 0.3) ** 2


def _infeasible(trial):
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_float("y", 0, 1)
    trial.set_constraint("g", 0.3 + (x - 0.5) ** 2 + 0 * y)
    return x + y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feasible_problem_is_not_declared_infeasible_and_is_solved(seed):
    s = optuna.create_study(sampler=HPOSampler(seed=seed, n_startup_trials=6))
    s.optimize(_feasible, n_trials=20)
    assert not s.user_attrs.get(DECLARED_KEY, False)
    # CONFIG approaches the constrained optimum (0.55, 0.65), value 0.245, from the optimistic side: the last
    # proposals are near it with a small violation
    last = s.trials[-1]
    assert abs(last.params["x"] - 0.55) < 0.05 and abs(last.params["y"] - 0.65) < 0.05
    assert abs(last.value - 0.245) < 0.02
    assert last.constraints["g"] < 0.02


def test_infeasible_problem_is_declared_within_a_bounded_number_of_trials():
    s = optuna.create_study(sampler=HPOSampler(seed=0, n_startup_trials=6))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s.optimize(_infeasible, n_trials=16)
    assert s.user_attrs.get(DECLARED_KEY) is True
    assert sum("declares the constrained problem infeasible" in str(x.message) for x in w) == 1
    tail = [t.params["x"] for t in s.trials[-4:]]
    assert np.allclose(tail, 0.5, atol=0.1)  # keeps proposing the least optimistic violation


def test_hpo_study_declares_and_reports_it(tmp_path):
    study = hpo.create_study(
        space={"x": hpo.Float(0, 1)},
        storage=f"sqlite:///{tmp_path / 'c.db'}",
        study_name="inf",
        seed=0,
        n_startup_trials=5,
        constraints=["g"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(
            lambda p: {"value": p["x"], "constraints": {"g": 0.5 + p["x"] ** 2}},
            n_trials=12,
            show_progress_bar=False,
        )
    assert study.declared_infeasible is True
    assert optuna.load_study(study_name="inf", storage=f"sqlite:///{tmp_path / 'c.db'}").user_attrs[
        DECLARED_KEY
    ]
    with pytest.raises(ValueError, match="no feasible trial"):
        _ = study.best_trial


def test_constraint_names_are_checked(tmp_path):
    study = hpo.create_study(
        space={"x": hpo.Float(0, 1)}, storage=f"sqlite:///{tmp_path / 'n.db'}", constraints=["mem", "time"]
    )
    t = study.ask()
    with pytest.raises(ValueError, match=r"\['typo'\] for trial 0 are not declared"):
        study.tell(t, 1.0, constraints={"mem": 0.0, "time": 0.0, "typo": 1.0})
    with pytest.raises(ValueError, match=r"missing for \['time'\]"):
        study.tell(t, 1.0, constraints={"mem": 0.0})
    study.tell(t, 1.0, constraints={"mem": 0.0, "time": -1.0})
    assert study.trials[0].constraints == {"mem": 0.0, "time": -1.0}
    # the optimize loop turns a missing constraint into a failed trial with its reason, and goes on
    study.optimize(
        lambda p: {"value": p["x"], "constraints": {"mem": 0.0}}, n_trials=1, show_progress_bar=False
    )
    last = study.trials[-1]
    assert last.state == optuna.trial.TrialState.FAIL and "missing" in last.system_attrs["hpo:fail_reason"]


def test_first_tell_declares_the_names_and_nan_fails(tmp_path):
    study = hpo.create_study(space={"x": hpo.Float(0, 1)}, storage=f"sqlite:///{tmp_path / 'f.db'}")
    study.tell(study.ask(), 1.0, constraints={"a": -1.0})
    with pytest.raises(ValueError, match="not declared"):
        study.tell(study.ask(), 1.0, constraints={"b": -1.0})
    t = study.ask()
    study.tell(t, 1.0, constraints={"a": float("nan")})
    assert study.trials[t.number].state == optuna.trial.TrialState.FAIL


def test_constraints_func_is_supported_and_stored_in_optunas_format():
    with pytest.warns(FutureWarning, match="set_constraint"):
        sampler = HPOSampler(seed=0, n_startup_trials=4, constraints_func=lambda t: [t.params["x"] - 0.5])
    s = optuna.create_study(sampler=sampler)
    s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=8)
    for t in s.trials:
        assert t.constraints == {"0": pytest.approx(t.params["x"] - 0.5)}
    assert min(t.params["x"] for t in s.trials[4:]) <= 0.5  # feasible region explored


def test_constraints_through_ask_tell_and_back_through_load_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    study = hpo.create_study(space={"x": hpo.Float(0, 1)}, storage=url, study_name="rt", seed=0)
    for _ in range(8):
        t = study.ask()
        study.tell(t, t.params["x"], constraints={"g": 0.3 - t.params["x"]})
    loaded = optuna.load_study(study_name="rt", storage=url)
    for a, b in zip(study.trials, loaded.trials, strict=True):
        assert a.constraints == b.constraints
    assert study.best_value >= 0.3
    feasible = [t for t in loaded.trials if t.constraints["g"] <= 0]
    assert study.best_value == min(t.value for t in feasible)


def _needle(trial):
    """Feasible only in a narrow bump; the constraint sits near +0.95 almost everywhere (a false-declaration trap
    for a mean-centred constraint model)."""
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_float("y", 0, 1)
    bump = 1.2 * np.exp(-((x - 0.83) ** 2 + (y - 0.27) ** 2) / 0.002)
    trial.set_constraint("g", 0.95 + 0.05 * np.sin(7 * x) - bump)
    return x + y


@pytest.mark.xfail(
    strict=True,
    reason="known limitation (issue 3 note): a feasible bump far narrower than the constraint GP's lengthscale is "
    "invisible to the model, and CONFIG's declaration is only as good as the model's confidence bounds",
)
@pytest.mark.parametrize("seed", [0, 1])
def test_narrow_feasible_region_is_not_declared_infeasible(seed):
    s = optuna.create_study(sampler=HPOSampler(seed=seed, n_startup_trials=6))
    s.optimize(_needle, n_trials=24)
    assert not s.user_attrs.get(DECLARED_KEY, False)
