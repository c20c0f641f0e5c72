"""The scheduler: which configuration the next trial gets, as a pure function of (history, seed).

Flow of one proposal (design.md §5)::

    trials --build_dataset--> Dataset --surrogate.fit--> model --(pending: Kriging believer)--> acquisition
          --optimize_acquisition--> encoded point --space.decode--> configuration

* The first ``n_startup_trials`` proposals come from a scrambled Sobol sequence (seeded by ``seed``; the trial
  number picks the point), which covers the space evenly and lets parallel workers draw distinct points for free.
* Afterwards a surrogate is fitted to the observed trials and an acquisition chooses the next point: LogEI by
  default, UCB on request.
* Running trials are pending: the GP is conditioned on them at its own predicted mean (Kriging believer), which
  removes their neighbourhood's expected improvement, so concurrent workers get different configurations.
* Several objectives are scalarized per proposal with a random augmented Chebyshev weighting (ParEGO), drawn from the
  same seeded generator.

Nothing here keeps state between calls: the random generator is rebuilt from ``(seed, trial_number)`` each time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpo.history import Dataset
from hpo.space import SearchSpace

__all__ = ["Proposer", "proposal_rng", "sobol_point"]


def proposal_rng(seed: int, trial_number: int, salt: int = 0) -> np.random.Generator:
    """The generator for one proposal: a pure function of the study seed and the trial number."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(trial_number), int(salt)])
    )


def sobol_point(dim: int, seed: int, index: int) -> np.ndarray:
    """Point ``index`` of the scrambled Sobol sequence in ``[0, 1]^dim`` for ``seed``, ``(dim,)``."""
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = qmc.Sobol(dim, scramble=True, seed=np.random.default_rng(int(seed) & 0xFFFFFFFF))
        if index:
            engine.fast_forward(int(index))
        return engine.random(1)[0]


def _scalarize(Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarization of ``(n, k)`` minimize-oriented objectives -> ``(n,)``."""
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    Z = (Y - lo) / np.where(hi - lo > 0, hi - lo, 1.0)
    w = rng.dirichlet(np.ones(Y.shape[1]))
    return np.max(w * Z, axis=1) + 0.05 * (Z @ w)


@dataclass(frozen=True)
class Proposer:
    """Proposes configurations from a dataset with a surrogate and an acquisition.

    Args:
        surrogate: name of the surrogate (a key of ``surrogates.SURROGATES``).
        acquisition: "auto" (the surrogate's own: LogEI for the GP) or a key of ``acquisition.ACQUISITIONS``.
        n_startup_trials: number of observed trials before the model takes over (Sobol design before that);
            None asks the surrogate (see :meth:`startup_trials`).
        ucb_beta: confidence multiplier for "ucb".
        n_raw: raw Sobol candidates for the acquisition optimizer.
        n_restarts: locally refined starts.
        config_beta: CONFIG's squared confidence multiplier for the constraints' optimistic bounds in proposals
            (default 4: 2 sigma; papers.md §1 suggests a constant of 2-3 in practice).
        config_objective_beta: CONFIG's squared multiplier for the objective's LCB (default 1; None: config_beta).
            Measured on six constrained problems (docs/constrained.md), a less optimistic objective bound lowered
            the mean regret at every constraint beta tried.
        declare_beta: the squared multiplier of the infeasibility check (default 9: 3 sigma, the reference
            implementation's), kept at least as optimistic as the proposals so a feasible problem is not declared
            infeasible (papers.md §1, step 4).
        declare_after: model-based proposals needed before a declaration (the Sobol design alone never declares).
        surrogate_options: keyword options for the surrogate's constructor (e.g. the GP's priors).
    """

    surrogate: str = "gp"
    acquisition: str = "auto"
    n_startup_trials: int | None = None
    ucb_beta: float = 4.0
    n_raw: int = 1024
    n_restarts: int = 8
    config_beta: float = 4.0
    config_objective_beta: float | None = 1.0
    declare_beta: float = 9.0
    declare_after: int = 5
    surrogate_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from acquisition import ACQUISITIONS
        from surrogates import SURROGATES

        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate={self.surrogate!r} is not one of {sorted(SURROGATES)!r}")
        if self.acquisition != "auto" and self.acquisition not in ACQUISITIONS:
            raise ValueError(
                f"acquisition={self.acquisition!r} is not one of {['auto', *sorted(ACQUISITIONS)]!r}"
            )
        if self.n_startup_trials is not None and (
            isinstance(self.n_startup_trials, bool) or int(self.n_startup_trials) < 1
        ):
            raise ValueError(f"n_startup_trials={self.n_startup_trials!r} must be an integer >= 1")

    @property
    def acquisition_name(self) -> str:
        """The acquisition actually used ("auto" resolves to the surrogate's own)."""
        from acquisition import DEFAULT_ACQUISITION

        return DEFAULT_ACQUISITION[self.surrogate] if self.acquisition == "auto" else self.acquisition

    def startup_trials(self, dim: int) -> int:
        """Length of the Sobol design: ``n_startup_trials``, or when that is None the surrogate class's
        ``default_startup_trials(dim)`` (GO-UCB's Phase I grows like the square root of the budget), else 10."""
        if self.n_startup_trials is not None:
            return int(self.n_startup_trials)
        from surrogates import surrogate_class

        rule = getattr(surrogate_class(self.surrogate), "default_startup_trials", None)
        return 10 if rule is None else int(rule(dim))

    def propose(self, data: Dataset, space: SearchSpace, *, seed: int, trial_number: int) -> dict[str, Any]:
        """The configuration for trial ``trial_number``: a pure function of ``(data, space, seed, trial_number)``."""
        return self.propose_with_info(data, space, seed=seed, trial_number=trial_number)[0]

    def propose_with_info(
        self, data: Dataset, space: SearchSpace, *, seed: int, trial_number: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Like :meth:`propose`, plus what the proposal found out: ``{"declared_infeasible": bool}``.

        ``declared_infeasible`` is True when CONFIG found no optimistically feasible point anywhere in its candidate
        set (and no observed trial is feasible): under the confidence bounds the problem has no feasible point.
        """
        info: dict[str, Any] = {"declared_infeasible": False}
        if data.n < self.startup_trials(space.dim):
            x = sobol_point(space.dim, seed, trial_number)
            return space.decode(space.round_encoded(x[None, :]))[0], info
        from surrogates.gp import single_threaded

        rng = proposal_rng(seed, trial_number)
        with single_threaded():
            x = self._model_based(data, space, rng, info)
        return space.decode(x[None, :])[0], info

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_pending: np.ndarray,
        rng: np.random.Generator,
        *,
        constraint: bool = False,
    ):
        from surrogates import make_surrogate

        options = dict(self.surrogate_options)
        if constraint and self.surrogate == "gp":
            options.setdefault("center", False)  # threshold 0 stays the prior mean (papers.md §1)
        model = make_surrogate(self.surrogate, seed=int(rng.integers(2**31)), **options).fit(X, y)
        if len(X_pending):
            model = model.with_fantasies(X_pending, model.posterior(X_pending).mean)  # Kriging believer
        return model

    def _model_based(
        self, data: Dataset, space: SearchSpace, rng: np.random.Generator, info: dict[str, Any]
    ) -> np.ndarray:
        from acquisition import make_acquisition
        from acquisition.optimize import optimize_acquisition

        y = data.y if data.Y.shape[1] == 1 else _scalarize(data.Y, rng)
        model = self._fit(data.X, y, data.X_pending, rng)
        exclude = np.concatenate([data.X, data.X_pending]) if len(data.X_pending) else data.X
        if data.G.shape[1] > 0:
            # incumbents: best feasible trials first, then the least-violating ones
            viol = np.where(np.isfinite(data.G), np.clip(data.G, 0, None), np.inf).sum(axis=1)
            incumbents = data.X[np.lexsort((y, viol))[:5]]
            config = self._config_acquisition(data, model, rng)
        else:
            incumbents = data.X[np.argsort(y)[:5]]
            config = None
        if config is not None:
            acq = config
        else:
            acq = make_acquisition(self.acquisition_name, model, y, rng, beta=self.ucb_beta)
        kwargs = {"incumbents": incumbents, "exclude": exclude}
        if getattr(acq, "optimize", None) is not None:
            x, best = acq.optimize(space, rng, **kwargs)
        else:
            x, best = optimize_acquisition(
                acq, space, rng, n_raw=self.n_raw, n_restarts=self.n_restarts, **kwargs
            )
        if config is not None:
            info["declared_infeasible"] = self._declares_infeasible(acq, space, data, rng, best)
        return x

    def _config_acquisition(self, data: Dataset, model, rng: np.random.Generator):
        """CONFIG (papers.md §1): one surrogate per constraint, optimistic feasible set, objective LCB.

        Returns None when no constraint has enough observations to be modelled (the proposal is then
        unconstrained, with the feasibility-ordered incumbents).
        """
        from acquisition.config import ConfigAcquisition

        cmodels = []
        for i in range(data.G.shape[1]):
            gi = data.G[:, i]
            ok = np.isfinite(gi)
            if ok.sum() < 2:
                continue  # too few observations of this constraint to model it: treat it as unknown
            cmodels.append(self._fit(data.X[ok], gi[ok], data.X_pending, rng, constraint=True))
        if not cmodels:
            return None
        return ConfigAcquisition(
            model, cmodels, beta=self.config_beta, objective_beta=self.config_objective_beta
        )

    def _declares_infeasible(
        self, acq, space: SearchSpace, data: Dataset, rng: np.random.Generator, best: float
    ):
        """CONFIG step 4, checked over the optimizer's whole candidate set plus a dense Sobol check and the observed
        points, never on one weak solver run; never when a feasible trial has been observed."""
        from acquisition.config import ConfigAcquisition, is_declaration

        if not isinstance(acq, ConfigAcquisition) or data.feasible.any() or not is_declaration(best):
            return False
        if data.n < self.startup_trials(space.dim) + self.declare_after:
            return False
        from scipy.stats import qmc

        # fixed-kernel-like uncertainty for the check: lengthscales capped at the prior median (unit cube)
        cons = [
            m.with_lengthscale_cap(1.0) if hasattr(m, "with_lengthscale_cap") else m for m in acq.constraints
        ]
        strict = ConfigAcquisition(
            acq.objective, cons, beta=max(self.declare_beta, acq.beta), objective_beta=acq.objective_beta
        )
        check = qmc.Sobol(space.dim, scramble=True, seed=rng).random_base2(12)
        check = np.concatenate([space.round_encoded(check), data.X])
        return bool(np.all(is_declaration(strict(check))))
