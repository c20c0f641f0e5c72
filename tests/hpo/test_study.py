from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

import hpo

sys.path.insert(0, str(Path(__file__).parent))
import _objectives  # noqa: E402

SPACE = {"x": hpo.Float(0.0, 1.0), "y": hpo.Float(0.0, 1.0)}


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def test_round_trip_through_optuna_load_study(tmp_path):
    url = _url(tmp_path)
    space = {"lr": hpo.Float(1e-4, 1.0, log=True), "k": hpo.Int(1, 5), "c": hpo.Categorical(["a", "b"])}
    study = hpo.create_study(space=space, storage=url, study_name="rt", seed=0)
    t = study.ask()
    study.report(t, 0.9, 1)
    study.report(t, 0.7, 2)
    study.tell(t, 0.5, constraints={"mem": -1.0, "time": 0.5})
    t2 = study.ask()
    study.tell(t2, state="fail")
    t3 = study.ask()
    study.report(t3, 2.0, 1)
    study.tell(t3, state="pruned")

    loaded = optuna.load_study(study_name="rt", storage=url)
    trials = loaded.trials
    assert [tr.state for tr in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED]
    first = trials[0]
    assert first.params == t.params
    assert first.distributions["lr"] == FloatDistribution(1e-4, 1.0, log=True)
    assert first.value == 0.5
    assert first.intermediate_values == {1: 0.9, 2: 0.7}
    assert first.constraints == {"mem": -1.0, "time": 0.5}
    assert trials[2].intermediate_values == {1: 2.0}

    again = hpo.load_study(study_name="rt", storage=url)
    assert again.space == study.space and again.seed == 0
    assert len(again.trials) == 3


def test_nan_inf_and_exceptions_fail_the_trial_and_the_study_goes_on(tmp_path):
    study = hpo.create_study(space=SPACE, storage=_url(tmp_path), seed=1, n_startup_trials=20)
    study.optimize(_objectives.sometimes_bad, n_trials=20, show_progress_bar=False)
    states = [t.state for t in study.trials]
    assert len(states) == 20
    assert TrialState.FAIL in states and TrialState.COMPLETE in states
    for t in study.trials:
        if t.params["x"] < 0.2 or t.params["x"] > 0.8:
            assert t.state == TrialState.FAIL
            assert "hpo:fail_reason" in t.system_attrs
        else:
            assert t.state == TrialState.COMPLETE
    t = study.ask()
    study.tell(t, math.inf)
    assert study.trials[-1].state == TrialState.FAIL


def test_same_seed_gives_same_proposals(tmp_path):
    def run(name):
        s = hpo.create_study(
            space=SPACE, storage=f"sqlite:///{tmp_path / name}.db", seed=7, n_startup_trials=4
        )
        s.optimize(_objectives.quadratic, n_trials=8, show_progress_bar=False)
        return [t.params for t in s.trials]

    assert run("a") == run("b")


def test_proposal_is_pure_in_history_and_seed(tmp_path):
    """A fresh process-like Study object on the same storage proposes what the first would have."""
    url = _url(tmp_path)
    s = hpo.create_study(space=SPACE, storage=url, study_name="p", seed=3, n_startup_trials=4)
    s.optimize(_objectives.quadratic, n_trials=6, show_progress_bar=False)
    from hpo.history import build_dataset
    from hpo.scheduler import Proposer
    from hpo.space import SearchSpace

    space = SearchSpace(SPACE)
    data = build_dataset(s.trials, space, ["minimize"])
    prop = Proposer(n_startup_trials=4)
    a = prop.propose(data, space, seed=3, trial_number=6)
    b = hpo.load_study(study_name="p", storage=url).ask().params
    assert a == b


def test_pending_trials_get_different_proposals(tmp_path):
    s = hpo.create_study(space=SPACE, storage=_url(tmp_path), seed=0, n_startup_trials=5)
    s.optimize(_objectives.quadratic, n_trials=8, show_progress_bar=False)
    a, b, c = s.ask(), s.ask(), s.ask()
    pts = np.array([[t.params["x"], t.params["y"]] for t in (a, b, c)])
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    assert d[np.triu_indices(3, 1)].min() > 1e-3


def test_two_workers_on_one_sqlite_study_lose_nothing(tmp_path):
    url = _url(tmp_path)
    s = hpo.create_study(space=SPACE, storage=url, study_name="w", seed=0, n_startup_trials=3)
    s.optimize(_objectives.quadratic, n_trials=10, n_workers=2, show_progress_bar=False)
    trials = optuna.load_study(study_name="w", storage=url).trials
    assert len(trials) == 10
    assert sorted(t.number for t in trials) == list(range(10))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({(t.params["x"], t.params["y"]) for t in trials}) == 10


def test_resume_continues_the_same_study(tmp_path):
    url = _url(tmp_path)
    s = hpo.create_study(space=SPACE, storage=url, study_name="r", seed=0)
    s.optimize(_objectives.quadratic, n_trials=3, show_progress_bar=False)
    s2 = hpo.create_study(space=SPACE, storage=url, study_name="r", load_if_exists=True)
    assert s2.seed == 0
    s2.optimize(_objectives.quadratic, n_trials=2, show_progress_bar=False)
    assert len(s2.trials) == 5


def test_keyboard_interrupt_leaves_a_consistent_study(tmp_path):
    url = _url(tmp_path)
    s = hpo.create_study(space=SPACE, storage=url, study_name="k", seed=0)

    def interrupt(params):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        s.optimize(interrupt, n_trials=3, show_progress_bar=False)
    assert [t.state for t in s.trials] == [TrialState.FAIL]
    s.optimize(_objectives.quadratic, n_trials=2, show_progress_bar=False)
    assert [t.state for t in s.trials][1:] == [TrialState.COMPLETE] * 2


def test_bad_arguments_are_named(tmp_path):
    url = _url(tmp_path)
    with pytest.raises(ValueError, match="direction='up'"):
        hpo.create_study(space=SPACE, storage=url, direction="up")
    with pytest.raises(ValueError, match="surrogate='nope'"):
        hpo.create_study(space=SPACE, storage=url, surrogate="nope")
    with pytest.raises(ValueError, match="acquisition='pi'"):
        hpo.create_study(space=SPACE, storage=url, acquisition="pi")
    with pytest.raises(ValueError, match="seed="):
        hpo.create_study(space=SPACE, storage=url, seed="x")
    s = hpo.create_study(space=SPACE, storage=url, study_name="b")
    with pytest.raises(ValueError, match="already exists with space"):
        hpo.create_study(space={"z": hpo.Float(0, 1)}, storage=url, study_name="b", load_if_exists=True)
    t = s.ask()
    with pytest.raises(ValueError, match="state='done'"):
        s.tell(t, 1.0, state="done")
    with pytest.raises(ValueError, match="needs a value"):
        s.tell(t)
    with pytest.raises(ValueError, match="step=-1"):
        s.report(t, 1.0, -1)
    with pytest.raises(ValueError, match="constraints"):
        s.tell(t, 1.0, constraints={"m": "abc"})
    with pytest.raises(ValueError, match="n_trials or timeout"):
        s.optimize(_objectives.quadratic)
    with pytest.raises(ValueError, match="n_workers=0"):
        s.optimize(_objectives.quadratic, n_trials=1, n_workers=0)
    mem = hpo.create_study(space=SPACE, storage=optuna.storages.InMemoryStorage())
    with pytest.raises(ValueError, match="in-memory"):
        mem.optimize(_objectives.quadratic, n_trials=2, n_workers=2)
    with pytest.raises(ValueError, match="not created by hpo"):
        optuna.create_study(storage=url, study_name="plain")
        hpo.load_study(study_name="plain", storage=url)


def test_best_trial_ranks_feasible_first_and_respects_direction(tmp_path):
    s = hpo.create_study(space=SPACE, storage=_url(tmp_path), direction="maximize", seed=0)
    for v, g in [(5.0, 1.0), (3.0, -1.0), (4.0, 0.0)]:
        s.tell(s.ask(), v, constraints={"g": g})
    assert s.best_value == 4.0
    assert [t.value for t in s.best_trials_table(3)] == [4.0, 3.0, 5.0]


def test_best_trial_without_feasible_trials_says_so(tmp_path):
    s = hpo.create_study(space=SPACE, storage=_url(tmp_path), seed=0)
    with pytest.raises(ValueError, match="no complete trial"):
        _ = s.best_trial
    s.tell(s.ask(), 1.0, constraints={"g": 2.0})
    with pytest.raises(ValueError, match="no feasible trial"):
        _ = s.best_trial


def test_objective_may_return_a_dict_with_constraints(tmp_path):
    s = hpo.create_study(space=SPACE, storage=_url(tmp_path), seed=0)
    s.optimize(
        lambda p: {"value": p["x"], "constraints": {"c": p["y"] - 0.5}}, n_trials=3, show_progress_bar=False
    )
    for t in s.trials:
        assert t.constraints == {"c": pytest.approx(t.params["y"] - 0.5)}


def test_multi_objective_study_runs(tmp_path):
    s = hpo.create_study(
        space=SPACE, storage=_url(tmp_path), directions=["minimize", "maximize"], seed=0, n_startup_trials=3
    )
    s.optimize(lambda p: (p["x"], p["y"]), n_trials=6, show_progress_bar=False)
    assert all(t.state == TrialState.COMPLETE for t in s.trials)
    assert len(s.optuna_study.best_trials) >= 1
