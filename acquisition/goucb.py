"""GO-UCB's optimistic index (Liu & Wang, ICML 2023; papers.md §3, step 7) for minimization.

Shapes: ``(n, d)`` in, ``(n,)`` out.

The inner maximization of step 7 over the confidence ball ``||w - w_t||_{Sigma_t} <= sqrt(beta_t)``, linearized at
``w_t``, has the closed form ``f_{w_t}(x) -/+ sqrt(beta_t) * ||g(x)||_{Sigma_t^-1}``; we minimize, so the optimistic
value is the lower one and the acquisition returns its negation (larger is better)::

    acq(x) = -(f_w(x) - sqrt(beta_t) * width(x))  -  penalty(x)

``width`` comes from :class:`surrogates.goucb.GOUCBSurrogate` (``predict_torch``, differentiable in ``x`` through
the network), so the shared optimizer's L-BFGS-B steps in the continuous dimensions follow the network's input
gradients. Any surrogate with ``predict_torch`` works.

``beta_t`` grows like ``log t`` (the paper's ``beta_t`` is polylogarithmic in ``t``; its constants are unverified,
papers.md), so exploration keeps pace with the number of observations ``t``::

    beta_t = beta * log(1 + t) / log(11)          # = beta at t = 10, the usual end of Phase I

Trust region (a departure from the paper, on by default). A network fitted to a few dozen points in 20+
dimensions extrapolates (nearly) linearly, and ``||g(x)||`` grows with ``||x||``, so the unconstrained index is
largest at corners of the cube, where the objective is rarely good. The outer maximization is therefore kept in a box
of side ``L`` around the incumbent, with ``L`` set from the history as in TuRBO (Eriksson et al., NeurIPS 2019), but
recomputed from the trial sequence rather than kept as state: ``L`` doubles after 3 improvements in a row, halves
after ``max(4, d / 4)`` proposals without one, and restarts at its initial value when it falls below ``2^-7``. The
box is a quadratic penalty, so raw candidates outside it lose and L-BFGS-B steps stay inside. Columns whose observed
values are all 0 or 1 (one-hot blocks, booleans) are left free.
"""

from __future__ import annotations

import math

import numpy as np

from acquisition.ucb import UCB

__all__ = ["GOUCB", "beta_schedule", "trust_region", "from_model"]

_TR_INIT, _TR_MIN, _TR_MAX = 0.8, 2.0**-7, 1.6


def beta_schedule(beta: float, t: int) -> float:
    """``beta_t`` after ``t`` observations.

    Raises:
        ValueError: ``beta`` negative or not finite, or ``t < 0``.
    """
    if not (math.isfinite(beta) and beta >= 0.0):
        raise ValueError(f"beta={beta!r} must be a finite number >= 0")
    if t < 0:
        raise ValueError(f"t={t!r} must be >= 0")
    return float(beta) * math.log1p(t) / math.log(11.0)


def trust_region(X: np.ndarray, y: np.ndarray, *, n_init: int = 10) -> tuple[np.ndarray, float, np.ndarray]:
    """Centre ``(d,)``, side length and free-column mask ``(d,)`` of the trust region after ``(n, d)``, ``(n,)``.

    The side length replays TuRBO's success/failure counters over the trials after the first ``n_init``.
    """
    n, d = X.shape
    length, succ, fail = _TR_INIT, 0, 0
    fail_tol = max(4, math.ceil(d / 4))
    k = min(n_init, n)
    best = float(np.min(y[:k])) if k else math.inf
    for v in y[k:]:
        if v < best - 1e-3 * abs(best):
            succ, fail = succ + 1, 0
        else:
            succ, fail = 0, fail + 1
        best = min(best, float(v))
        if succ >= 3:
            length, succ = min(2.0 * length, _TR_MAX), 0
        elif fail >= fail_tol:
            length, fail = length / 2.0, 0
            if length < _TR_MIN:
                length = _TR_INIT
    free = np.all((X == 0.0) | (X == 1.0), axis=0)
    return X[int(np.argmin(y))].copy(), length, free


class GOUCB(UCB):
    """The GO-UCB index ``-(mean - sqrt(beta_t) * width)``, optionally inside a trust region.

    Args:
        model: fitted surrogate with ``predict_torch(X) -> (mean, width)``.
        beta: the already scheduled ``beta_t`` (see :func:`beta_schedule`).
        region: ``(centre, length, free)`` from :func:`trust_region`, or None for the whole cube.
    """

    def __init__(
        self, model, beta: float, region: tuple[np.ndarray, float, np.ndarray] | None = None
    ) -> None:
        super().__init__(model, beta=beta)
        self.region = region

    def torch_value(self, X):
        import torch

        value = super().torch_value(X)
        if self.region is None:
            return value
        centre, length, free = self.region
        out = (X - torch.as_tensor(centre)).abs() - 0.5 * length
        out = torch.where(torch.as_tensor(free), torch.zeros_like(out), out.clamp_min(0.0))
        # in the target's units: leaving the box by 0.1 costs ~100 standard deviations
        return value - 1e4 * float(getattr(self.model, "y_std_", 1.0)) * (out * out).sum(-1)


def from_model(
    model,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    goucb_beta: float = 1.0,
    goucb_trust_region: bool = True,
    **options,
) -> GOUCB:
    """Factory for the registry: ``beta_t = beta_schedule(goucb_beta, len(y))`` and, when ``goucb_trust_region``
    and the model keeps its training inputs (``X_train_``), the trust region of :func:`trust_region`.

    Other options (the scheduler's ``beta`` for plain UCB among them) are ignored: GO-UCB's exploration weight has
    its own schedule.
    """
    X = getattr(model, "X_train_", None)
    region = trust_region(X, np.asarray(y, dtype=float)) if goucb_trust_region and X is not None else None
    return GOUCB(model, beta=beta_schedule(goucb_beta, len(y)), region=region)
