"""Multi-fidelity in the ask/tell study and the History -> Dataset aggregation (hpo/study.py, hpo/history.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

import hpo
from hpo.fidelity import Fidelity, assign_bracket
from hpo.history import build_dataset
from hpo.space import SearchSpace
from hpo.storage import FIDELITY_KEY, read_config

SPACE = {"x": hpo.Float(0.0, 1.0), "y": hpo.Float(0.0, 1.0)}


def _curve(params: dict, step: int) -> float:
    """A learning curve: the final quality plus a 1/step term, so rung order ~ final order."""
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2 + 1.0 / step


def _memory_study(**kw) -> hpo.Study:
    kw.setdefault("seed", 0)
    return hpo.create_study(space=SPACE, storage=optuna.storages.InMemoryStorage(), **kw)


# ------------------------------------------------------------------------------------------------ creation
def test_fidelity_is_stored_as_json_and_reloaded(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'mf.db'}"
    s = hpo.create_study(
        space=SPACE, storage=url, study_name="mf", fidelity=hpo.Fidelity(1, 27, eta=3), seed=1
    )
    stored = read_config(optuna.load_study(study_name="mf", storage=url))
    assert stored["fidelity"] == {"min": 1, "max": 27, "eta": 3, "brackets": 1}
    json.dumps(stored["fidelity"])
    again = hpo.load_study(study_name="mf", storage=url)
    assert again.fidelity == Fidelity(1, 27, eta=3) == s.fidelity
    # load_if_exists without a fidelity keeps the stored one; a different one is refused
    kept = hpo.create_study(space=SPACE, storage=url, study_name="mf", load_if_exists=True)
    assert kept.fidelity == s.fidelity
    with pytest.raises(ValueError, match="fidelity"):
        hpo.create_study(
            space=SPACE, storage=url, study_name="mf", load_if_exists=True, fidelity=hpo.Fidelity(1, 9)
        )
    # a dict is accepted (the CLI's YAML form)
    d = hpo.create_study(space=SPACE, storage=url, study_name="d", fidelity={"min": 1, "max": 9, "eta": 3})
    assert d.fidelity == Fidelity(1, 9, 3)


def test_bad_fidelity_arguments():
    with pytest.raises(ValueError, match="min"):
        _memory_study(fidelity={"min": 0, "max": 9})
    with pytest.raises(TypeError, match="fidelity"):
        _memory_study(fidelity=27)
    with pytest.raises(ValueError, match="one objective"):
        _memory_study(fidelity=hpo.Fidelity(1, 9), directions=["minimize", "minimize"])


def test_ask_stores_bracket_and_resources():
    s = _memory_study(fidelity=hpo.Fidelity(1, 27, eta=3), seed=4)
    t = s.ask()
    assert t.fidelity == 27
    assert t.bracket == assign_bracket(s.fidelity, 4, t.number)
    assert t.min_resource == s.fidelity.bracket_min_resource(t.bracket)
    info = s.trials[t.number].system_attrs[FIDELITY_KEY]
    assert info == {
        "bracket": t.bracket,
        "min_resource": t.min_resource,
        "max_resource": 27,
        "min": 1,
        "eta": 3,
    }
    plain = _memory_study().ask()
    assert plain.fidelity is None and plain.bracket is None
    assert FIDELITY_KEY not in plain._study.trials[0].system_attrs


# ------------------------------------------------------------------------------------------------ report
def test_report_follows_the_hand_computed_rungs():
    """ASHA with one bracket, min 1, max 9, eta 3 (rungs 1 and 3); values at rung 1: 0.5, then 0.7 (stop: the
    best of two continues), then 0.2 (continue) and 0.6 (n=4, k=1: stop)."""
    s = _memory_study(fidelity=hpo.Fidelity(1, 9, eta=3, brackets=1))
    a, b, c, d = (s.ask() for _ in range(4))
    assert s.report(a, 0.5, 1) is False
    assert s.report(b, 0.7, 1) is True and b.stopped
    assert s.report(b, 0.1, 2) is True  # once stopped, stays stopped
    assert s.report(c, 0.2, 1) is False
    assert s.report(d, 0.6, 1) is True
    assert s.report(a, 0.45, 2) is False  # between rungs
    assert s.report(a, 0.4, 3) is False  # first at rung 3
    assert s.report(c, 0.15, 3) is False  # better than a at rung 3
    e = s.ask()
    assert s.report(e, 0.05, 1) is False
    assert s.report(e, 0.3, 3) is True  # rung 3 holds 0.4, 0.15: n=3, k=1 -> stop
    assert s.report(a, 0.3, 9) is False  # max: completion, never a stop
    s.tell(a, 0.3)
    for t in (b, d, e):
        s.tell(t, state="pruned")
    states = {t.number: t.state for t in s.trials}
    assert states[a.number] == TrialState.COMPLETE and states[b.number] == TrialState.PRUNED
    assert s.trials[e.number].intermediate_values == {1: 0.05, 3: 0.3}
    # the decision reads the storage: a report by trial number gives the same answer as through the handle
    f = s.ask()
    assert s.report(f.number, 0.9, 1) is True


def test_maximize_orientation_in_rung_decisions():
    s = _memory_study(fidelity=hpo.Fidelity(1, 9, brackets=1), direction="maximize")
    a, b = s.ask(), s.ask()
    assert s.report(a, 0.5, 1) is False
    assert s.report(b, 0.9, 1) is False  # larger is better here
    c = s.ask()
    assert s.report(c, 0.1, 1) is True


def test_ask_tell_multifidelity_loop_end_to_end():
    s = _memory_study(fidelity=hpo.Fidelity(1, 27, eta=3), surrogate="cqr", seed=3, n_startup_trials=6)
    for _ in range(16):
        t = s.ask()
        stopped, v = False, None
        for step in range(1, t.fidelity + 1):
            v = _curve(t.params, step)
            if s.report(t, v, step):
                stopped = True
                break
        s.tell(t, state="pruned") if stopped else s.tell(t, v)
    states = Counter(t.state for t in s.trials)
    assert states[TrialState.PRUNED] > 0 and states[TrialState.COMPLETE] > 0
    for t in s.trials:
        last = max(t.intermediate_values)
        if t.state == TrialState.PRUNED:
            assert last in Fidelity(1, 27).rungs  # stopped exactly at a rung
            assert last >= t.system_attrs[FIDELITY_KEY]["min_resource"]
        else:
            assert last == 27
    assert s.best_value == pytest.approx(min(t.value for t in s.trials if t.state == TrialState.COMPLETE))
    data = build_dataset(s.trials, s.space, s.optuna_study.directions)
    assert data.n == 16  # one row per trial, pruned ones included


def _objective(trial: hpo.Trial) -> float | None:
    v = None
    for step in range(1, int(trial.fidelity) + 1):
        v = _curve(trial.params, step)
        if trial.report(v, step):
            return None  # stopped: the return value does not matter
    return v


def test_optimize_passes_a_trial_handle_and_prunes():
    s = _memory_study(fidelity=hpo.Fidelity(1, 9, eta=3), surrogate="gp", seed=0)
    s.optimize(_objective, n_trials=14, show_progress_bar=False)
    states = Counter(t.state for t in s.trials)
    assert states[TrialState.PRUNED] + states[TrialState.COMPLETE] == 14
    assert states[TrialState.PRUNED] > 0
    assert all(t.intermediate_values for t in s.trials)


def test_seeded_reproducibility_of_the_multifidelity_loop():
    def run():
        s = _memory_study(fidelity=hpo.Fidelity(1, 9, eta=3), surrogate="cqr", seed=7, n_startup_trials=4)
        s.optimize(_objective, n_trials=10, show_progress_bar=False)
        return [(t.params, t.state, dict(t.intermediate_values)) for t in s.trials]

    assert run() == run()


def test_multifidelity_with_constraints():
    """CONFIG and ASHA together: pruned trials keep the constraint values the objective returned."""

    def objective(trial):
        v = None
        for step in range(1, int(trial.fidelity) + 1):
            v = _curve(trial.params, step)
            if trial.report(v, step):
                break
        return {"value": v, "constraints": {"c": trial.params["x"] - 0.5}}

    s = _memory_study(fidelity=hpo.Fidelity(1, 9, eta=3), seed=2, n_startup_trials=4)
    s.optimize(objective, n_trials=10, show_progress_bar=False)
    assert all(set(t.constraints) == {"c"} for t in s.trials)
    assert any(t.state == TrialState.PRUNED for t in s.trials)
    assert s.best_params["x"] <= 0.5


# ------------------------------------------------------------------------------------------------ aggregation
def _frozen(number: int, state: TrialState, iv: dict, value=None, fid: dict | None = None):
    dists = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    t = create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params={"x": 0.1 * (number + 1), "y": 0.5},
        distributions=dists,
        intermediate_values=iv,
        system_attrs={} if fid is None else {FIDELITY_KEY: fid},
    )
    t.number = number
    return t


def test_aggregation_on_a_hand_built_history():
    """min 1, max 27, eta 3 (rungs 1, 3, 9). One row per trial, its value at the highest rung reached."""
    fid = {"bracket": 0, "min_resource": 1, "max_resource": 27, "min": 1, "eta": 3}
    trials = [
        _frozen(0, TrialState.COMPLETE, {1: 0.9, 3: 0.5, 9: 0.3, 27: 0.2}, value=0.2, fid=fid),  # final value
        _frozen(1, TrialState.PRUNED, {1: 0.8, 2: 0.75, 3: 0.7}, fid=fid),  # stopped at rung 3 -> 0.7
        _frozen(2, TrialState.PRUNED, {1: 0.95, 2: 0.4}, fid=fid),  # past rung 1 only -> 0.95, not 0.4
        _frozen(
            3, TrialState.RUNNING, {1: 0.6, 3: 0.55, 4: 0.5}, fid=fid
        ),  # running past rung 3 -> 0.55, a row
        _frozen(4, TrialState.RUNNING, {}, fid=fid),  # running, no rung yet -> pending
        _frozen(5, TrialState.FAIL, {1: 0.1}, fid=fid),  # failed -> nothing
        _frozen(
            6, TrialState.PRUNED, {2: 0.3, 5: 0.25}, fid=fid
        ),  # rung values at first step >= rung: 3 -> 0.25
        _frozen(7, TrialState.PRUNED, {}, fid=fid),  # nothing reported -> nothing
    ]
    data = build_dataset(trials, SearchSpace(SPACE), ["minimize"])
    assert data.numbers == (0, 1, 2, 3, 6)
    np.testing.assert_allclose(data.y, [0.2, 0.7, 0.95, 0.55, 0.25])
    # every row but the completed trial's is a value below the full resource
    assert data.partial == (False, True, True, True, True) and data.mixed_fidelity
    only_complete = build_dataset(trials[:1], SearchSpace(SPACE), ["minimize"])
    assert only_complete.partial == (False,) and not only_complete.mixed_fidelity
    assert data.X_pending.shape == (1, 2)
    np.testing.assert_allclose(data.X_pending[0], [0.5, 0.5])
    # excluding the trial being proposed for keeps it out of both sets
    assert build_dataset(trials, SearchSpace(SPACE), ["minimize"], exclude_number=3).numbers == (0, 1, 2, 6)
    # maximize: values are negated, the aggregation is the same
    np.testing.assert_allclose(
        build_dataset(trials, SearchSpace(SPACE), ["maximize"]).y, [-0.2, -0.7, -0.95, -0.55, -0.25]
    )


def test_plugin_aggregation_uses_the_last_intermediate_value():
    """Plain Optuna trials (no hpo fidelity attribute): PRUNED -> last intermediate value; RUNNING -> pending."""
    trials = [
        _frozen(0, TrialState.COMPLETE, {1: 0.9}, value=0.2),
        _frozen(1, TrialState.PRUNED, {1: 0.95, 2: 0.4}),
        _frozen(2, TrialState.RUNNING, {1: 0.3}),
    ]
    data = build_dataset(trials, SearchSpace(SPACE), ["minimize"])
    assert data.numbers == (0, 1)
    np.testing.assert_allclose(data.y, [0.2, 0.4])
    assert data.partial == (False, True)  # the pruned trial's row is a lower-fidelity value
    assert data.X_pending.shape == (1, 2)


def test_hpo_sampler_with_optuna_hyperband_pruner():
    from integrations.optuna import HPOSampler

    def objective(trial):
        params = {"x": trial.suggest_float("x", 0, 1), "y": trial.suggest_float("y", 0, 1)}
        v = None
        for step in range(1, 10):
            v = _curve(params, step)
            trial.report(v, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v

    s = optuna.create_study(
        sampler=HPOSampler("cqr", seed=0, n_startup_trials=5),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
    )
    s.optimize(objective, n_trials=15)
    pruned = [t for t in s.trials if t.state == TrialState.PRUNED]
    assert pruned
    data = build_dataset(s.trials, SearchSpace(SPACE), s.directions)
    assert data.n == 15


def test_cqr_with_constraints_and_fidelity_together():
    """CQR models objective and constraint; CONFIG reads its quantiles; ASHA stops trials."""

    def objective(trial):
        v = None
        for step in range(1, int(trial.fidelity) + 1):
            v = _curve(trial.params, step)
            if trial.report(v, step):
                break
        return {"value": v, "constraints": {"c": 0.4 - trial.params["y"]}}

    s = _memory_study(fidelity=hpo.Fidelity(1, 9, eta=3), surrogate="cqr", seed=1, n_startup_trials=4)
    s.optimize(objective, n_trials=9, show_progress_bar=False)
    assert Counter(t.state for t in s.trials)[TrialState.FAIL] == 0
    assert s.best_params["y"] >= 0.4


_OBJECTIVE_MODULE = """
def objective(trial):
    v = None
    for step in range(1, int(trial.fidelity) + 1):
        v = (trial.params["x"] - 0.3) ** 2 + 1.0 / step
        if trial.report(v, step):
            return None
    return v
"""

_STUDY_YAML = """
objective: mf_toy_objective:objective
space:
  x: {type: float, low: 0.0, high: 1.0}
direction: minimize
surrogate: cqr
fidelity: {min: 1, max: 9, eta: 3}
seed: 0
n_startup_trials: 3
budget:
  n_trials: 8
storage: sqlite:///STORAGE
study_name: mf-cli
"""


def test_hpo_run_with_a_fidelity(tmp_path: Path):
    from hpo.cli import main

    (tmp_path / "mf_toy_objective.py").write_text(_OBJECTIVE_MODULE)
    db = tmp_path / "mf.db"
    (tmp_path / "study.yaml").write_text(_STUDY_YAML.replace("STORAGE", str(db)))
    assert main(["run", str(tmp_path / "study.yaml"), "--no-progress"]) == 0
    trials = optuna.load_study(study_name="mf-cli", storage=f"sqlite:///{db}").trials
    assert len(trials) == 8
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert any(t.state == TrialState.PRUNED for t in trials)
    assert all(FIDELITY_KEY in t.system_attrs for t in trials)
