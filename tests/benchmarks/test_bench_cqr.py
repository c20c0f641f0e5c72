"""benchmarks/bench_cqr.py: the refinement ablation's sampler turns the option on during its proposals only."""

from __future__ import annotations

from unittest import mock

import optuna

import acquisition.thompson as thompson
from benchmarks import bench_cqr, bench_samplers


def test_refine3_sampler_refines_its_proposals_and_leaves_the_default_alone() -> None:
    assert bench_samplers.SAMPLERS["hpo-cqr-refine3"] is bench_cqr._hpo_cqr_refine3
    rounds = []
    real = thompson.refine_quantile

    def spy(*args, **kw):
        rounds.append(kw["rounds"])
        return real(*args, **kw)

    study = optuna.create_study(sampler=bench_cqr._hpo_cqr_refine3(0))
    with mock.patch.object(thompson, "refine_quantile", spy):
        study.optimize(
            lambda t: (t.suggest_float("x", 0.0, 1.0) - 0.3) ** 2 + t.suggest_float("y", 0.0, 1.0),
            n_trials=14,
        )
    assert rounds and set(rounds) == {3}  # every model-based proposal was refined with 3 rounds
    assert thompson.QuantileThompson.__init__.__kwdefaults__["refine_rounds"] == 0


def test_quad_refine3_sampler_passes_the_quadratic_term_to_the_surrogate() -> None:
    assert bench_samplers.SAMPLERS["hpo-cqr-quad-refine3"] is bench_cqr._hpo_cqr_quad_refine3
    from surrogates.cqr import CQRSurrogate

    fitted = []
    real_fit = CQRSurrogate.fit

    def spy(self, X, y):
        fitted.append(self.base_quadratic)
        return real_fit(self, X, y)

    study = optuna.create_study(sampler=bench_cqr._hpo_cqr_quad_refine3(0))
    with mock.patch.object(CQRSurrogate, "fit", spy):
        study.optimize(lambda t: (t.suggest_float("x", 0.0, 1.0) - 0.3) ** 2, n_trials=12)
    assert fitted and set(fitted) == {True}
    assert CQRSurrogate.__init__.__kwdefaults__["base_quadratic"] is False
