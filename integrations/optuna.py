"""Optuna sampler plugin: hpo's scheduler behind Optuna's ``BaseSampler`` interface.

Usage::

    import optuna
    from integrations.optuna import HPOSampler

    study = optuna.create_study(sampler=HPOSampler(surrogate="gp", seed=0))
    study.optimize(objective, n_trials=50)

How it maps onto Optuna:

* **relative sampling** over Optuna's intersection search space (every parameter that all finished trials share with
  the same distribution): from the first trial on, a scrambled Sobol design, then the surrogate + acquisition;
* **independent sampling** (seeded uniform) for conditional parameters outside that space;
* pending trials (RUNNING, e.g. under ``n_jobs``) are fed to the proposer, so threads get different configurations;
* pruned trials contribute their last intermediate value (aggregation across fidelities, papers.md §2), which is
  what makes ``HPOSampler`` work with Optuna's ``SuccessiveHalvingPruner`` / ``HyperbandPruner``;
* proposals are pure in (stored trials, seed, trial number): no state is kept between calls, so ``n_jobs``,
  several processes and a resumed study all behave the same. ``reseed_rng`` draws a new seed.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpo import storage as hpo_storage
from hpo.history import build_dataset
from hpo.scheduler import Proposer, proposal_rng
from hpo.space import SearchSpace

__all__ = ["HPOSampler", "DECLARED_KEY"]

#: study user attribute set when CONFIG declares the constrained problem infeasible
DECLARED_KEY = "hpo:declared_infeasible"


class HPOSampler(BaseSampler):
    """hpo's model-based sampler for Optuna studies.

    Args:
        surrogate: "gp" (Gaussian process); more surrogates plug in under their names.
        seed: seed of every random choice; None draws one at construction.
        acquisition: "auto" (the surrogate's own; LogEI for the GP), "logei" or "ucb".
        n_startup_trials: finished trials before the model takes over (scrambled Sobol before that); None: the
            surrogate's default (10; GO-UCB's grows with the dimension, see ``surrogates.goucb``).
        search_space: a fixed search space (hpo types or Optuna distributions) instead of the inferred
            intersection space; used by :mod:`hpo.study`, where the space is declared up front.
        ucb_beta: confidence multiplier for ``acquisition="ucb"``.
        config_beta: CONFIG's squared confidence multiplier for the constraints (constraints are handled by
            CONFIG whenever trials carry constraint values, set with Optuna 5's ``trial.set_constraint``).
        config_objective_beta: CONFIG's squared multiplier for the objective's lower bound.
        config_feasible_every: every k-th trial (default 1: every trial) first tries a feasible-side step
            (objective LCB subject to the constraints' *upper* bounds), taken while nothing is feasible or when it
            promises a real improvement of the best feasible value; otherwise CONFIG's optimistic step runs. 0
            turns all of it off (pure CONFIG). See docs/constrained.md for why and what it changed.
        constraints_func: Optuna's deprecated way to give constraints: ``f(frozen_trial) -> [g_1, ...]`` called
            after each trial; values are stored in Optuna's own format.
        surrogate_options: keyword options for the surrogate's constructor, e.g.
            ``{"lengthscale_prior": "dim-scaled"}`` for the GP.

    Raises:
        ValueError: an unknown surrogate or acquisition, or ``n_startup_trials < 1``.
    """

    def __init__(
        self,
        surrogate: str = "gp",
        *,
        seed: int | None = None,
        acquisition: str = "auto",
        n_startup_trials: int | None = None,
        search_space: Mapping[str, Any] | None = None,
        ucb_beta: float = 4.0,
        config_beta: float = 4.0,
        config_objective_beta: float | None = 1.0,
        config_feasible_every: int = 1,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        surrogate_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._proposer = Proposer(
            surrogate=surrogate,
            acquisition=acquisition,
            n_startup_trials=n_startup_trials,
            ucb_beta=ucb_beta,
            config_beta=config_beta,
            config_objective_beta=config_objective_beta,
            config_feasible_every=config_feasible_every,
            surrogate_options=dict(surrogate_options or {}),
        )
        if constraints_func is not None:
            warnings.warn(
                "constraints_func is deprecated in Optuna 5; call trial.set_constraint(name, value) in the objective",
                FutureWarning,
                stacklevel=2,
            )
        self._constraints_func = constraints_func
        self._seed = int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is None else int(seed)
        self._fixed_space = SearchSpace(search_space) if search_space is not None else None
        self._intersection = IntersectionSearchSpace(include_pruned=True)

    @property
    def surrogate(self) -> str:
        return self._proposer.surrogate

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])

    # ------------------------------------------------------------------ relative
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self._fixed_space is not None:
            space = self._fixed_space.to_optuna()
        else:
            space = self._intersection.calculate(study)
        return {n: d for n, d in space.items() if not d.single()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        space = SearchSpace.from_optuna(search_space)
        trials = study.get_trials(deepcopy=False)
        data = build_dataset(trials, space, study.directions, exclude_number=trial.number)
        params, info = self._proposer.propose_with_info(
            data, space, seed=self._seed, trial_number=trial.number
        )
        if info["declared_infeasible"]:
            _declare_infeasible(study)
        return params

    # ------------------------------------------------------------------ independent
    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        """Seeded uniform draw (in the encoded, log-aware scale) for a parameter outside the relative space."""
        space = SearchSpace({param_name: param_distribution})
        rng = proposal_rng(self._seed, trial.number, salt=zlib.crc32(param_name.encode()))
        return space.decode(space.round_encoded(space.sample(1, rng)))[0][param_name]

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        """Store ``constraints_func`` values, if given; nothing else: every proposal is recomputed from storage."""
        if self._constraints_func is None or state not in (TrialState.COMPLETE, TrialState.PRUNED):
            return
        raw = self._constraints_func(trial)
        cons = [float(v) for v in raw]
        if any(math.isnan(v) for v in cons):
            raise ValueError(f"constraints_func returned NaN for trial {trial.number}: {list(raw)!r}")
        hpo_storage.set_constraints_list(study, trial.number, cons)


def _declare_infeasible(study: Study) -> None:
    """Record CONFIG's infeasibility declaration in the study (user attribute) and warn once per study."""
    if study.user_attrs.get(DECLARED_KEY):
        return
    hpo_storage.set_study_user_attr(study, DECLARED_KEY, True)
    warnings.warn(
        f"study {study.study_name!r}: CONFIG declares the constrained problem infeasible — no point is feasible even "
        "under the optimistic confidence bounds; proposals now minimize the optimistic violation",
        UserWarning,
        stacklevel=3,
    )
