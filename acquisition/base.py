"""The acquisition interface: a score over encoded points, larger is better.

Shapes: ``(n, d)`` in, ``(n,)`` out. An acquisition that can also run on torch tensors with autograd sets
``differentiable = True`` and implements ``torch_value``; the optimizer then refines continuous dimensions with
L-BFGS-B, and otherwise falls back to derivative-free local moves.
"""

from __future__ import annotations

from abc import ABC

import numpy as np

__all__ = ["Acquisition"]


class Acquisition(ABC):  # noqa: B024 (either __call__ or torch_value is overridden)
    """Scores candidate points; larger is better."""

    differentiable: bool = False

    #: An acquisition that chooses among its own candidate set (e.g. quantile Thompson sampling, whose random
    #: draws make scores of separate calls incomparable) implements
    #: ``optimize(space, rng, *, incumbents, exclude) -> (x, value)``; the scheduler then calls it instead of
    #: :func:`acquisition.optimize.optimize_acquisition`.
    optimize = None

    #: An acquisition with hard constraints (a score of ``-inf``-like magnitude outside a feasible set, as CONFIG's)
    #: implements ``torch_constrained(X) -> (score (n,), constraints (n, m))``, feasible iff every constraint is
    #: ``<= 0`` and ``__call__`` equals ``score`` there; the optimizer then also refines with SLSQP, which follows an
    #: active constraint where a smooth penalty stops short of it or overshoots.
    torch_constrained = None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """``(n, d)`` numpy -> ``(n,)`` numpy scores."""
        import torch

        from surrogates.gp import torch_threads

        if not self.differentiable:
            raise NotImplementedError(f"{type(self).__name__} must override __call__")
        with torch_threads(1), torch.no_grad():
            return self.torch_value(torch.as_tensor(np.asarray(X, dtype=float))).numpy()

    def torch_value(self, X):  # (n, d) tensor -> (n,) tensor
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")

    def value_and_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores ``(n,)`` and their gradients ``(n, d)`` (each score depends on its own row only)."""
        import torch

        from surrogates.gp import torch_threads

        with torch_threads(1):
            Xt = torch.tensor(np.asarray(X, dtype=float), requires_grad=True)
            v = self.torch_value(Xt)
            v.sum().backward()
            return v.detach().numpy(), Xt.grad.numpy()
