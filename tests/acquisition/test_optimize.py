from __future__ import annotations

import numpy as np
import torch

import hpo
from acquisition.base import Acquisition
from acquisition.optimize import optimize_acquisition
from hpo.space import SearchSpace


class _Cliff(Acquisition):
    """Maximize ``x0 + x1`` subject to ``x0 + x1 <= 0.7`` (the optimum is the whole active line).

    Exact score: a hard rule (``-1e30`` outside), as CONFIG's; gradient refinement sees a quadratic penalty,
    whose optimum lies a hair outside the line, so the refined point fails the exact re-score.
    """

    differentiable = True

    def __call__(self, X: np.ndarray) -> np.ndarray:
        s = X[:, 0] + X[:, 1]
        return np.where(s <= 0.7, s, -1e30)

    def torch_value(self, X):
        s = X[:, 0] + X[:, 1]
        return s - 1e4 * torch.relu(s - 0.7) ** 2


class _CliffWithConstraints(_Cliff):
    """The same problem, stated with its constraint so that the optimizer can run SLSQP on it."""

    def torch_constrained(self, X):
        s = X[:, 0] + X[:, 1]
        return s, (s - 0.7)[:, None]


def test_hard_constraints_are_followed_to_the_boundary():
    space = SearchSpace({"a": hpo.Float(0, 1), "b": hpo.Float(0, 1)})
    rng = np.random.default_rng(0)
    # the penalty alone: L-BFGS-B's line search gives up on the steep penalty, the best Sobol start stays inside
    _, penalty_only = optimize_acquisition(_Cliff(), space, rng, n_raw=64, n_restarts=4)
    assert penalty_only < 0.7 - 1e-4
    x, value = optimize_acquisition(
        _CliffWithConstraints(), space, np.random.default_rng(0), n_raw=64, n_restarts=4
    )
    assert x[0] + x[1] <= 0.7
    assert value > 0.7 - 1e-6
    # to_boundary=False: the penalty refinement only (the scheduler's step before any feasible trial)
    _, inside = optimize_acquisition(
        _CliffWithConstraints(), space, np.random.default_rng(0), n_raw=64, n_restarts=4, to_boundary=False
    )
    assert inside == penalty_only


def test_segment_search_keeps_points_that_refinement_improved():
    from acquisition.optimize import _segment_search

    acq = _Cliff()
    space = SearchSpace({"a": hpo.Float(0, 1), "b": hpo.Float(0, 1)})
    cur = np.array([[0.1, 0.1], [0.2, 0.2]])
    cand = np.array([[0.3, 0.3], [0.5, 0.5]])  # the first improved, the second fell off the cliff
    out, out_s = _segment_search(acq, space, cur, acq(cur), cand, acq(cand), None)
    np.testing.assert_array_equal(out[0], cand[0])
    assert out[1].sum() <= 0.7 and out_s[1] > 0.7 - 1e-6
