"""hpo/scheduler.py: CQR's mixed-fidelity settings apply exactly when the data mixes fidelities."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

import hpo
from hpo import scheduler
from hpo.history import Dataset
from hpo.scheduler import Proposer
from hpo.space import SearchSpace

SPACE = SearchSpace({"x": hpo.Float(0.0, 1.0), "y": hpo.Float(0.0, 1.0)})


def _data(partial: bool, n: int = 14, constraints: bool = False) -> Dataset:
    rng = np.random.default_rng(0)
    X = rng.random((n, 2))
    y = (X[:, 0] - 0.3) ** 2 + (X[:, 1] - 0.6) ** 2
    G = (X[:, :1] - 0.8) if constraints else np.zeros((n, 0))
    return Dataset(
        X=X,
        Y=y[:, None],
        G=G,
        constraint_names=("c",) if constraints else (),
        X_pending=np.zeros((0, 2)),
        numbers=tuple(range(n)),
        partial=tuple(partial and i % 2 == 1 for i in range(n)),
    )


def _settings(proposer: Proposer, data: Dataset) -> tuple[list, list]:
    """The ``base_quadratic`` of every CQR fit and the ``refine_rounds`` of every quantile Thompson sampling built
    while ``proposer`` proposes once on ``data``."""
    from acquisition import thompson
    from surrogates.cqr import CQRSurrogate

    quad, rounds = [], []
    real_fit, real_init = CQRSurrogate.fit, thompson.QuantileThompson.__init__

    def fit(self, X, y):
        quad.append(self.base_quadratic)
        return real_fit(self, X, y)

    def init(self, model, **kw):
        real_init(self, model, **kw)
        rounds.append(self.refine_rounds)

    with (
        mock.patch.object(CQRSurrogate, "fit", fit),
        mock.patch.object(thompson.QuantileThompson, "__init__", init),
    ):
        proposer.propose(data, SPACE, seed=0, trial_number=data.n)
    return quad, rounds


def test_cqr_uses_the_trend_term_and_the_refinement_on_mixed_fidelity_data_only():
    cqr = Proposer(surrogate="cqr")
    assert _settings(cqr, _data(partial=True)) == ([True], [3])
    assert _settings(cqr, _data(partial=False)) == ([False], [0])  # single fidelity: unchanged


def test_user_surrogate_options_take_precedence_over_the_mixed_fidelity_settings():
    proposer = Proposer(surrogate="cqr", surrogate_options={"base_quadratic": False})
    assert _settings(proposer, _data(partial=True)) == ([False], [3])


def test_mixed_fidelity_settings_stay_out_of_other_surrogates_acquisitions_and_constraints():
    gp_data = _data(partial=True)
    assert not Proposer(surrogate="gp")._mixed_fidelity_cqr(gp_data)
    assert not Proposer(surrogate="cqr", acquisition="ucb")._mixed_fidelity_cqr(gp_data)
    assert not Proposer(surrogate="cqr")._mixed_fidelity_cqr(_data(partial=True, constraints=True))
    assert Proposer(surrogate="cqr")._mixed_fidelity_cqr(gp_data)


@pytest.mark.parametrize("partial", [True, False])
def test_the_settings_are_the_module_constants(partial: bool):
    """Emptying the constants gives the single-fidelity behaviour on mixed data (what benchmarks' ablations do)."""
    with (
        mock.patch.dict(scheduler.MIXED_FIDELITY_CQR_OPTIONS, clear=True),
        mock.patch.dict(scheduler.MIXED_FIDELITY_THOMPSON_OPTIONS, clear=True),
    ):
        assert _settings(Proposer(surrogate="cqr"), _data(partial=partial)) == ([False], [0])
