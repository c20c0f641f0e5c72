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


def test_feasible_side_step_uses_upper_bounds():
    # constraint mean 0.5 - x0, std 0.1: the pessimistic bound at beta 1 is 0.6 - x0 <= 0, so x0 >= 0.6
    obj = _Toy(lambda X: X[:, 0])
    con = _Toy(lambda X: 0.5 - X[:, 0])
    acq = ConfigAcquisition(obj, [con], beta=9.0, objective_beta=0.0).feasible_side(1.0)
    assert acq.pessimistic and acq.beta == 1.0 and acq.objective_beta == 0.0
    v = acq(np.array([[0.55], [0.65]]))
    assert v[0] < -INFEASIBLE_OFFSET and v[1] == pytest.approx(-0.65)
    space = SearchSpace({"x": hpo.Float(0, 1)})
    x, best = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=64)
    assert x[0] == pytest.approx(0.6, abs=2e-3) and not is_declaration(best)


def test_violation_is_summed_in_each_constraints_scale():
    # two never-feasible constraints pulling apart: g1 = 1000 (1 + |x - 0.2|), g2 = 1 + |x - 0.8|
    obj = _Toy(lambda X: 0 * X[:, 0], s=0.0)
    g1 = _Toy(lambda X: 1000.0 * (1.0 + np.abs(X[:, 0] - 0.2)), s=0.0)
    g2 = _Toy(lambda X: 1.0 + 2.0 * np.abs(X[:, 0] - 0.8), s=0.0)
    X = np.array([[0.2], [0.8]])
    raw = ConfigAcquisition(obj, [g1, g2], beta=0.0)(X)
    assert raw[0] > raw[1]  # in raw units the constraint in thousands decides alone
    scaled = ConfigAcquisition(obj, [g1, g2], beta=0.0, scales=[1000.0, 1.0])(X)
    assert scaled[1] > scaled[0]  # in their own scales, |x - 0.8| weighs twice as much
    with pytest.raises(ValueError, match="scales"):
        ConfigAcquisition(obj, [g1, g2], scales=[1.0, 0.0])


def test_warp_keeps_the_sign_and_order_and_is_unit_free():
    from hpo.scheduler import warp_constraint

    g = np.array([-3e4, -2.0, -0.1, 0.0, 0.5, 7.0, 4e6])
    w = warp_constraint(g)
    assert np.array_equal(np.sign(w), np.sign(g)) and np.all(np.diff(w) > 0)
    assert np.allclose(warp_constraint(1e-3 * g), w)  # grams or kilograms: the same model input
    assert np.abs(w).max() < 20  # the 1e6-fold tail is compressed to a few units


def test_feasible_side_settings_are_checked(tmp_path):
    from hpo.scheduler import Proposer

    with pytest.raises(ValueError, match="config_feasible_every=-1"):
        Proposer(config_feasible_every=-1)
    with pytest.raises(ValueError, match="config_feasible_margin=-0.1"):
        Proposer(config_feasible_margin=-0.1)
    with pytest.raises(ValueError, match="config_local_radius=-1"):
        Proposer(config_local_radius=-1)
    with pytest.raises(ValueError, match="config_feasible_rule='ei'"):
        Proposer(config_feasible_rule="ei")
    with pytest.raises(ValueError, match="config_widen=-1"):
        Proposer(config_widen=-1)
    with pytest.raises(ValueError, match="config_feasible_beta=nan"):
        Proposer(config_feasible_beta=float("nan"))
    with pytest.raises(ValueError, match="config_feasible_every=1.5"):
        hpo.create_study(
            space={"x": hpo.Float(0, 1)}, storage=f"sqlite:///{tmp_path}/s.db", config_feasible_every=1.5
        )
    assert HPOSampler(seed=0, config_feasible_every=0)._proposer.config_feasible_every == 0


def test_widened_bounds_reach_further_from_the_data():
    obj = _Toy(lambda X: X[:, 0])
    con = _Toy(lambda X: 0.5 - X[:, 0])
    acq = ConfigAcquisition(obj, [con], beta=1.0, objective_beta=1.0, scales=[2.0])
    wide = acq.widened(4.0)
    assert (wide.beta, wide.objective_beta, wide.scales.tolist()) == (4.0, 4.0, [2.0])
    space = SearchSpace({"x": hpo.Float(0, 1)})
    x1, _ = optimize_acquisition(acq, space, np.random.default_rng(0), n_raw=64)
    x2, _ = optimize_acquisition(wide, space, np.random.default_rng(0), n_raw=64)
    assert x1[0] == pytest.approx(0.4, abs=2e-3) and x2[0] == pytest.approx(0.3, abs=2e-3)


def test_config_step_does_not_repeat_a_known_point():
    """A 7x7 grid with feasibility iff a + b >= 0.75, a linear objective, and feasible trials already run along the
    boundary next to the corner (0, 0.75): at the default betas CONFIG's step lands next to one of them; widening
    the bounds sends it where it can learn."""
    from hpo.history import Dataset
    from hpo.scheduler import Proposer

    grid = np.linspace(0.0, 1.0, 7)
    X = np.array([[a, b] for a in grid for b in grid] + [[t, 0.75 - t] for t in np.linspace(0.0, 0.1, 11)])
    s = X.sum(axis=1)
    g = np.where(s < 0.75 - 1e-9, 0.3, -0.5 * (s - 0.75))
    data = Dataset(X=X, Y=s[:, None], G=g[:, None], constraint_names=("g",), X_pending=np.zeros((0, 2)))
    space = SearchSpace({"a": hpo.Float(0, 1), "b": hpo.Float(0, 1)})
    gaps = []
    for widen in (0, 2):
        p = Proposer(config_widen=widen, config_feasible_every=0)
        x = space.encode([p.propose(data, space, seed=0, trial_number=len(X))])[0]
        gaps.append(np.abs(X - x).max(axis=1).min())
    assert gaps[0] < 0.01 <= gaps[1]


def test_which_trials_take_the_feasible_side_step(monkeypatch):
    from hpo.history import Dataset
    from hpo.scheduler import Proposer

    seen = []

    def record(self, data, space, rng, info, feasible_side=False):
        seen.append(feasible_side)
        return np.full(space.dim, 0.5)

    monkeypatch.setattr(Proposer, "_model_based", record)
    space = SearchSpace({"x": hpo.Float(0, 1)})
    X = np.array([[0.1], [0.6], [0.9]])

    def data(g):
        return Dataset(
            X=X, Y=X.copy(), G=np.array(g)[:, None], constraint_names=("g",), X_pending=np.zeros((0, 1))
        )

    none_feasible, one_feasible = data([1.0, 2.0, 3.0]), data([1.0, -2.0, 3.0])
    every2 = {"n_startup_trials": 2, "config_feasible_every": 2}
    for proposer, d, number in [
        (Proposer(**every2), none_feasible, 4),  # no feasible trial yet: every trial
        (Proposer(**every2), none_feasible, 5),
        (Proposer(**every2), one_feasible, 4),  # then every second trial (by number)
        (Proposer(**every2), one_feasible, 5),
        (Proposer(**every2, config_feasible_first=False), none_feasible, 4),
        (Proposer(n_startup_trials=2, config_feasible_every=0), none_feasible, 5),  # pure CONFIG
        (Proposer(n_startup_trials=2), one_feasible, 4),  # the default: every trial tries it
    ]:
        proposer.propose(d, space, seed=0, trial_number=number)
    assert seen == [True, True, False, True, False, False, True]
    # after a trial that improved the best feasible value (the latest by number), the streak continues
    seen.clear()
    improved, worse = (
        Dataset(
            X=X,
            Y=np.array([[0.5], [0.3], [last]]),
            G=-np.ones((3, 1)),
            constraint_names=("g",),
            X_pending=np.zeros((0, 1)),
            numbers=(0, 1, 3),
        )
        for last in (0.1, 0.9)
    )
    Proposer(**every2).propose(improved, space, seed=0, trial_number=4)
    Proposer(**every2).propose(worse, space, seed=0, trial_number=4)
    Proposer(**every2, config_feasible_streak=False).propose(improved, space, seed=0, trial_number=4)
    assert seen == [True, False, False]


def test_feasible_side_step_must_promise_a_share_of_the_feasible_spread(monkeypatch):
    """Feasible values 1, 2, 3 (spread median - best = 1): at margin 0.05 the safe step must promise an objective
    bound below 0.95; one promising 0.97 gives way to CONFIG's step, one promising 0.9 is taken."""
    from hpo.history import Dataset
    from hpo.scheduler import Proposer

    space = SearchSpace({"x": hpo.Float(0, 1)})
    X = np.array([[0.1], [0.5], [0.9]])
    data = Dataset(
        X=X,
        Y=np.array([[1.0], [2.0], [3.0]]),
        G=-np.ones((3, 1)),
        constraint_names=("g",),
        X_pending=np.zeros((0, 1)),
    )

    def chosen(margin, promise, config_x=0.75, radius=0.1, rule="bounds"):
        def fake_optimize(
            self, acq, space, rng, kwargs
        ):  # safe step 0.25, CONFIG's config_x, constrained EI 0.33
            if not isinstance(acq, ConfigAcquisition):
                return np.array([0.33]), 0.0
            return (np.array([0.25]), -promise) if acq.pessimistic else (np.array([config_x]), -0.5)

        monkeypatch.setattr(Proposer, "_optimize", fake_optimize)
        p = Proposer(
            n_startup_trials=2,
            config_feasible_margin=margin,
            config_local_radius=radius,
            config_feasible_rule=rule,
        )
        return p.propose(data, space, seed=0, trial_number=3)["x"]

    assert chosen(0.0, 0.97) == pytest.approx(0.25)
    assert chosen(0.05, 0.97) == pytest.approx(0.75)
    assert chosen(0.05, 0.90) == pytest.approx(0.25)
    # CONFIG's step next to the best feasible trial (x = 0.1): a small safe improvement refines from inside instead
    assert chosen(0.05, 0.97, config_x=0.15) == pytest.approx(0.25)
    assert chosen(0.05, 0.97, config_x=0.15, radius=0.0) == pytest.approx(0.15)
    assert chosen(0.05, 1.02, config_x=0.15) == pytest.approx(0.15)  # no improvement promised: CONFIG
    # "bounds+cei": the local refinement is a constrained-EI step; "cei": every feasible-side step is one
    assert chosen(0.05, 0.97, config_x=0.15, rule="bounds+cei") == pytest.approx(0.33)
    assert chosen(0.05, 0.97, config_x=0.75, rule="bounds+cei") == pytest.approx(0.75)
    assert chosen(0.05, 0.97, config_x=0.75, rule="cei") == pytest.approx(0.75)  # its LCB misses the margin
    # with "bounds+cei" the refinement next to the incumbent does not need the safe step's promise (upper bounds keep
    # half a standard deviation inside an active constraint, so near convergence they promise nothing)
    assert chosen(0.05, 1.02, config_x=0.15, rule="bounds+cei") == pytest.approx(0.33)
    assert chosen(0.05, 1.02, config_x=0.75, rule="bounds+cei") == pytest.approx(0.75)
    assert chosen(0.05, 1.02, config_x=0.15, rule="bounds+cei", radius=0.0) == pytest.approx(0.15)
    assert Proposer().config_feasible_margin == 0.05 and Proposer().config_local_radius == 0.1
    assert Proposer().config_feasible_rule == "bounds+cei"


def test_prefeasible_beta_applies_only_until_a_feasible_trial(monkeypatch):
    from hpo.history import Dataset
    from hpo.scheduler import Proposer

    space = SearchSpace({"x": hpo.Float(0, 1)})
    X = np.array([[0.1], [0.5], [0.9]])
    betas, boundary = [], []

    def fake_optimize(self, acq, space, rng, kwargs):
        if isinstance(acq, ConfigAcquisition) and acq.pessimistic:
            betas.append(acq.beta)
            boundary.append(kwargs["to_boundary"])
        return np.array([0.3]), -INFEASIBLE_OFFSET * 2  # nothing feasible: the least violation

    monkeypatch.setattr(Proposer, "_optimize", fake_optimize)
    for g in ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0]):
        data = Dataset(
            X=X, Y=X.copy(), G=np.array(g)[:, None], constraint_names=("g",), X_pending=np.zeros((0, 1))
        )
        for mode in ("none", "feasible", "all"):
            Proposer(n_startup_trials=2, config_prefeasible_beta=0.0, config_to_boundary=mode).propose(
                data, space, seed=0, trial_number=3
            )
    assert betas == [0.0] * 3 + [0.25] * 3
    # "feasible": the step is followed to the boundary of its set only once a trial is feasible
    assert boundary == [False, False, True, False, True, True]
    assert Proposer().config_to_boundary == "none"
    assert Proposer().config_prefeasible_beta == 0.0
    with pytest.raises(ValueError, match="config_prefeasible_beta=-1"):
        Proposer(config_prefeasible_beta=-1.0)
    with pytest.raises(ValueError, match="config_to_boundary='edge'"):
        Proposer(config_to_boundary="edge")


def test_optimizer_walks_the_auxiliary_problem_to_an_active_constraint():
    """Minimize x0 + x1 subject to 0.6 - x0 - x1 <= 0: every solution is on the constraint. The proposal must sit
    on it (to solver precision) and on its feasible side, not at the best Sobol candidate a little inside."""
    from surrogates.gp import GPSurrogate

    rng = np.random.default_rng(0)
    X = rng.random((30, 2))
    f = GPSurrogate().fit(X, X[:, 0] + X[:, 1])
    g = GPSurrogate(center=False).fit(X, 0.6 - X[:, 0] - X[:, 1])
    acq = ConfigAcquisition(f, [g], beta=0.0, objective_beta=0.0)
    assert acq.torch_constrained is not None
    space = SearchSpace({"a": hpo.Float(0, 1), "b": hpo.Float(0, 1)})
    x, value = optimize_acquisition(acq, space, np.random.default_rng(1), n_raw=256)
    gx = g.posterior(x[None, :]).mean[0]
    assert -1e-6 <= gx <= 0.0
    assert value == pytest.approx(-f.posterior(x[None, :]).mean[0])
    assert x.sum() == pytest.approx(0.6, abs=1e-3)


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
    # the constrained optimum is (0.55, 0.65), value 0.245, on the constraint's boundary: CONFIG approaches it from
    # the optimistic side, the feasible-side steps from inside; the best feasible trial ends next to it
    best = s.best_trial
    assert best.constraints["g"] <= 0 and best.value < 0.25
    assert abs(best.params["x"] - 0.55) < 0.03 and abs(best.params["y"] - 0.65) < 0.03


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


def test_objective_warp_keeps_the_order_and_compresses_the_tail():
    from hpo.scheduler import warp_objective

    y = np.array([1.7, 2.0, 3.5, 40.0, 900.0, 1200.0])
    w = warp_objective(y)
    assert w[0] == 0.0 and np.all(np.diff(w) > 0)
    assert np.allclose(warp_objective(3.0 * y + 7.0), w)  # units and offsets do not matter
    assert (w[1] - w[0]) / (w[-1] - w[0]) > 10 * (y[1] - y[0]) / (y[-1] - y[0])  # near-best gaps stand out
