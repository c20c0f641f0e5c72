"""Approximate inverse-Hessian-vector products ``x ~ H^{-1} v`` for the implicit hypergradient.

Notation and shapes: ``H`` is symmetric, available only as a product ``hvp(v)`` (see ``_hvp``); vectors are tensor
lists shaped like the parameters (see ``_vectors``). Every solver here costs a known number of products and keeps
O(1) vectors, independent of that number, so memory is O(#params).

Equation numbers refer to papers.md §4 (Lorraine et al., 2020):
- Neumann (Alg. 3): ``H^{-1} = alpha sum_{j>=0} (I - alpha H)^j``, truncated after ``i`` terms.
- Conjugate gradient (paper's CG baseline; Hestenes & Stiefel), started at ``x0 = 0``.
- Exact: dense solve, the paper's ``inverse_comparison`` reference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from hpo.implicit import _vectors as V

HVP = Callable[[Sequence[torch.Tensor]], V.TensorList]

#: Relative growth of a Neumann term's norm that counts as divergence. For symmetric ``H`` with
#: ``0 < alpha * eig < 2`` every term is no longer than the previous one, so growth beyond rounding means the series
#: diverges (``alpha`` too large, or negative curvature).
GROWTH_TOL = 1e-3


class HypergradientDivergenceError(RuntimeError):
    """The inverse-HVP approximation diverged (Neumann terms grew, or CG met non-positive curvature).

    Raised by :func:`hpo.implicit.hypergradient` with ``on_divergence="raise"``. The usual cures are a smaller
    ``alpha``, ``damping > 0``, or more training steps before the hyper-step (the IFT assumes a minimum of ``L_T``).
    """


@dataclass
class SolveInfo:
    """What a solver did; kept on :class:`hpo.implicit.HyperOptimizer` as ``last_info``."""

    method: str
    n_hvp: int = 0
    iterations: int = 0
    diverged: bool = False
    residual: float | None = None
    alpha: float | None = None
    lambda_max: float | None = None
    lambda_min: float | None = None


def _diverged(message: str, on_divergence: str, truncation: str) -> None:
    if on_divergence == "raise":
        raise HypergradientDivergenceError(message)
    warnings.warn(f"{message}; {truncation}", RuntimeWarning, stacklevel=4)


def neumann(
    hvp: HVP, v: Sequence[torch.Tensor], *, terms: int, alpha: float, on_divergence: str, info: SolveInfo
) -> V.TensorList:
    """Truncated Neumann series ``alpha * sum_{j=0..terms} (I - alpha H)^j v`` (Alg. 3; ``terms`` = the paper's i).

    Uses ``terms`` products. ``terms=0`` is the identity approximation ``alpha * v``. Divergence is detected when a
    term's norm grows by more than ``GROWTH_TOL`` over the smallest one so far. ``v`` is consumed (updated in place
    as the current term), which saves one parameter-sized vector.
    """
    total = V.clone(v)  # p = v
    term = list(v)  # the current (I - alpha H)^j v
    smallest = V.norm(term)
    for j in range(terms):
        hv = hvp(term)
        V.axpy_(term, -alpha, hv)  # v <- v - alpha H v
        del (
            hv
        )  # free it before the next product allocates its own: peak memory is what limits 1M-weight models
        size = V.norm(term)
        if not math.isfinite(size) or size > smallest * (1.0 + GROWTH_TOL):
            info.diverged = True
            _diverged(
                f"Neumann series diverged at term {j + 1} of terms={terms}: |term| grew from {smallest:.3g} to "
                f"{size:.3g} (alpha={alpha:.4g}; needs 0 < alpha < 2/lambda_max and a positive definite Hessian)",
                on_divergence,
                "truncated the series before the growing term",
            )
            break
        smallest = min(smallest, size)
        V.axpy_(total, 1.0, term)  # p <- p + v
        info.iterations = j + 1
    info.residual = None
    return V.scale_(total, alpha)


def conjugate_gradient(
    hvp: HVP,
    v: Sequence[torch.Tensor],
    *,
    max_iter: int,
    tol: float,
    on_divergence: str,
    info: SolveInfo,
) -> V.TensorList:
    """Conjugate gradient for ``H x = v`` from ``x0 = 0``: at most ``max_iter`` products.

    Stops early when ``|r| <= tol * |v|``. On non-positive curvature ``p^T H p <= 0`` (an indefinite Hessian away
    from a minimum) CG is undefined; that counts as divergence and the iterate so far is returned. ``v`` is consumed
    (it becomes the residual), which saves one parameter-sized vector.
    """
    x = V.zeros_like(v)
    r = list(v)
    p = V.clone(v)
    rr = V.dot(r, r)
    v_norm = rr**0.5
    if v_norm == 0.0:
        info.residual = 0.0
        return x
    for k in range(max_iter):
        hp = hvp(p)
        curvature = V.dot(p, hp)
        if not curvature > 0.0:  # also catches NaN
            info.diverged = True
            _diverged(
                f"conjugate gradient met non-positive curvature p^T H p = {curvature:.3g} at iteration {k + 1} "
                f"(the Hessian is not positive definite here; add damping or train closer to a minimum)",
                on_divergence,
                "using the iterate reached before it",
            )
            break
        step = rr / curvature
        V.axpy_(x, step, p)
        V.axpy_(r, -step, hp)
        del hp  # free it before the next product allocates its own
        rr_new = V.dot(r, r)
        info.iterations = k + 1
        if rr_new**0.5 <= tol * v_norm:
            rr = rr_new
            break
        V.xpby_(p, r, rr_new / rr)
        rr = rr_new
    info.residual = rr**0.5 / v_norm
    return x


def lanczos_extremes(
    hvp: HVP, like: Sequence[torch.Tensor], *, iters: int, seed: int = 0
) -> tuple[float, float]:
    """Estimate ``(lambda_min, lambda_max)`` of ``H`` from ``iters`` products (Lanczos, no reorthogonalisation).

    Why Lanczos rather than plain power iteration: with the same products it returns the largest Ritz value over
    the whole Krylov space, never below the power method's Rayleigh quotient, so ``1/lambda_max`` and the
    ``2/lambda_max`` guard are sharper at equal cost. Ritz values lie inside the spectrum, so the estimate of
    ``lambda_max`` is from below. The start vector is Gaussian from a fixed seed, so results are reproducible.
    """
    gen = torch.Generator(device=like[0].device).manual_seed(seed)
    q = [torch.randn(t.shape, generator=gen, dtype=t.dtype, device=t.device) for t in like]
    V.scale_(q, 1.0 / V.norm(q))
    q_prev: V.TensorList | None = None
    alphas: list[float] = []
    betas: list[float] = []
    beta = 0.0
    for _ in range(max(1, iters)):
        w = hvp(q)
        a = V.dot(q, w)
        alphas.append(a)
        V.axpy_(w, -a, q)
        if q_prev is not None:
            V.axpy_(w, -beta, q_prev)
        beta = V.norm(w)
        if beta <= 1e-10 * max(abs(a), 1e-30):  # invariant subspace found: the Ritz values are exact
            break
        betas.append(beta)
        q_prev, q = q, V.scale_(w, 1.0 / beta)
    m = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if m > 1:
        off = torch.tensor(betas[: m - 1], dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    ritz = torch.linalg.eigvalsh(t)
    return float(ritz[0]), float(ritz[-1])


def exact(hessian: torch.Tensor, v: Sequence[torch.Tensor]) -> V.TensorList:
    """Solve ``H x = v`` with the dense (symmetrised) Hessian; ``v``'s shapes are restored on the result."""
    flat = torch.cat([t.reshape(-1) for t in v])
    sym = 0.5 * (hessian + hessian.T)
    try:
        x = torch.linalg.solve(sym, flat)
    except RuntimeError as err:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise ValueError(
            "method='exact': the Hessian of inner_loss is singular at params; pass damping > 0"
        ) from err
    out = []
    start = 0
    for t in v:
        out.append(x[start : start + t.numel()].reshape(t.shape))
        start += t.numel()
    return out
