"""CONFIG: constrained optimistic optimization (Xu, Jiang, Svetozarevic, Jones, ICML 2023; papers.md §1).

Shapes: ``(n, d)`` encoded points in, ``(n,)`` scores out.

The auxiliary problem of step 3::

    x_t = argmin_x LCB_f(x)   subject to   LCB_i(x) <= 0 for every constraint i        (optimistic feasible set)
    LCB(x) = posterior(x).quantile(q),  q = Phi(-sqrt(beta))  (= mu - sqrt(beta) sigma for a Gaussian posterior)

Only lower bounds are needed, so any surrogate with ``posterior(X).quantile(q)`` works (GP, CQR, GO-UCB).

The score is lexicographic, never a finite penalty (papers.md pitfall: the reference code adds +1e10 to every
infeasible candidate and silently returns the unconstrained optimum when nothing is feasible):

* an optimistically feasible point scores ``-LCB_f(x)`` (larger is better);
* an infeasible point scores ``-1e30 * (1 + V(x))``, below every feasible point (objective values are far
  smaller than 1e30; the product keeps V's precision, which a sum would lose), where
  ``V(x) = sum_i max(LCB_i(x), 0) / s_i`` is its optimistic violation in units of each constraint's scale ``s_i``
  — so when nothing is feasible the optimizer returns the least-violating point.

After the optimizer has scored its whole candidate set (Sobol points, incumbent perturbations and the locally refined
starts), the problem is *declared infeasible* (step 4) iff no scored point was optimistically feasible; see
:func:`is_declaration`. For gradient refinement on GP models a smooth surrogate score is used
(``-LCB_f - rho * V^2``); every refined point is then re-scored exactly before it can win.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from acquisition.base import Acquisition

__all__ = ["ConfigAcquisition", "INFEASIBLE_OFFSET", "is_declaration", "DEFAULT_BETA"]

#: Scores at or below ``-INFEASIBLE_OFFSET`` belong to optimistically infeasible points.
INFEASIBLE_OFFSET = 1e30
#: beta (the squared confidence multiplier): sqrt(beta) = 3 as in the reference implementation of CONFIG.
DEFAULT_BETA = 9.0


class ConfigAcquisition(Acquisition):
    """The CONFIG auxiliary problem as one score.

    Args:
        objective: fitted surrogate of the objective (minimize).
        constraints: fitted surrogates of each constraint ``g_i`` (feasible iff ``g_i <= 0``).
        beta: squared confidence multiplier for the constraints' bounds (default 9, i.e. 3 sigma).
        objective_beta: squared multiplier for the objective's LCB (default: ``beta``).
        scales: one positive scale per constraint; violations are summed in these units, so a constraint measured
            in thousands does not drown one measured in fractions (default: 1 each).
        pessimistic: use the constraints' *upper* bounds instead (``UCB_i(x) <= 0``: feasible with high
            probability). Not CONFIG's proposal rule: the scheduler's feasible-side step, which secures feasible
            improvements near an active constraint that the optimistic rule approaches from the infeasible side.

    Raises:
        ValueError: a negative or non-finite beta, or no constraint model.
    """

    def __init__(
        self,
        objective,
        constraints: Sequence,
        *,
        beta: float = DEFAULT_BETA,
        objective_beta: float | None = None,
        scales: Sequence[float] | None = None,
        pessimistic: bool = False,
    ) -> None:
        for name, b in (("beta", beta), ("objective_beta", objective_beta)):
            if b is not None and not (math.isfinite(b) and b >= 0.0):
                raise ValueError(f"{name}={b!r} must be a finite number >= 0")
        if not constraints:
            raise ValueError("ConfigAcquisition needs at least one constraint model")
        self.objective = objective
        self.constraints = list(constraints)
        self.beta = float(beta)
        self.objective_beta = float(beta if objective_beta is None else objective_beta)
        if scales is None:
            scales = [1.0] * len(self.constraints)
        self.scales = np.asarray(scales, dtype=float)
        if self.scales.shape != (len(self.constraints),) or not np.all(
            np.isfinite(self.scales) & (self.scales > 0)
        ):
            raise ValueError(f"scales={scales!r} must be one finite positive number per constraint")
        self.pessimistic = bool(pessimistic)
        self.differentiable = all(hasattr(m, "predict_torch") for m in [objective, *self.constraints])

    @staticmethod
    def _lcb(model, X: np.ndarray, beta: float, sign: float = -1.0) -> np.ndarray:
        if beta == 0.0:
            return np.asarray(model.posterior(X).mean, dtype=float)
        return np.asarray(model.posterior(X).quantile(float(norm.cdf(sign * math.sqrt(beta)))), dtype=float)

    def feasible_side(self, beta: float, objective_beta: float | None = None) -> ConfigAcquisition:
        """The same models with pessimistic constraint bounds at ``beta``: the scheduler's feasible-side step
        (``objective_beta`` None keeps this acquisition's)."""
        return ConfigAcquisition(
            self.objective,
            self.constraints,
            beta=beta,
            objective_beta=self.objective_beta if objective_beta is None else objective_beta,
            scales=self.scales,
            pessimistic=True,
        )

    def widened(self, factor: float) -> ConfigAcquisition:
        """The same acquisition with both betas multiplied by ``factor`` (wider confidence bounds)."""
        return ConfigAcquisition(
            self.objective,
            self.constraints,
            beta=self.beta * factor,
            objective_beta=self.objective_beta * factor,
            scales=self.scales,
            pessimistic=self.pessimistic,
        )

    def lower_bounds(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(LCB_f (n,), B_g (n, m))`` at encoded points: the objective's lower bound and the constraints' lower
        bounds (upper bounds when ``pessimistic``)."""
        X = np.asarray(X, dtype=float)
        lf = self._lcb(self.objective, X, self.objective_beta)
        sign = 1.0 if self.pessimistic else -1.0
        lg = np.stack([self._lcb(m, X, self.beta, sign) for m in self.constraints], axis=1)
        return lf, lg

    def __call__(self, X: np.ndarray) -> np.ndarray:
        lf, lg = self.lower_bounds(X)
        violation = (np.clip(lg, 0.0, None) / self.scales).sum(axis=1)
        feasible = violation <= 0.0
        return np.where(feasible, -lf, -INFEASIBLE_OFFSET * (1.0 + violation))

    def torch_constrained(self, X):
        """``(score (n,), constraints (n, m))`` for the optimizer's SLSQP step (GP models only): the score is
        ``-LCB_f``, the constraints are each bound in units of its scale, feasible iff ``<= 0`` — the auxiliary
        problem exactly as stated, so refinement can walk along an active constraint."""
        import torch

        mf, sf = self.objective.predict_torch(X)
        score = -(mf - math.sqrt(self.objective_beta) * sf)
        sign = 1.0 if self.pessimistic else -1.0
        cons = []
        for m, scale in zip(self.constraints, self.scales, strict=True):
            mg, sg = m.predict_torch(X)
            cons.append((mg + sign * math.sqrt(self.beta) * sg) / float(scale))
        return score, torch.stack(cons, dim=1)

    def torch_value(self, X):
        """Smooth score for L-BFGS-B: ``-LCB_f - rho * V^2`` (GP models only)."""
        import torch

        score, cons = self.torch_constrained(X)
        v = torch.zeros_like(score)
        for j in range(cons.shape[1]):  # summed in order, term by term (bit-for-bit the earlier proposals)
            v = v + torch.relu(cons[:, j])
        rho = 1e3 * (1.0 + score.detach().abs().max())
        return score - rho * v * v


def is_declaration(score):
    """True where a score is optimistically infeasible; for the optimizer's best score: no candidate was feasible."""
    return np.asarray(score) <= -INFEASIBLE_OFFSET
