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
from dataclasses import dataclass
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
        n_startup_trials: number of observed trials before the model takes over (Sobol design before that).
        ucb_beta: confidence multiplier for "ucb".
        n_raw: raw Sobol candidates for the acquisition optimizer.
        n_restarts: locally refined starts.
    """

    surrogate: str = "gp"
    acquisition: str = "auto"
    n_startup_trials: int = 10
    ucb_beta: float = 4.0
    n_raw: int = 1024
    n_restarts: int = 8

    def __post_init__(self) -> None:
        from acquisition import ACQUISITIONS
        from surrogates import SURROGATES

        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate={self.surrogate!r} is not one of {sorted(SURROGATES)!r}")
        if self.acquisition != "auto" and self.acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition={self.acquisition!r} is not one of {['auto', *sorted(ACQUISITIONS)]!r}")
        if isinstance(self.n_startup_trials, bool) or int(self.n_startup_trials) < 1:
            raise ValueError(f"n_startup_trials={self.n_startup_trials!r} must be an integer >= 1")

    @property
    def acquisition_name(self) -> str:
        """The acquisition actually used ("auto" resolves to the surrogate's own)."""
        from acquisition import DEFAULT_ACQUISITION

        return DEFAULT_ACQUISITION[self.surrogate] if self.acquisition == "auto" else self.acquisition

    def propose(self, data: Dataset, space: SearchSpace, *, seed: int, trial_number: int) -> dict[str, Any]:
        """The configuration for trial ``trial_number``: a pure function of ``(data, space, seed, trial_number)``."""
        if data.n < self.n_startup_trials:
            x = sobol_point(space.dim, seed, trial_number)
            return space.decode(space.round_encoded(x[None, :]))[0]
        rng = proposal_rng(seed, trial_number)
        x = self._model_based(data, space, rng)
        return space.decode(x[None, :])[0]

    def _model_based(self, data: Dataset, space: SearchSpace, rng: np.random.Generator) -> np.ndarray:
        from acquisition import make_acquisition
        from acquisition.optimize import optimize_acquisition
        from surrogates import make_surrogate

        y = data.y if data.Y.shape[1] == 1 else _scalarize(data.Y, rng)
        model = make_surrogate(self.surrogate, seed=int(rng.integers(2**31))).fit(data.X, y)
        if len(data.X_pending):
            believed = model.posterior(data.X_pending).mean
            model = model.with_fantasies(data.X_pending, believed)
        acq = make_acquisition(self.acquisition_name, model, y, rng, beta=self.ucb_beta)
        order = np.argsort(y)
        exclude = np.concatenate([data.X, data.X_pending]) if len(data.X_pending) else data.X
        kwargs = {"incumbents": data.X[order[:5]], "exclude": exclude}
        if acq.optimize is not None:
            x, _ = acq.optimize(space, rng, **kwargs)
        else:
            x, _ = optimize_acquisition(acq, space, rng, n_raw=self.n_raw, n_restarts=self.n_restarts, **kwargs)
        return x
