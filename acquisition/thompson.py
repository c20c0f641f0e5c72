"""Quantile Thompson sampling over a candidate set (papers.md §2, the CQR searcher's acquisition).

Shapes: candidates are ``(n, d)`` encoded points; ``__call__`` maps ``(n, d) -> (n,)`` scores (larger is better);
``optimize`` returns one ``(d,)`` point.

One proposal:

1. **Candidates**: ``n_random`` uniform points of the encoded space, plus ``n_local`` perturbations of the best
   observed points (Gaussian steps of three sizes on the numeric columns, a random switch of a categorical or a step
   of an integer), all snapped to admissible values. Uniform candidates alone are sparse in 10+ dimensions (2,000
   random points leave every one far from the incumbent); the local ones let the model refine what it has found.
2. **Draw**: one posterior sample per candidate, independently (for a quantile posterior: one of the predicted
   quantile levels, uniformly per candidate; any other posterior, e.g. the GP's, works the same way).
   A share ``global_share`` (70 %; 30 % before 2026-11-28's session 4) of the proposals, chosen by a coin from the
   proposal's generator, uses the uniform candidates only (a *global step*). Why: trees extrapolate flat away from their data, so the optimistic
   quantiles next to the best trial beat every distant candidate, and without global steps every proposal was a
   perturbation of the incumbent (measured: 15 of 15 model-based proposals of an ASHA-CQR run on Augmented
   Hartmann, docs/cqr_multifidelity.md), a local search from the best Sobol point. In a global step the model still
   chooses, among points spread over the whole space.
3. **Choose** the candidate with the smallest draw (we minimize), skipping exact duplicates of observed or pending
   trials. Pending trials are also seen through the model's ``with_fantasies`` (the scheduler conditions the model on
   them first), so a running trial's neighbourhood loses its optimistic quantiles and parallel workers spread out.
4. **Refine** (``refine_rounds``; off by default, 3 rounds on mixed-fidelity data): the winner's draw is one quantile level ``q`` of its
   posterior; a few rounds of a greedy local search then lower that same quantile function ``x -> Q(x, q)``,
   trying each numeric column moved to its lower and upper bound and 128 Gaussian steps (0.02-0.1 of the cube) per
   round, and moving while it improves. Why tried: the choice in step 3 is only as good as the best random
   candidate, and random points in 5+ dimensions rarely lie on a bound, where a tuned batch size or penalty often
   is (80-91 % of the GP's proposals, whose acquisition is optimized by gradient steps, had some column on a bound,
   against 22-36 % of CQR's; with 3 rounds 67 % of CQR's). Measured (docs/cqr_multifidelity.md, "Session 9"): over
   four multi-fidelity problems and 48 seeds better at 25 and 50 % of the budget, level at 100 %, but worse on the
   digits MLP and, single-fidelity, at 50 % of the budget (a 20-D sphere most), so it stays off by default. Together
   with the kernel ridge's quadratic trend term (``CQRSurrogate(base_quadratic=True)``), whose quantiles keep
   falling towards a bound where the values do, it lowered the regret at every budget point of four multi-fidelity
   problems (48 seeds; "Session 10"), so the scheduler uses both when the data mixes fidelities
   (``hpo.scheduler.MIXED_FIDELITY_THOMPSON_OPTIONS``).

The draw is a pure function of the generator the scheduler derives from (seed, trial number), so every worker that
proposes for the same trial computes the same point, and different trials get different draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acquisition.base import Acquisition

__all__ = ["QuantileThompson", "from_model", "candidate_set", "refine_quantile"]


def candidate_set(
    space: Any,
    rng: np.random.Generator,
    *,
    incumbents: np.ndarray | None = None,
    n_random: int = 1500,
    n_local: int = 1000,
) -> np.ndarray:
    """``(n, d)`` admissible encoded candidates: uniform points plus local perturbations of ``incumbents``.

    Args:
        space: the :class:`hpo.space.SearchSpace`.
        rng: source of every random choice.
        incumbents: ``(k, d)`` best observed encoded points, best first (None or empty: uniform only).
        n_random: uniform candidates.
        n_local: perturbed candidates in all, spread over the incumbents (the best gets the largest share) and over
            step sizes 0.01, 0.05 and 0.15 of the unit cube.
    """
    cands = [space.round_encoded(space.sample(int(n_random), rng))]
    if incumbents is not None and len(incumbents) and n_local > 0:
        inc = np.asarray(incumbents, dtype=float)
        weights = 1.0 / np.arange(1, len(inc) + 1)
        counts = np.floor(n_local * weights / weights.sum()).astype(int)
        counts[0] += int(n_local) - int(counts.sum())
        for x, c in zip(inc, counts, strict=True):
            if c <= 0:
                continue
            scales = np.array([0.01, 0.05, 0.15])[rng.integers(0, 3, size=c)]
            cands.append(_local(space, x, scales, rng))
    return np.concatenate(cands)


def _local(space: Any, x: np.ndarray, scales: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``len(scales)`` perturbations of one encoded point ``(d,)``: a Gaussian step of its own size on the numeric
    columns, and with probability 1/2 one discrete parameter moved to a random neighbour (categorical switch or
    integer step), so categorical-only spaces are explored locally too."""
    d = x.shape[0]
    numeric = _numeric_columns(space, d)
    X = x[None, :] + rng.normal(size=(len(scales), d)) * scales[:, None] * numeric
    X = space.round_encoded(np.clip(X, 0.0, 1.0))
    if space.discrete_columns:
        for i in np.flatnonzero(rng.random(len(X)) < 0.5):
            nb = space.neighbours(X[i])
            if len(nb):
                X[i] = nb[rng.integers(len(nb))]
    return X


def _numeric_columns(space: Any, d: int) -> np.ndarray:
    """``(d,)`` True for the encoded columns outside the categorical one-hot blocks (the ones a step may move)."""
    numeric = np.ones(d, dtype=bool)
    for start, width in space.categorical_blocks:
        numeric[start : start + width] = False
    return numeric


def _duplicates(X: np.ndarray, exclude: np.ndarray | None, tol: float = 1e-9) -> np.ndarray:
    """``(n,)`` True where a row of ``X`` equals a row of ``exclude`` (hash lookup, linear in both sizes)."""
    if exclude is None or len(exclude) == 0:
        return np.zeros(len(X), dtype=bool)
    seen = {tuple(np.round(row, 9)) for row in np.asarray(exclude, dtype=float)}
    return np.array([tuple(np.round(row, 9)) in seen for row in X], dtype=bool)


class QuantileThompson(Acquisition):
    """Independent Thompson draws from the model's posterior over a random + local candidate set.

    Args:
        model: a fitted surrogate (anything with ``posterior(X)`` whose result has ``sample``).
        seed: seed of the draws made by ``__call__`` (``optimize`` uses the generator it is given).
        n_random: uniform candidates per proposal.
        n_local: perturbed candidates around the incumbents per proposal.
        global_share: probability that a proposal ignores the incumbents and chooses among the uniform candidates
            only (see the module docstring); 0 always adds the local candidates. 0.7 after a sweep over 0, 0.1,
            0.3, 0.5, 0.7 and 1 under plain ASHA, confirmed on fresh seeds (docs/cqr_multifidelity.md).
        refine_rounds: rounds of the greedy local search that lowers the winner's drawn quantile (step 4 of the
            module docstring); 0 (the default) returns the best candidate as drawn. The scheduler passes 3 on
            mixed-fidelity data.

    Raises:
        ValueError: negative candidate counts or ``refine_rounds``, no candidates at all, or ``global_share``
            outside ``[0, 1]``.
    """

    def __init__(
        self,
        model: Any,
        *,
        seed: int = 0,
        n_random: int = 1500,
        n_local: int = 1000,
        global_share: float = 0.7,
        refine_rounds: int = 0,
    ) -> None:
        for key, v in (("n_random", n_random), ("n_local", n_local), ("refine_rounds", refine_rounds)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{key}={v!r} must be an integer >= 0")
        if n_random + n_local == 0:
            raise ValueError("n_random=0 and n_local=0: quantile Thompson sampling needs candidates")
        if isinstance(global_share, bool) or not (0.0 <= float(global_share) <= 1.0):
            raise ValueError(f"global_share={global_share!r} must be a number in [0, 1]")
        self.model = model
        self.seed = int(seed)
        self.n_random = int(n_random)
        self.n_local = int(n_local)
        self.global_share = float(global_share)
        self.refine_rounds = int(refine_rounds)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """``(n, d) -> (n,)``: minus one posterior draw per point, from a generator rebuilt from ``seed`` (so the
        same points always get the same scores)."""
        X = np.asarray(X, dtype=float)
        draw = self.model.posterior(X).sample(1, np.random.default_rng(self.seed))[0]
        return -np.asarray(draw, dtype=float)

    def optimize(
        self,
        space: Any,
        rng: np.random.Generator,
        *,
        incumbents: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float]:
        """The candidate with the smallest posterior draw: ``(x (d,), -draw)``.

        With probability ``global_share`` (a draw from ``rng``; never when ``n_random`` is 0) the incumbents are
        ignored: uniform candidates only.
        Exact duplicates of ``exclude`` (observed and pending trials) are skipped while another candidate exists;
        the refinement (``refine_rounds``) never moves onto one. The returned score is minus the drawn quantile at
        the returned point.
        """
        if self.global_share > 0 and self.n_random > 0 and rng.random() < self.global_share:
            incumbents = None
        C = candidate_set(space, rng, incumbents=incumbents, n_random=self.n_random, n_local=self.n_local)
        C = np.unique(C, axis=0)
        # np.unique sorts the rows; trees give whole boxes of candidates the same draw, and argmax takes the first
        # of equal scores, so without a shuffle ties would always go to the lexicographically smallest point (the
        # box's lower edge in the first parameter). Shuffled, a tie is a uniform choice in the box.
        C = C[rng.permutation(len(C))]
        post = self.model.posterior(C)
        draw = np.asarray(post.sample(1, rng)[0], dtype=float)
        # Trees predict the same quantiles over whole boxes, so many candidates tie on their draw; among equal
        # draws the better median wins (a tie-break only: the weight is far below any quantile difference).
        median = np.asarray(post.mean, dtype=float)
        spread = float(np.ptp(median[np.isfinite(median)])) if np.isfinite(median).any() else 0.0
        draw = draw + 1e-9 * (median - np.nanmin(median)) / (spread if spread > 0 else 1.0)
        score = np.where(np.isfinite(draw), -draw, -np.inf)
        dup = _duplicates(C, exclude)
        if not dup.all():
            score = np.where(dup, -np.inf, score)
        best = int(np.argmax(score))
        x, value = C[best].copy(), float(score[best])
        q = (
            _drawn_level(post, best, float(draw[best]))
            if self.refine_rounds > 0 and np.isfinite(value)
            else None
        )
        if q is not None:
            x, value = refine_quantile(
                self.model, space, x, q, rng, rounds=self.refine_rounds, exclude=exclude
            )
        return x, value


def _drawn_level(post: Any, i: int, value: float) -> float | None:
    """The quantile level of ``post`` at point ``i`` that the draw ``value`` is: the predicted level it equals for a
    quantile posterior, ``Phi((value - mean) / std)`` for a Gaussian one; None for a posterior with neither (no
    refinement then)."""
    levels = getattr(post, "levels", None)
    values = getattr(post, "values", None)
    if levels is not None and values is not None:
        return float(levels[int(np.argmin(np.abs(np.asarray(values[i]) - value)))])
    std = getattr(post, "std", None)
    if std is not None and float(std[i]) > 0:
        from scipy.stats import norm

        return float(np.clip(norm.cdf((value - float(post.mean[i])) / float(std[i])), 1e-6, 1 - 1e-6))
    return None


def refine_quantile(
    model: Any,
    space: Any,
    x: np.ndarray,
    q: float,
    rng: np.random.Generator,
    *,
    rounds: int = 3,
    n_steps: int = 128,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Greedy local search that lowers the model's ``q``-quantile from the encoded point ``x`` ``(d,)``.

    Each round tries every numeric column of ``x`` set to 0 and to 1 (its bounds in the encoded cube) and
    ``n_steps`` Gaussian steps of 0.02, 0.05 or 0.1 on the numeric columns (categorical one-hot blocks are kept),
    all snapped to admissible values, and moves to the best if it is lower; it stops at the first round without
    improvement. Rows equal to ``exclude`` (observed and pending trials) are never taken.

    Returns:
        ``(x, -quantile)``: the point reached and minus its ``q``-quantile (the acquisition's score).
    """
    x = np.asarray(x, dtype=float).copy()
    fx = float(model.posterior(x[None, :]).quantile(q)[0])
    numeric = _numeric_columns(space, x.shape[0])
    cols = np.flatnonzero(numeric)
    for _ in range(int(rounds)):
        B = np.repeat(x[None, :], 2 * len(cols), axis=0)
        B[np.arange(len(cols)), cols] = 0.0
        B[len(cols) + np.arange(len(cols)), cols] = 1.0
        scales = np.array([0.02, 0.05, 0.1])[rng.integers(0, 3, size=int(n_steps))]
        G = x[None, :] + rng.normal(size=(int(n_steps), x.shape[0])) * scales[:, None] * numeric
        C = space.round_encoded(np.clip(np.concatenate([B, G]), 0.0, 1.0))
        v = np.asarray(model.posterior(C).quantile(q), dtype=float)
        v = np.where(_duplicates(C, exclude) | ~np.isfinite(v), np.inf, v)
        i = int(np.argmin(v))
        if not v[i] < fx:
            break
        x, fx = C[i].copy(), float(v[i])
    return x, -fx


def from_model(model: Any, y: np.ndarray, rng: np.random.Generator, **options: Any) -> QuantileThompson:
    """Registry factory. Options ``n_random``, ``n_local``, ``global_share`` and ``refine_rounds`` are used; others
    (e.g. ``beta``, meant for UCB) are ignored so one scheduler call fits every acquisition."""
    keys = ("n_random", "n_local", "global_share", "refine_rounds")
    kw = {k: options[k] for k in keys if k in options}
    return QuantileThompson(model, seed=int(rng.integers(2**31)), **kw)
