"""Log expected improvement (LogEI, Ament et al., NeurIPS 2023) for minimization.

Shapes: ``(n, d)`` in, ``(n,)`` out.

EI(x) = sigma(x) * h(z), z = (best - mu(x)) / sigma(x), h(z) = phi(z) + z Phi(z). Plain EI underflows to exactly 0
far from the incumbent, leaving the optimizer a flat landscape; log h(z) is computed stably instead: directly for
z > -1, and for z <= -1 through the scaled complementary error function (``erfcx``), since
h(z) = phi(z) * (1 - |z| Phi(z)/phi(z)) and Phi(z)/phi(z) = sqrt(pi/2) erfcx(-z/sqrt(2)); for z < -1e4 the
asymptote h(z) ~ phi(z)/z^2 is used.
"""

from __future__ import annotations

import math

from acquisition.base import Acquisition

__all__ = ["ConstrainedLogEI", "LogEI", "log_h"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def log_h(z):
    """Stable ``log(phi(z) + z * Phi(z))`` for a torch tensor ``z``."""
    import torch

    log_phi = -0.5 * z * z - _LOG_SQRT_2PI
    z_hi = z.clamp_min(-1.0)
    direct = torch.log(
        torch.exp(-0.5 * z_hi * z_hi) / math.sqrt(2 * math.pi) + z_hi * torch.special.ndtr(z_hi)
    )
    z_mid = z.clamp(-1e4, -1.0)
    ratio = -z_mid * math.sqrt(math.pi / 2.0) * torch.special.erfcx(-z_mid / math.sqrt(2.0))
    mid = -0.5 * z_mid * z_mid - _LOG_SQRT_2PI + torch.log1p(-ratio.clamp_max(1.0 - 1e-16))
    z_lo = z.clamp_max(-1e4)
    low = log_phi - 2.0 * torch.log(-z_lo)
    return torch.where(z > -1.0, direct, torch.where(z > -1e4, mid, low))


class LogEI(Acquisition):
    """``log EI`` of a Gaussian surrogate exposing ``predict_torch`` (e.g. :class:`surrogates.gp.GPSurrogate`).

    Args:
        model: fitted surrogate with ``predict_torch(X) -> (mean, std)``.
        best_f: incumbent value (smallest observed, in the model's units).
    """

    differentiable = True

    def __init__(self, model, best_f: float) -> None:
        self.model = model
        self.best_f = float(best_f)

    def torch_value(self, X):
        import torch

        mean, std = self.model.predict_torch(X)
        std = std.clamp_min(1e-12)
        z = (self.best_f - mean) / std
        return torch.log(std) + log_h(z)


class ConstrainedLogEI(Acquisition):
    """``log EI(x) + sum_i log P(g_i(x) <= 0)``: expected improvement over the best *feasible* value times the
    probability of feasibility (Gardner et al., 2014), on the log scale; Gaussian surrogates with ``predict_torch``.

    Args:
        objective: fitted objective surrogate.
        constraints: fitted constraint surrogates (feasible iff ``g_i <= 0``).
        best_f: best feasible value (in the objective model's units).
    """

    differentiable = True

    def __init__(self, objective, constraints, best_f: float) -> None:
        self.objective = objective
        self.constraints = list(constraints)
        self.best_f = float(best_f)

    def torch_value(self, X):
        import torch

        total = LogEI(self.objective, self.best_f).torch_value(X)
        for m in self.constraints:
            mg, sg = m.predict_torch(X)
            total = total + torch.special.log_ndtr(-mg / sg.clamp_min(1e-12))
        return total


def from_model(model, y, rng, *, y_pending=None, **options) -> LogEI:
    """Factory for the registry: LogEI against the best observed target.

    ``y_pending``: the values the model was conditioned on at pending trials (the scheduler's Kriging believer).
    They count as observations for the incumbent too: otherwise a pending point whose believed value beats the
    best observed one keeps EI = improvement > 0 at itself, where the model has no uncertainty left, and the
    optimizer's refined starts converge onto the pending point (which is excluded) instead of elsewhere.
    """
    import numpy as np

    best = float(np.min(y))
    if y_pending is not None and len(y_pending):
        best = min(best, float(np.min(y_pending)))
    return LogEI(model, best_f=best)
