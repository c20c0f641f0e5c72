"""The surrogate interface every model implements, and the posterior objects acquisitions consume.

Shapes: ``X`` is ``(n, d)`` in the unit cube (see :class:`hpo.space.SearchSpace`), ``y`` is ``(n,)``, and every
posterior statistic is ``(n,)`` (``sample`` returns ``(n_samples, n)``). Orientation: smaller ``y`` is better.

Why one interface: acquisitions (CONFIG, LogEI, UCB, Thompson) only need means, quantiles or samples, so any
model that can answer ``posterior(X)`` works with all of them, and the scheduler never knows which model it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.stats import norm

__all__ = ["Posterior", "GaussianPosterior", "QuantilePosterior", "Surrogate", "NotFittedError", "check_Xy"]


class NotFittedError(RuntimeError):
    """Raised when a surrogate is used before ``fit``."""


class Posterior(ABC):
    """Predictive distribution at ``n`` points."""

    @property
    @abstractmethod
    def mean(self) -> np.ndarray:
        """``(n,)`` predictive mean (or median for quantile models)."""

    @abstractmethod
    def quantile(self, q: float) -> np.ndarray:
        """``(n,)`` predictive ``q``-quantile, ``0 < q < 1``."""

    @abstractmethod
    def sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """``(n_samples, n)`` draws, independent across points."""


class GaussianPosterior(Posterior):
    """Independent normal marginals ``N(mean, std**2)``."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self._mean = np.asarray(mean, dtype=float)
        self.std = np.maximum(np.asarray(std, dtype=float), 0.0)

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    def quantile(self, q: float) -> np.ndarray:
        if not 0.0 < q < 1.0:
            raise ValueError(f"q={q!r} must be in (0, 1)")
        return self._mean + norm.ppf(q) * self.std

    def sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        return self._mean + self.std * rng.standard_normal((n_samples, self._mean.shape[0]))


class QuantilePosterior(Posterior):
    """Marginals given by a few predicted quantile levels (sorted so they never cross).

    ``quantile(q)`` interpolates linearly between the predicted levels and extrapolates flat beyond them, so it
    always answers; ``sample`` draws one of the predicted levels uniformly per point (quantile Thompson sampling).
    """

    def __init__(self, levels: np.ndarray, values: np.ndarray) -> None:
        self.levels = np.asarray(levels, dtype=float)
        self.values = np.sort(np.asarray(values, dtype=float), axis=1)  # (n, m)
        if self.values.shape[1] != self.levels.shape[0]:
            raise ValueError(f"values has {self.values.shape[1]} columns for {self.levels.shape[0]} levels")

    @property
    def mean(self) -> np.ndarray:
        return np.array([np.interp(0.5, self.levels, row) for row in self.values])

    def quantile(self, q: float) -> np.ndarray:
        if not 0.0 < q < 1.0:
            raise ValueError(f"q={q!r} must be in (0, 1)")
        return np.array([np.interp(q, self.levels, row) for row in self.values])

    def sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        n, m = self.values.shape
        idx = rng.integers(0, m, size=(n_samples, n))
        return self.values[np.arange(n)[None, :], idx]


def check_Xy(X: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate training inputs: 2-D finite ``X``, 1-D finite ``y`` of matching length."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    if y is None:
        return X, None
    y = np.asarray(y, dtype=float).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    return X, y


class Surrogate(ABC):
    """A regression model of an objective or constraint over the unit cube.

    scikit-learn contract: ``__init__`` only stores options, ``fit`` validates and returns ``self``, learned
    state ends in ``_``, and ``posterior`` before ``fit`` raises :class:`NotFittedError`.
    """

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> Surrogate:
        """Fit on ``(n, d)`` inputs and ``(n,)`` targets (smaller is better)."""

    @abstractmethod
    def posterior(self, X: np.ndarray) -> Posterior:
        """Predictive distribution at ``(m, d)`` points."""

    def get_params(self) -> dict:
        """The constructor options (scikit-learn style), read back from same-named attributes."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}

    def with_fantasies(self, X_new: np.ndarray, y_new: np.ndarray) -> Surrogate:
        """A model that also believes ``y_new`` at ``X_new`` (pending trials; Kriging believer / constant liar).

        The default refits a fresh copy on the training data plus the fantasies (the model must keep its training
        data in ``X_train_`` / ``y_train_``); models with a cheaper exact update (the GP) override it.
        """
        self._check_fitted("X_train_")
        X_new, y_new = check_Xy(X_new, y_new)
        if X_new.shape[0] == 0:
            return self
        X = np.concatenate([self.X_train_, X_new])
        y = np.concatenate([self.y_train_, y_new])
        return type(self)(**self.get_params()).fit(X, y)

    def _check_fitted(self, attr: str) -> None:
        if not hasattr(self, attr):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X, y) first")
