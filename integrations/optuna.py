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

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpo.history import build_dataset
from hpo.scheduler import Proposer, proposal_rng
from hpo.space import SearchSpace

__all__ = ["HPOSampler"]


class HPOSampler(BaseSampler):
    """hpo's model-based sampler for Optuna studies.

    Args:
        surrogate: "gp" (Gaussian process); more surrogates plug in under their names.
        seed: seed of every random choice; None draws one at construction.
        acquisition: "auto" (the surrogate's own; LogEI for the GP), "logei" or "ucb".
        n_startup_trials: finished trials before the model takes over (scrambled Sobol before that).
        search_space: a fixed search space (hpo types or Optuna distributions) instead of the inferred
            intersection space; used by :mod:`hpo.study`, where the space is declared up front.
        ucb_beta: confidence multiplier for ``acquisition="ucb"``.

    Raises:
        ValueError: an unknown surrogate or acquisition, or ``n_startup_trials < 1``.
    """

    def __init__(
        self,
        surrogate: str = "gp",
        *,
        seed: int | None = None,
        acquisition: str = "auto",
        n_startup_trials: int = 10,
        search_space: Mapping[str, Any] | None = None,
        ucb_beta: float = 4.0,
    ) -> None:
        self._proposer = Proposer(
            surrogate=surrogate, acquisition=acquisition, n_startup_trials=n_startup_trials, ucb_beta=ucb_beta
        )
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
        return self._proposer.propose(data, space, seed=self._seed, trial_number=trial.number)

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
        """Nothing to update: every proposal is recomputed from the storage."""
