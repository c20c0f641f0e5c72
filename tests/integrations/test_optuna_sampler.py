"""HPOSampler against Optuna's own sampler conformance suites, plus plugin-specific behaviour."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import optuna
import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)
from optuna.trial import TrialState

from integrations.optuna import HPOSampler


class TestHPOSamplerBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HPOSampler(seed=0, n_startup_trials=3)


class TestHPOSamplerRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HPOSampler(seed=0)


class TestHPOSamplerMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HPOSampler(seed=0, n_startup_trials=3)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    k = trial.suggest_int("k", 1, 8, log=True)
    c = trial.suggest_categorical("c", ["a", "b"])
    if c == "b":
        trial.suggest_float("extra", 0, 1)  # conditional: outside the intersection space
    return (x - 1) ** 2 + math.log(k) + (c == "a")


def test_seeded_runs_are_reproducible():
    def run():
        s = optuna.create_study(sampler=HPOSampler(seed=11, n_startup_trials=4))
        s.optimize(_objective, n_trials=8)
        return [t.params for t in s.trials]

    assert run() == run()


def test_reseed_rng_changes_proposals():
    sampler = HPOSampler(seed=11)
    s1 = optuna.create_study(sampler=sampler)
    s1.optimize(_objective, n_trials=2)
    sampler.reseed_rng()
    s2 = optuna.create_study(sampler=sampler)
    s2.optimize(_objective, n_trials=2)
    assert [t.params for t in s1.trials] != [t.params for t in s2.trials]


def test_finds_a_good_point_and_handles_fail_pruned_enqueued_and_n_jobs():
    s = optuna.create_study(sampler=HPOSampler(seed=0, n_startup_trials=5))
    s.enqueue_trial({"x": 1.0, "k": 1, "c": "b", "extra": 0.5})

    def obj(trial):
        v = _objective(trial)
        if trial.number == 3:
            raise optuna.TrialPruned
        if trial.number == 4:
            return float("nan")
        return v

    s.optimize(obj, n_trials=16, n_jobs=2, catch=())
    states = [t.state for t in s.trials]
    assert states.count(TrialState.COMPLETE) == 14
    assert s.trials[0].params["x"] == 1.0
    assert s.best_value < 0.5


def test_pruned_trials_feed_their_last_intermediate_value():
    from hpo.history import build_dataset
    from hpo.space import SearchSpace

    s = optuna.create_study(sampler=HPOSampler(seed=0))
    t = s.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    t.report(3.0, 1)
    t.report(2.0, 3)
    s.tell(t, state=TrialState.PRUNED)
    data = build_dataset(
        s.trials, SearchSpace({"x": optuna.distributions.FloatDistribution(0, 1)}), s.directions
    )
    assert data.y.tolist() == [2.0]


def test_sampler_is_picklable_and_stateless():
    sampler = HPOSampler(seed=5)
    clone = pickle.loads(pickle.dumps(sampler))
    a = optuna.create_study(sampler=sampler)
    b = optuna.create_study(sampler=clone)
    a.optimize(_objective, n_trials=3)
    b.optimize(_objective, n_trials=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="surrogate='rf'"):
        HPOSampler("rf")
    with pytest.raises(ValueError, match="n_startup_trials=0"):
        HPOSampler(n_startup_trials=0)
