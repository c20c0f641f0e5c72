"""Acquisition optimization over mixed spaces (continuous, integer, stepped, categorical).

Shapes: candidates are ``(n, d)`` encoded points (see :class:`hpo.space.SearchSpace`); the result is one ``(d,)``
point.

Strategy, in the order it runs:
1. **Raw candidates**: a scrambled Sobol set over the cube, plus Gaussian perturbations of the incumbents (the best
   observed points) so the search is not blind in 10+ dimensions, all snapped to admissible values.
2. **Starts**: the ``n_restarts`` best distinct candidates.
3. **Local refinement**, alternating twice: L-BFGS-B on the continuous dimensions of all starts at once (one
   batched call: each score depends only on its own row, so the gradient of the sum is the stack of gradients),
   then greedy neighbour moves on the discrete dimensions (one step of an integer, a switch of a category).
   Derivative-free acquisitions get a pattern search instead (Gaussian perturbations of the continuous dimensions
   at shrinking scales, best kept). Acquisitions with hard constraints (``torch_constrained``, CONFIG's) are
   refined on a smooth penalty first, then by SLSQP on the constraints themselves; a refined point that lands a hair
   outside the feasible set is pulled back along its segment to the last point that still scores (bisection), so
   proposals reach active constraints instead of stopping at the nearest raw candidate.
4. Points that duplicate an ``exclude`` point (observed or pending trials) lose to any other point, so a fully
   discrete space is not proposed the same configuration twice while alternatives exist.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

from acquisition.base import Acquisition

__all__ = ["lbfgsb_batch", "neighbour_climb", "optimize_acquisition", "slsqp_batch"]


def _dedupe_mask(X: np.ndarray, exclude: np.ndarray | None, tol: float = 1e-9) -> np.ndarray:
    """``(n,)`` True where a row of ``X`` equals (within ``tol``) some row of ``exclude``."""
    if exclude is None or len(exclude) == 0:
        return np.zeros(len(X), dtype=bool)
    d2 = ((X[:, None, :] - exclude[None, :, :]) ** 2).sum(-1)
    return (d2 <= tol).any(axis=1)


def _scores(acq: Acquisition, X: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    v = np.asarray(acq(X), dtype=float)
    v = np.where(np.isfinite(v), v, -np.inf)
    dup = _dedupe_mask(X, exclude)
    return np.where(dup, -1e300, v)


def _box(d: int, lo: np.ndarray | None, hi: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The batch solvers' bounds as float arrays, the unit cube where not given."""
    lo = np.zeros(d) if lo is None else np.asarray(lo, dtype=float)
    hi = np.ones(d) if hi is None else np.asarray(hi, dtype=float)
    return lo, hi


def lbfgsb_batch(
    acq: Acquisition,
    X: np.ndarray,
    mask: np.ndarray,
    maxiter: int,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> np.ndarray:
    """Batched L-BFGS-B on the ``mask`` columns of every row of ``X`` within ``[lo, hi]`` (default: the unit cube;
    other columns fixed). One scipy run over all rows: the rows' scores are summed, each gradient is its own."""
    k, d = X.shape
    lo, hi = _box(d, lo, hi)
    m = int(mask.sum())
    base = X.copy()

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        Y = base.copy()
        Y[:, mask] = z.reshape(k, m)
        v, g = acq.value_and_grad(Y)
        v = np.where(np.isfinite(v), v, -1e10)
        g = np.where(np.isfinite(g), g, 0.0)
        return float(-v.sum()), -g[:, mask].reshape(-1)

    res = minimize(
        f,
        np.clip(base[:, mask], lo[mask], hi[mask]).reshape(-1),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(np.tile(lo[mask], k), np.tile(hi[mask], k), strict=True)),
        options={"maxiter": maxiter},
    )
    out = base.copy()
    out[:, mask] = np.clip(res.x.reshape(k, m), lo[mask], hi[mask])
    return out


def slsqp_batch(
    acq: Acquisition,
    X: np.ndarray,
    mask: np.ndarray,
    maxiter: int,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> np.ndarray:
    """Batched SLSQP for acquisitions with hard constraints (``acq.torch_constrained``): maximize each row's score
    subject to each row's constraint values ``<= 0``, on the ``mask`` columns within ``[lo, hi]``.

    Why not the penalty surrogate alone: L-BFGS-B's line search fails on a penalty steep enough to matter (it stops
    at the first iterate), and a penalty's optimum sits outside an active constraint anyway. SLSQP follows the
    active constraints themselves, which is where constrained optima lie (a pressure vessel at its minimal wall
    thickness). One scipy run over all rows: the objective is the sum of scores (scaled to order one so the
    quasi-Newton start is sensible), the constraints are stacked and each depends only on its own row.
    """
    import torch

    from surrogates.gp import torch_threads

    k, d = X.shape
    lo, hi = _box(d, lo, hi)
    m = int(mask.sum())
    base = X.copy()
    cache: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def evaluate(z: np.ndarray):
        key = z.tobytes()
        if key not in cache:
            Y = base.copy()
            Y[:, mask] = z.reshape(k, m)
            with torch_threads(1):
                Xt = torch.tensor(Y, requires_grad=True)
                score, cons = acq.torch_constrained(Xt)
                q = cons.shape[1]
                gs = torch.autograd.grad(score.sum(), Xt, retain_graph=True)[0][:, mask].numpy()
                gc = np.stack(
                    [
                        torch.autograd.grad(cons[:, j].sum(), Xt, retain_graph=j < q - 1)[0][:, mask].numpy()
                        for j in range(q)
                    ],
                    axis=1,
                )  # (k, q, m)
            cache.clear()
            cache[key] = (score.detach().numpy(), gs, cons.detach().numpy(), gc)
        return cache[key]

    s0 = evaluate(np.clip(base[:, mask], lo[mask], hi[mask]).reshape(-1))[0]
    scale = max(float(np.max(np.abs(s0[np.isfinite(s0)]), initial=0.0)), 1e-12)

    def fun(z):
        s, gs, _, _ = evaluate(z)
        return float(-s.sum() / scale), -gs.reshape(-1) / scale

    def cfun(z):
        return -evaluate(z)[2].reshape(-1)

    def cjac(z):
        gc = evaluate(z)[3]
        q = gc.shape[1]
        J = np.zeros((k * q, k * m))
        for i in range(k):
            J[i * q : (i + 1) * q, i * m : (i + 1) * m] = -gc[i]
        return J

    try:
        res = minimize(
            fun,
            np.clip(base[:, mask], lo[mask], hi[mask]).reshape(-1),
            jac=True,
            method="SLSQP",
            bounds=list(zip(np.tile(lo[mask], k), np.tile(hi[mask], k), strict=True)),
            constraints=[{"type": "ineq", "fun": cfun, "jac": cjac}],
            options={"maxiter": maxiter},
        )
    except (ValueError, np.linalg.LinAlgError):  # a degenerate subproblem: keep the starts
        return base
    out = base.copy()
    if np.all(np.isfinite(res.x)):
        out[:, mask] = np.clip(res.x.reshape(k, m), lo[mask], hi[mask])
    return out


def _segment_search(
    acq: Acquisition,
    space,
    cur: np.ndarray,
    cur_s: np.ndarray,
    cand: np.ndarray,
    cand_s: np.ndarray,
    exclude: np.ndarray | None,
    n_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """Rescue refined points that fell off a cliff of the exact score.

    Acquisitions with a hard feasibility rule (CONFIG's optimistic or pessimistic set) are refined on a smooth
    penalty surrogate, whose optimum sits a hair *outside* an active constraint; re-scored exactly, the refined point
    is infeasible and would be dropped, leaving the unrefined start, often far from the boundary where the optimum
    lies. For each such row, bisect the segment start -> refined point for the farthest point still scoring at least
    the start's score: it ends within ``2**-n_iter`` of the segment's length from the cliff. Rows whose refined
    point already scores better are returned unchanged.
    """
    lost = ~(cand_s > cur_s) & np.any(np.abs(cand - cur) > 0.0, axis=1)
    if not lost.any():
        return cand, cand_s
    a, b = cur[lost], cand[lost]
    base = cur_s[lost]
    lo = np.zeros(len(a))
    hi = np.ones(len(a))
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        s = _scores(acq, space.round_encoded(a + mid[:, None] * (b - a)), exclude)
        ok = s >= base
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    best = space.round_encoded(a + lo[:, None] * (b - a))
    best_s = _scores(acq, best, exclude)
    cand, cand_s = cand.copy(), cand_s.copy()
    cand[lost], cand_s[lost] = best, best_s
    return cand, cand_s


def _pattern_search(acq, space, cur, cur_s, mask, rng, exclude, n_per_start: int = 16):
    """Derivative-free refinement: Gaussian perturbations of the continuous dims at shrinking scales."""
    k, d = cur.shape
    for scale in (0.05, 0.02, 0.008, 0.003, 0.001):
        noise = rng.normal(0.0, scale, size=(k, n_per_start, d)) * mask
        cand = space.round_encoded(np.clip(cur[:, None, :] + noise, 0.0, 1.0).reshape(-1, d))
        cand_s = _scores(acq, cand, exclude).reshape(k, n_per_start)
        j = np.argmax(cand_s, axis=1)
        best_s = cand_s[np.arange(k), j]
        better = best_s > cur_s
        cur = np.where(better[:, None], cand.reshape(k, n_per_start, d)[np.arange(k), j], cur)
        cur_s = np.where(better, best_s, cur_s)
    return cur, cur_s


def optimize_acquisition(
    acq: Acquisition,
    space,
    rng: np.random.Generator,
    *,
    n_raw: int = 1024,
    n_restarts: int = 8,
    incumbents: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    maxiter: int = 100,
    to_boundary: bool = True,
) -> tuple[np.ndarray, float]:
    """Maximize ``acq`` over the encoded space.

    Args:
        acq: the acquisition (larger is better).
        space: the :class:`hpo.space.SearchSpace` that defines encoding, snapping and neighbours.
        rng: source of the Sobol scramble and perturbations; the result is a pure function of it.
        n_raw: number of Sobol candidates.
        n_restarts: number of starts refined locally.
        incumbents: ``(k, d)`` encoded good points to perturb around (best first), or None.
        exclude: ``(e, d)`` encoded points already evaluated or pending.
        maxiter: L-BFGS-B (and SLSQP) iterations per refinement.
        to_boundary: for acquisitions with hard constraints (``torch_constrained``), follow them to the boundary of
            their feasible set (SLSQP and the segment search); False keeps the penalty refinement only, whose points
            stay inside the set by the solver's slack.

    Returns:
        ``(x, value)``: the best admissible encoded point ``(d,)`` and its acquisition value.
    """
    d = space.dim
    sobol = qmc.Sobol(d, scramble=True, seed=rng)
    m = int(np.ceil(np.log2(max(n_raw, 2))))
    cands = [sobol.random_base2(m)[:n_raw]]
    if incumbents is not None and len(incumbents):
        inc = np.asarray(incumbents, dtype=float)[:5]
        reps = max(1, n_raw // (4 * len(inc)))
        for scale in (0.02, 0.1):
            noise = rng.normal(0.0, scale, size=(len(inc), reps, d))
            cands.append(np.clip(inc[:, None, :] + noise, 0.0, 1.0).reshape(-1, d))
    X = space.round_encoded(np.concatenate(cands))
    X = np.unique(X, axis=0)
    scores = _scores(acq, X, exclude)
    order = np.argsort(-scores)[:n_restarts]
    starts = X[order]
    start_scores = scores[order]

    cont = np.asarray(space.continuous_mask)
    has_discrete = bool(space.discrete_columns)
    cur, cur_s = starts, start_scores
    for _ in range(2):
        if cont.any():
            if acq.differentiable:
                # hard constraints: the penalty refinement, then SLSQP on the constraints; each refined row is pulled
                # back to the feasible set's edge if it overshot, and kept only where it scores better
                hard = to_boundary and getattr(acq, "torch_constrained", None) is not None
                for solve in (lbfgsb_batch, slsqp_batch) if hard else (lbfgsb_batch,):
                    cand = space.round_encoded(solve(acq, cur, cont, maxiter))
                    cand_s = _scores(acq, cand, exclude)
                    if hard:
                        cand, cand_s = _segment_search(acq, space, cur, cur_s, cand, cand_s, exclude)
                    better = cand_s > cur_s
                    cur = np.where(better[:, None], cand, cur)
                    cur_s = np.where(better, cand_s, cur_s)
            else:
                cur, cur_s = _pattern_search(acq, space, cur, cur_s, cont, rng, exclude)
        if not has_discrete or not neighbour_climb(acq, space, cur, cur_s, exclude):
            break
    best = int(np.argmax(cur_s))
    return cur[best].copy(), float(cur_s[best])


def neighbour_climb(acq, space, cur: np.ndarray, cur_s: np.ndarray, exclude: np.ndarray | None) -> bool:
    """Greedy moves to the best-scoring discrete neighbour (20 at most per point), in place on ``cur``/``cur_s``.

    Returns whether any point moved (the callers alternate this with continuous refinement until nothing moves).
    """
    moved = False
    for i in range(len(cur)):
        for _step in range(20):
            nb = space.neighbours(cur[i])
            if len(nb) == 0:
                break
            nb_s = _scores(acq, nb, exclude)
            j = int(np.argmax(nb_s))
            if nb_s[j] <= cur_s[i]:
                break
            cur[i], cur_s[i] = nb[j], nb_s[j]
            moved = True
    return moved
