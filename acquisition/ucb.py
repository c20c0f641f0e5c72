"""Confidence-bound acquisitions for minimization.

Shapes: ``(n, d)`` in, ``(n,)`` out.

``LCB(x) = mu(x) - sqrt(beta) * sigma(x)``; the acquisition returns ``-LCB`` so that larger is better, as for every
acquisition. ``beta`` trades exploration for exploitation; 4 (two standard deviations) is a robust default for
standardized outputs.
"""

from __future__ import annotations

import math

from acquisition.base import Acquisition

__all__ = ["UCB"]


class UCB(Acquisition):
    """Optimism in the face of uncertainty: the negated lower confidence bound (we minimize).

    Args:
        model: fitted surrogate with ``predict_torch(X) -> (mean, std)``.
        beta: confidence multiplier squared; must be >= 0.
    """

    differentiable = True

    def __init__(self, model, beta: float = 4.0) -> None:
        if not (beta >= 0.0 and math.isfinite(beta)):
            raise ValueError(f"beta={beta!r} must be a finite number >= 0")
        self.model = model
        self.beta = float(beta)

    def torch_value(self, X):
        mean, std = self.model.predict_torch(X)
        return -(mean - math.sqrt(self.beta) * std)


def from_model(model, y, rng, *, beta: float = 4.0, **options) -> UCB:
    """Factory for the registry."""
    return UCB(model, beta=beta)
