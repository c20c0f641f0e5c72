"""History -> Dataset: one immutable read of a study's trials, turned into surrogate training data.

Shapes: ``Dataset.X`` is ``(n, d)`` (encoded, see :class:`hpo.space.SearchSpace`), ``y`` is ``(n,)`` (minimize),
``Y`` is ``(n, k)`` for ``k`` objectives, ``G`` is ``(n, m)`` constraint values (feasible iff ``<= 0``),
``X_pending`` is ``(p, d)``.

This is the one place where stored trials become numbers:

* orientation: every objective is turned into minimization here (maximize -> negate), nowhere else;
* multi-fidelity aggregation (papers.md §2, "last observed value"): a trial contributes exactly one row, its value at
  the highest resource it reached; the resource level is not a model input, so every surrogate (GP, CQR) fits the
  same table. A COMPLETE trial gives its final value. For the rest it depends on who scheduled the trial:

  - hpo studies with a :class:`hpo.fidelity.Fidelity` (the trial carries ``hpo:fidelity`` in its system
    attributes): a PRUNED trial gives its value at the highest rung level it reached (its last intermediate value
    when it reached none); a RUNNING trial that has passed a rung gives its value at its highest rung so far, as
    ASHA-CQR's searcher does (papers.md §2, step 10), and is then an observation, not a pending point (its exact
    configuration is still excluded from proposals); a RUNNING trial below the first rung is pending;
  - plain Optuna studies (``HPOSampler`` with Optuna's SuccessiveHalvingPruner/HyperbandPruner, whose rung levels
    the sampler does not know): a PRUNED trial gives its last intermediate value, a RUNNING trial is pending;
* every row records whether it is such a lower-fidelity value (``Dataset.partial``: a PRUNED or RUNNING trial's);
  the scheduler tunes CQR for data that mixes fidelities (``hpo.scheduler.MIXED_FIDELITY_CQR_OPTIONS``);
* running trials with all parameters set (and no rung value, see above) are *pending*: they go to ``X_pending`` so
  that parallel workers get different proposals;
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
    """Training data for the surrogates, one row per usable trial.

    ``numbers`` are the rows' trial numbers; ``partial`` marks the rows whose value is below the trial's full
    resource (a PRUNED or RUNNING trial's rung or last intermediate value), see :attr:`mixed_fidelity`.
    """

    X: np.ndarray
    Y: np.ndarray
    G: np.ndarray
    constraint_names: tuple[str, ...]
    X_pending: np.ndarray
    numbers: tuple[int, ...] = field(default=())
    partial: tuple[bool, ...] = field(default=())

    @property
    def mixed_fidelity(self) -> bool:
        """Whether some row is a value below the trial's full resource (a stopped or still running trial's rung or
        last intermediate value): the rows then mix fidelities, and the scheduler tunes CQR for that."""
        return any(self.partial)

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

    COMPLETE -> its values; PRUNED -> its value at the highest rung reached (hpo multi-fidelity trials) or its last
    intermediate value (plain Optuna trials); RUNNING hpo multi-fidelity trial past a rung -> its value at the
    highest rung so far; anything else, or a non-finite value, -> None.
    """
    from optuna.trial import TrialState

    from hpo.storage import trial_fidelity

    info = trial_fidelity(trial)
    if trial.state == TrialState.COMPLETE and trial.values is not None:
        vals = [float(v) for v in trial.values]
    elif (
        info is not None
        and trial.state in (TrialState.PRUNED, TrialState.RUNNING)
        and trial.intermediate_values
    ):
        v = _rung_target(trial.intermediate_values, info)
        if v is None and trial.state == TrialState.PRUNED:
            v = float(trial.intermediate_values[max(trial.intermediate_values)])
        if v is None:
            return None
        vals = [v]
    elif trial.state == TrialState.PRUNED and trial.intermediate_values:
        last_step = max(trial.intermediate_values)
        vals = [float(trial.intermediate_values[last_step])]
    else:
        return None
    if not all(math.isfinite(v) for v in vals):
        return None
    return vals


def _rung_target(intermediate: dict[int, float], info: dict[str, Any]) -> float | None:
    """Value at the highest rung level reached, from a trial's stored fidelity schedule (None if none reached)."""
    from hpo.fidelity import Fidelity, highest_rung_value

    fid = Fidelity(min=int(info["min"]), max=int(info["max_resource"]), eta=int(info["eta"]))
    hit = highest_rung_value(intermediate, fid)
    return None if hit is None else hit[1]


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

    rows, Y, G_rows, numbers, partial, pending = [], [], [], [], [], []
    cnames: list[str] = []
    for t in trials:
        cn = t.constraints
        for key in cn:
            if key not in cnames:
                cnames.append(key)
    for t in trials:
        vals = trial_target(t) if t.state != TrialState.WAITING else None
        if t.state in (TrialState.RUNNING, TrialState.WAITING) and (
            vals is None or t.number == exclude_number
        ):
            if t.number != exclude_number and _in_space(t.params, space):
                pending.append({n: t.params[n] for n in space.names})
            continue
        if vals is None or not _in_space(t.params, space):
            continue
        if len(vals) != k:
            if t.state in (TrialState.PRUNED, TrialState.RUNNING) and k > 1:
                continue
            raise ValueError(f"trial {t.number} has {len(vals)} values for {k} objectives")
        rows.append({n: t.params[n] for n in space.names})
        Y.append([s * v for s, v in zip(signs, vals, strict=True)])
        cons = t.constraints
        G_rows.append([float(cons.get(c, math.nan)) for c in cnames])
        numbers.append(t.number)
        partial.append(t.state != TrialState.COMPLETE)
    X = space.encode(rows) if rows else np.zeros((0, space.dim))
    Xp = space.encode(pending) if pending else np.zeros((0, space.dim))
    Ya = np.asarray(Y, dtype=float).reshape(len(rows), k)
    Ga = np.asarray(G_rows, dtype=float).reshape(len(rows), len(cnames))
    return Dataset(
        X=X,
        Y=Ya,
        G=Ga,
        constraint_names=tuple(cnames),
        X_pending=Xp,
        numbers=tuple(numbers),
        partial=tuple(partial),
    )
