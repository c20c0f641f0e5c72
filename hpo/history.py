"""History -> Dataset: one immutable read of a study's trials, turned into surrogate training data.

Shapes: ``Dataset.X`` is ``(n, d)`` (encoded, see :class:`hpo.space.SearchSpace`), ``y`` is ``(n,)`` (minimize),
``Y`` is ``(n, k)`` for ``k`` objectives, ``G`` is ``(n, m)`` constraint values (feasible iff ``<= 0``),
``X_pending`` is ``(p, d)``.

This is the one place where stored trials become numbers:

* orientation: every objective is turned into minimization here (maximize -> negate), nowhere else;
* multi-fidelity aggregation (papers.md §2, "last observed value"): a trial contributes exactly one row, its value at
  the highest resource it reached. A COMPLETE trial gives its final value; a PRUNED (stopped) trial gives its last
  intermediate value. The resource level is not a model input;
* running trials with all parameters set are *pending*: they go to ``X_pending`` so that parallel workers get
  different proposals;
* failed trials, and trials whose parameters are outside the space, are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.space import SearchSpace

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["Dataset", "build_dataset", "trial_target"]


@dataclass(frozen=True)
class Dataset:
    """Training data for the surrogates, one row per usable trial."""

    X: np.ndarray
    Y: np.ndarray
    G: np.ndarray
    constraint_names: tuple[str, ...]
    X_pending: np.ndarray
    numbers: tuple[int, ...] = field(default=())

    @property
    def y(self) -> np.ndarray:
        """``(n,)`` the first (or only) objective, minimize orientation."""
        return self.Y[:, 0]

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def feasible(self) -> np.ndarray:
        """``(n,)`` bool: every constraint ``<= 0`` (all True without constraints)."""
        if self.G.shape[1] == 0:
            return np.ones(self.n, dtype=bool)
        return np.all(self.G <= 0.0, axis=1)


def trial_target(trial: FrozenTrial) -> list[float] | None:
    """The values a trial contributes to the model (raw orientation), or None if it contributes nothing.

    COMPLETE -> its values; PRUNED -> its last intermediate value (the aggregation across fidelities); anything
    else, or a non-finite value, -> None.
    """
    from optuna.trial import TrialState

    if trial.state == TrialState.COMPLETE and trial.values is not None:
        vals = [float(v) for v in trial.values]
    elif trial.state == TrialState.PRUNED and trial.intermediate_values:
        last_step = max(trial.intermediate_values)
        vals = [float(trial.intermediate_values[last_step])]
    else:
        return None
    if not all(math.isfinite(v) for v in vals):
        return None
    return vals


def _in_space(params: dict[str, Any], space: SearchSpace) -> bool:
    if not all(n in params for n in space.names):
        return False
    try:
        space.encode([{n: params[n] for n in space.names}])
    except (KeyError, ValueError, TypeError):
        return False
    return True


def build_dataset(
    trials: Sequence[FrozenTrial],
    space: SearchSpace,
    directions: Sequence[Any],
    *,
    exclude_number: int | None = None,
) -> Dataset:
    """Build the surrogate dataset from stored trials.

    Args:
        trials: the study's trials (any states).
        space: the search space to encode parameters with.
        directions: ``optuna.study.StudyDirection`` per objective (or the strings "minimize"/"maximize").
        exclude_number: a trial number to leave out of the pending set (the trial being proposed for).
    """
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    signs = []
    for d in directions:
        is_max = d == StudyDirection.MAXIMIZE or (isinstance(d, str) and d.lower() == "maximize")
        signs.append(-1.0 if is_max else 1.0)
    k = len(signs)

    rows, Y, G_rows, numbers, pending = [], [], [], [], []
    cnames: list[str] = []
    for t in trials:
        cn = t.constraints
        for key in cn:
            if key not in cnames:
                cnames.append(key)
    for t in trials:
        if t.state in (TrialState.RUNNING, TrialState.WAITING):
            if t.number != exclude_number and _in_space(t.params, space):
                pending.append({n: t.params[n] for n in space.names})
            continue
        vals = trial_target(t)
        if vals is None or not _in_space(t.params, space):
            continue
        if len(vals) != k:
            if t.state == TrialState.PRUNED and k > 1:
                continue
            raise ValueError(f"trial {t.number} has {len(vals)} values for {k} objectives")
        rows.append({n: t.params[n] for n in space.names})
        Y.append([s * v for s, v in zip(signs, vals, strict=True)])
        cons = t.constraints
        G_rows.append([float(cons.get(c, math.nan)) for c in cnames])
        numbers.append(t.number)
    X = space.encode(rows) if rows else np.zeros((0, space.dim))
    Xp = space.encode(pending) if pending else np.zeros((0, space.dim))
    Ya = np.asarray(Y, dtype=float).reshape(len(rows), k)
    Ga = np.asarray(G_rows, dtype=float).reshape(len(rows), len(cnames))
    return Dataset(X=X, Y=Ya, G=Ga, constraint_names=tuple(cnames), X_pending=Xp, numbers=tuple(numbers))
