"""Conformalized quantile regression (CQR) surrogate: gradient-boosted quantile trees plus split-conformal bands.

Shapes: ``X`` is ``(n, d)`` in the unit cube, ``y`` is ``(n,)`` (smaller is better); ``posterior(X)`` gives a
:class:`surrogates.base.QuantilePosterior` with ``(m, K)`` predicted quantiles at the ``K`` levels ``levels_``.

Model (papers.md §2, Salinas et al. 2023; Romano et al. 2019 for the conformal step)::

    z        = T(y)                          Yeo-Johnson transform, exponent by maximum likelihood (``target_transform``)
    levels   q_j = j / (K + 1),  j = 1..K   (K = 5: 1/6, 1/3, 1/2, 2/3, 5/6; K odd, so the median is one of them)
    m(x)     = kernel ridge regression of z (the boosting's initial estimate; ``base="kernel"``, the default)
    s(x)     = the kernel ridge's predictive standard deviation (``local_scale``; 1 without it)
    r_i      = (z_i - m_{-i}(x_i)) / s_{-i}(x_i)   standardized leave-one-out residual of row i (closed form)
    t̂_j(x)  = gradient-boosted regression trees fitted to r with the pinball loss at level q_j, one per level
    q̂_j(x)  = m(x) + s(x) t̂_j(x)
    sorted   q̂_1(x) <= ... <= q̂_K(x) per point (independent fits can cross; sorting is the monotone rearrangement)
    output   T^-1(q̂_j(x) -+ Q_j s(x))       after the conformal step below; T^-1 keeps the order

``base="constant"`` is the paper's model (``m`` = 0, ``s`` = 1: the trees fit ``z`` itself).

Why the Yeo-Johnson transform (``target_transform="yeo-johnson"``, the default since 2026-11-28, session 7): HPO
losses are often skewed (a few diverged trainings at an error of 0.9 beside good ones at 0.02-0.05; in a
multi-fidelity study the one-epoch values of stopped trials beside the full trainings), and a least-squares kernel
ridge on such values spends its fit on the tail, leaving the differences among the good values, the only ones that
matter for the next proposal, below its resolution. The exponent is the maximum-likelihood one for the
standardized values (bounded to ``[-2, 4]``), so nearly normal values keep ``lam`` near 1, the identity; the
transform is monotone, so quantiles map back exactly and the conformal band's coverage is the same on either scale.
Measured alone (multi-fidelity, 72 seeds per problem): within the seed noise at the full budget (MLP -0.010,
Hartmann -0.003; +0.011 on 96 further Hartmann seeds); with the local scale below: docs/cqr_multifidelity.md,
"Session 7".

Why the local scale (``local_scale=True``, the default since 2026-11-28, session 7): quantile trees and a constant
conformal correction give a band of the same width next to an observation and far from every one, so the lower
quantile (the one quantile Thompson sampling picks) is no more optimistic in unexplored regions than beside the
incumbent, and even the global steps chose points next to the data (measured on the MLP benchmark: the median
distance of a late proposal to its nearest earlier trial was 0.165 of the encoded cube for CQR against 0.241 for
the GP with expected improvement). Dividing the residuals by the kernel ridge's leave-one-out predictive standard
deviation ``s_{-i}(x_i)`` lets the trees learn the *shape* of the error distribution (skew, heteroscedasticity)
in units of ``s``, and multiplying back by ``s(x)`` makes the band grow with the distance to the data, as a Gaussian
process's does. The conformal scores are divided by ``s`` too (locally weighted split conformal, Lei et al. 2018):
``s`` comes from the fitting rows only, so the coverage guarantee below is unchanged.

Why a smooth initial estimate (measured, docs/cqr_multifidelity.md): boosted quantile trees on the 20-60 rows of an
HPO study are piecewise constant and split on the *signs* of the residuals (the pinball loss's gradient), so near
the best trial they rank candidates poorly (Spearman correlation 0.29 for the 1/6 quantile on 400 points around the
best of 25 Hartmann-6 points; 0.74 with the kernel ridge below) and their lower quantile rarely falls below the best
value observed: quantile Thompson sampling then picks random points of the incumbent's box and stalls. Boosting from a kernel smoother keeps every part of CQR (one boosted
quantile model per level, the conformal step, the Thompson draw) and gives the quantiles a slope between and around
the data. The trees fit the *leave-one-out* residuals, so their quantiles describe how wrong ``m`` is on a point it
has not seen, not the (near-zero) in-sample residuals of a smoother that interpolates.

Kernel ridge (``m``): ``y`` standardized; kernel ``K = Matérn-5/2(l) + w * F F^T`` with one length-scale ``l`` over
the unit cube, ``F`` the centred inputs ``u = 2x - 1`` and their squares ``u^2 - 1/3`` (only with
``base_quadratic=True``; ``w = 0`` by default), and a ridge ``lam``; ``l``, ``w`` and ``lam`` chosen by the closed-form leave-one-out
error ``mean((alpha_i / (K + lam I)^-1_ii)^2)`` over the grid ``l in sqrt(d) * {0.05, 0.1, 0.2, 0.4, 0.8}``,
``w in {0, 0.3, 1, 3}``, ``lam in {1e-4, 1e-2, 0.1, 1}`` (one eigendecomposition per ``(l, w)``). The quadratic
term lets ``m`` carry a separable quadratic trend between and beyond sparse observations (a valley in a log learning
rate) where the Matérn part alone goes flat; ``w = 0`` wins where it does not help. It is off by default: measured
alone over 240 multi-fidelity runs and 8 seeds of the single-fidelity problems it was neutral (better on some seed
sets, worse on others; docs/cqr_multifidelity.md, "Quadratic term") and costs four times the eigendecompositions.
The scheduler turns it on, together with quantile Thompson sampling's refinement, when the data mixes fidelities
(``hpo.scheduler.MIXED_FIDELITY_CQR_OPTIONS``; since session 10): the trend carries the model's quantiles on to
a bound of the box and the refinement tries the bounds, which on four multi-fidelity problems lowered the regret
at every budget point (docs/cqr_multifidelity.md, "Session 10"). It uses at most
``base_max_rows`` rows (the best half and a seeded random draw of the rest), so its cost stays bounded at 1,000
trials; rows left out of it get their plain residual (they are out-of-sample already). Far from the data ``m``
returns to the mean of ``y`` (plus the quadratic trend, if any). Below ``min_samples_for_base`` rows (5), or for constant
``y``, ``m`` is 0.

Split-conformal calibration, once ``n >= min_samples_to_conformalize``: a seeded random ``calibration_fraction`` of
the rows is held out, the trees are fitted on the rest, and for each symmetric pair ``(q_j, q_{K+1-j})`` with nominal
coverage ``c_j = q_{K+1-j} - q_j``::

    E_i = max(q̂_j(x_i) - z_i, z_i - q̂_{K+1-j}(x_i)) / s(x_i)  conformity score on calibration row i
    Q_j = E_(k),  k = ceil((n_cal + 1) * c_j)                 the k-th smallest score (Romano et al., eq. (5))
    lower_j = q̂_j - Q_j s,  upper_{K+1-j} = q̂_{K+1-j} + Q_j s  the median is not moved

With ``k = ceil((n_cal + 1) c)`` the band covers a new exchangeable point with probability at least ``c`` (and at most
``c + 1 / (n_cal + 1)``). Syne Tune's CQR uses the empirical quantile at level ``c / (1 + 1 / n_cal)`` instead, which
under-covers slightly; we keep the finite-sample-valid formula, and ``tests/surrogates/test_cqr.py`` checks its
coverage on heteroscedastic data. When ``k > n_cal`` (too few calibration rows for the level) the largest score is
used. ``Q_j`` may be negative: the band then narrows.

Why scikit-learn's ``HistGradientBoostingRegressor(loss="quantile")``: it is maintained with scikit-learn (already a
dependency, so no new wheel such as LightGBM), it fits a 1,000-row study in a few tens of milliseconds per level,
which keeps a suggestion at 1,000 trials well under 0.5 s on 2 cores (``GradientBoostingRegressor``, which Syne Tune
uses, is 3-5x slower there), and it handles the one-hot columns of categorical parameters as plain features. Its
defaults are tuned for large data sets (``min_samples_leaf=20`` would forbid any split in a 15-trial study), so the
tree size is set for HPO-sized data here. Fits run on one OpenMP thread: at this size more threads only spin.

With a calibration split, ``T``, ``m`` and ``s`` are fitted on the fitting rows only, so the calibration rows stay
exchangeable with a new point and the coverage statement above holds unchanged (on the transformed scale, hence on
the original one: ``T`` is monotone).

Everything random (the calibration split, the rows of a subsampled ``m``) comes from ``seed``, so the same data and
seed give the same model.
"""

from __future__ import annotations

import math

import numpy as np

from surrogates.base import QuantilePosterior, Surrogate, check_Xy

__all__ = ["CQRSurrogate", "conformal_correction", "quantile_levels"]


def quantile_levels(n_quantiles: int) -> np.ndarray:
    """The ``K`` evenly spaced levels ``j / (K + 1)``, ``(K,)``.

    Raises:
        ValueError: ``n_quantiles`` is not an odd integer >= 3 (odd so that the median is a predicted level).
    """
    if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, (int, np.integer)):
        raise ValueError(f"n_quantiles={n_quantiles!r} must be an odd integer >= 3")
    if n_quantiles < 3 or n_quantiles % 2 == 0:
        raise ValueError(f"n_quantiles={n_quantiles!r} must be an odd integer >= 3")
    k = int(n_quantiles)
    return np.arange(1, k + 1, dtype=float) / (k + 1)


def conformal_correction(lower: np.ndarray, upper: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """Split-conformal correction ``Q`` of one band (Romano et al. 2019, eq. (5)).

    Args:
        lower, upper: ``(n_cal,)`` predicted band on the calibration rows.
        y: ``(n_cal,)`` observed values there.
        coverage: nominal coverage ``c`` of the band, in ``(0, 1)``.

    Returns:
        The ``ceil((n_cal + 1) c)``-th smallest conformity score ``max(lower - y, y - upper)`` (the largest score
        when there are too few rows for that rank), so that ``[lower - Q, upper + Q]`` covers a new exchangeable point
        with probability at least ``c``.
    """
    scores = np.sort(np.maximum(lower - y, y - upper))
    n = scores.shape[0]
    if n == 0:
        return 0.0
    k = math.ceil((n + 1) * coverage - 1e-12)
    return float(scores[min(max(k, 1), n) - 1])


class CQRSurrogate(Surrogate):
    """Quantile gradient-boosted trees with split-conformal calibration.

    Args:
        n_quantiles: number ``K`` of predicted levels ``j / (K + 1)``; odd, >= 3.
        min_samples_to_conformalize: calibrate only from this many observations on (fewer rows make the held-out
            split too small to be worth the trees it costs); below it the raw quantiles are used.
        calibration_fraction: share of the rows held out for calibration (at least 2 rows).
        max_iter: boosting iterations per level.
        learning_rate: shrinkage of each tree.
        max_leaf_nodes: leaves per tree (8 ~ depth 3).
        min_samples_leaf: fewest rows in a leaf.
        base: the boosting's initial estimate: "kernel" (kernel ridge regression, the trees fit its leave-one-out
            residuals; see the module docstring) or "constant" (the paper's model: the trees fit ``y``).
        base_quadratic: add a quadratic term to the kernel ridge's kernel (a linear kernel on the centred inputs and
            their squares), weighted 0, 0.3, 1 or 3 as the leave-one-out error chooses; False (default): the
            Matérn kernel alone. Measured neutral alone; the scheduler sets it on mixed-fidelity data (module
            docstring).
        target_transform: "yeo-johnson" (default): everything is fitted to the values after a Yeo-Johnson power
            transform whose exponent is the maximum-likelihood one (after standardization), and the quantiles are
            mapped back; "none": fitted to the values themselves. See the module docstring.
        local_scale: with the kernel-ridge base, scale the trees' residual quantiles and the conformal correction by
            the kernel ridge's predictive standard deviation at each point (locally weighted conformal), so the
            band widens away from the data; False: one width everywhere. See the module docstring.
        base_max_rows: most rows the kernel ridge uses (the best half and a seeded random draw of the rest).
        min_samples_for_base: fewest rows for the kernel ridge (below: constant base).
        seed: seed of the calibration split and of the kernel ridge's row subsample.

    Attributes (after ``fit``):
        levels_: ``(K,)`` the quantile levels.
        models_: one fitted regressor per level.
        corrections_: ``(K,)`` additive correction per level (negative for lower levels' ``-Q``; 0 for the median
            and before calibration).
        conformalized_: whether the conformal step ran.
        transform_: the fitted :class:`_YeoJohnson` target transform (None with ``target_transform="none"``,
            fewer than ``min_samples_for_base`` fitting rows, or constant values).
        base_: the fitted kernel ridge (None for a constant base).
        scaled_: whether the residual quantiles and corrections are scaled by ``base_.sd`` (``local_scale`` with a
            kernel-ridge base).
        X_train_, y_train_: all training rows (used by ``with_fantasies``).
    """

    def __init__(
        self,
        *,
        n_quantiles: int = 5,
        min_samples_to_conformalize: int = 32,
        calibration_fraction: float = 0.1,
        max_iter: int = 50,
        learning_rate: float = 0.2,
        max_leaf_nodes: int = 8,
        min_samples_leaf: int = 3,
        base: str = "kernel",
        base_quadratic: bool = False,
        target_transform: str = "yeo-johnson",
        local_scale: bool = True,
        base_max_rows: int = 256,
        min_samples_for_base: int = 5,
        seed: int | None = None,
    ) -> None:
        self.n_quantiles = n_quantiles
        self.min_samples_to_conformalize = min_samples_to_conformalize
        self.calibration_fraction = calibration_fraction
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.base = base
        self.base_quadratic = base_quadratic
        self.target_transform = target_transform
        self.local_scale = local_scale
        self.base_max_rows = base_max_rows
        self.min_samples_for_base = min_samples_for_base
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def _check_options(self) -> None:
        quantile_levels(self.n_quantiles)
        if not (0.0 < float(self.calibration_fraction) < 1.0):
            raise ValueError(f"calibration_fraction={self.calibration_fraction!r} must be in (0, 1)")
        if self.base not in ("kernel", "constant"):
            raise ValueError(f"base={self.base!r} must be 'kernel' or 'constant'")
        if self.target_transform not in ("yeo-johnson", "none"):
            raise ValueError(f"target_transform={self.target_transform!r} must be 'yeo-johnson' or 'none'")
        for key in ("base_quadratic", "local_scale"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise ValueError(f"{key}={getattr(self, key)!r} must be True or False")
        for key in (
            "min_samples_to_conformalize",
            "max_iter",
            "max_leaf_nodes",
            "min_samples_leaf",
            "base_max_rows",
            "min_samples_for_base",
        ):
            v = getattr(self, key)
            low = {"max_leaf_nodes": 2, "base_max_rows": 2, "min_samples_for_base": 2}.get(key, 1)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{key}={v!r} must be an integer >= {low}")
        if not (float(self.learning_rate) > 0.0 and math.isfinite(float(self.learning_rate))):
            raise ValueError(f"learning_rate={self.learning_rate!r} must be a finite number > 0")

    def _regressor(self, q: float, n: int):
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            loss="quantile",
            quantile=float(q),
            max_iter=int(self.max_iter),
            learning_rate=float(self.learning_rate),
            max_leaf_nodes=int(self.max_leaf_nodes),
            min_samples_leaf=int(min(self.min_samples_leaf, max(1, n // 2))),
            early_stopping=False,
            max_bins=64,
        )

    def _fit_levels(self, X: np.ndarray, y: np.ndarray) -> list:
        """Fit the initial estimate ``base_`` on ``(X, y)``, then one quantile model per level on its residuals."""
        from threadpoolctl import threadpool_limits

        self.base_ = None
        self.scaled_ = False
        target = y
        if self.base == "kernel" and X.shape[0] >= int(self.min_samples_for_base) and np.ptp(y) > 0.0:
            self.base_ = _KernelRidge(int(self.base_max_rows), quadratic=bool(self.base_quadratic))
            target = self.base_.fit(X, y, np.random.default_rng(self.seed))
            if self.local_scale:
                target = target / self.base_.row_sd_  # standardized leave-one-out residuals
                self.scaled_ = True
        with threadpool_limits(limits=1, user_api="openmp"):
            return [self._regressor(q, X.shape[0]).fit(X, target) for q in self.levels_]

    def _raw_quantiles(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(m, K)`` sorted (non-crossing) uncorrected quantiles ``m(x) + s(x) t̂_j(x)``, and ``(m,)`` the local
        scale ``s`` (ones without ``local_scale``), which the conformal correction is multiplied by."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            Q = np.column_stack([m.predict(X) for m in self.models_])
        scale = np.ones(X.shape[0])
        if getattr(self, "base_", None) is not None:
            if getattr(self, "scaled_", False):
                mean, scale = self.base_.predict_with_sd(X)  # one kernel evaluation for both
                Q = Q * scale[:, None]
            else:
                mean = self.base_.predict(X)
            Q = Q + mean[:, None]
        return np.sort(Q, axis=1), scale

    def fit(self, X: np.ndarray, y: np.ndarray) -> CQRSurrogate:
        """Fit one quantile model per level and, with enough rows, the conformal corrections.

        Raises:
            ValueError: bad options, or inputs that are not finite ``(n, d)`` / ``(n,)`` arrays with ``n >= 1``.
        """
        self._check_options()
        X, y = check_Xy(X, y)
        n = X.shape[0]
        if n == 0:
            raise ValueError("CQRSurrogate.fit needs at least one observation")
        self.levels_ = quantile_levels(self.n_quantiles)
        self.X_train_, self.y_train_ = X, y
        K = len(self.levels_)
        self.corrections_ = np.zeros(K)
        self.conformalized_ = False
        self.transform_ = None
        n_cal = max(2, int(round(self.calibration_fraction * n)))
        if n < 2 or np.ptp(y) == 0.0 or n < int(self.min_samples_to_conformalize) or n - n_cal < 2:
            self.models_ = self._fit_levels(X, self._fit_transform(y, y))
            return self
        perm = np.random.default_rng(self.seed).permutation(n)
        cal, fit = perm[:n_cal], perm[n_cal:]
        # the transform, like the trees and the kernel ridge, sees the fitting rows only: the calibration rows stay
        # exchangeable with a new point
        z = self._fit_transform(y[fit], y)
        self.models_ = self._fit_levels(X[fit], z[fit])
        Qc, sc = self._raw_quantiles(X[cal])  # normalized scores: the band's Q is in units of the local scale
        for j in range(K // 2):
            hi = K - 1 - j
            c = float(self.levels_[hi] - self.levels_[j])
            corr = conformal_correction(Qc[:, j] / sc, Qc[:, hi] / sc, z[cal] / sc, c)
            self.corrections_[j] = -corr
            self.corrections_[hi] = corr
        self.conformalized_ = True
        return self

    def _fit_transform(self, y_fit: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fit the target transform on ``y_fit`` (when enabled and worth it) and return ``y`` transformed."""
        if (
            self.target_transform == "yeo-johnson"
            and y_fit.shape[0] >= int(self.min_samples_for_base)
            and np.ptp(y_fit) > 0.0
        ):
            self.transform_ = _YeoJohnson().fit(y_fit)
            return self.transform_.transform(y)
        return y

    # ------------------------------------------------------------------ prediction
    def predict_quantiles(self, X: np.ndarray) -> np.ndarray:
        """``(m, d) -> (m, K)`` calibrated quantiles, non-decreasing along the levels."""
        self._check_fitted("models_")
        X, _ = check_Xy(X)
        # The corrections keep the order of a sorted row (lower levels move down, upper ones up, by the band's
        # Q); only a negative Q can make bands cross, and the final sort repairs that.
        Q, scale = self._raw_quantiles(X)
        Q = np.sort(Q + self.corrections_[None, :] * scale[:, None], axis=1)
        transform = getattr(self, "transform_", None)
        return Q if transform is None else transform.inverse(Q)  # monotone: the order of every row is kept

    def posterior(self, X: np.ndarray) -> QuantilePosterior:
        """Quantile posterior at ``(m, d)`` points (``mean`` is the median; ``sample`` draws one level per point)."""
        Q = self.predict_quantiles(X)
        return QuantilePosterior(self.levels_, Q)

    def with_fantasies(self, X_new: np.ndarray, y_new: np.ndarray) -> CQRSurrogate:
        """A model that believes ``y_new`` at ``X_new`` (pending trials), without refitting the trees.

        Why not refit: trees fitted on invented values would learn nothing about the objective and would cost a full
        fit per suggestion. Instead the predictive quantiles are pulled towards the believed value near each pending
        point, as a GP conditioned on a noise-free observation collapses there: with ``w(x) = exp(-r^2 / (2 l^2))``
        for the distance ``r`` to the nearest pending point, each quantile becomes ``(1 - w) q(x) + w y_new``. The
        length ``l`` is half the median nearest-neighbour distance of the training inputs, so "near" scales with how
        densely the study has sampled. Quantile Thompson sampling then stops preferring the optimistic lower
        quantiles next to a running trial, and parallel workers get different configurations.
        """
        self._check_fitted("models_")
        X_new, y_new = check_Xy(X_new, y_new)
        if X_new.shape[0] == 0:
            return self
        return _FantasyCQR(self, X_new, y_new)


_BASE_LENGTHS = (0.05, 0.1, 0.2, 0.4, 0.8)  # times sqrt(d): from a tenth of a side to the whole cube
_BASE_RIDGES = (1e-4, 1e-2, 0.1, 1.0)  # relative to the kernel's unit variance and the standardized target
# weights of the quadratic term (its kernel is about 1/3 on the diagonal)
_BASE_QUADRATIC_WEIGHTS = (0.0, 0.3, 1.0, 3.0)


def _quadratic_features(X: np.ndarray) -> np.ndarray:
    """``(m, d) -> (m, 2d)``: centred inputs ``u = 2x - 1`` and ``u^2 - 1/3``, scaled so a row's norm is O(1)."""
    u = 2.0 * X - 1.0
    F = np.concatenate([u, u * u - 1.0 / 3.0], axis=1)
    return F / math.sqrt(F.shape[1])


def _matern52(D: np.ndarray, length: float) -> np.ndarray:
    r = math.sqrt(5.0) * D / length
    return (1.0 + r + r * r / 3.0) * np.exp(-r)


class _KernelRidge:
    """Kernel ridge regression with a Matérn-5/2 kernel (plus, if ``quadratic``, a weighted linear kernel on
    :func:`_quadratic_features`); length-scale, ridge and that weight by closed-form leave-one-out error.

    Why the quadratic term: alone, the Matérn kernel returns to the mean of the values away from the data, so
    between sparse observations the initial estimate is flat; the quadratic term carries a separable quadratic
    trend (a valley in a log learning rate, a bowl) across them. The leave-one-out choice of its weight, 0 among
    them, keeps it out where it does not predict better.

    ``fit(X, y, rng)`` returns the ``(n,)`` residuals the quantile trees learn: leave-one-out residuals for the rows
    it was fitted on, plain residuals for the rows a subsample left out. For ``A = K + lam I`` and
    ``alpha = A^-1 z``, the leave-one-out residual of row ``i`` is ``alpha_i / (A^-1)_ii`` (no refits); with
    ``K = U diag(s) U^T`` every ridge of the grid costs one matrix product.
    """

    def __init__(self, max_rows: int, *, quadratic: bool = False) -> None:
        self.max_rows = max_rows
        self.quadratic = quadratic

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from scipy.spatial.distance import cdist

        n, d = X.shape
        if n > self.max_rows:
            order = np.argsort(y, kind="stable")
            half = self.max_rows // 2
            rest = rng.choice(order[half:], self.max_rows - half, replace=False)
            rows = np.concatenate([order[:half], np.sort(rest)])
        else:
            rows = np.arange(n)
        Xs, ys = X[rows], y[rows]
        self.mean_ = float(np.mean(ys))
        self.scale_ = float(np.std(ys)) or 1.0
        z = (ys - self.mean_) / self.scale_
        D = cdist(Xs, Xs)
        if self.quadratic:
            F = _quadratic_features(Xs)
            FF, weights = F @ F.T, _BASE_QUADRATIC_WEIGHTS
        else:
            F, FF, weights = None, None, (0.0,)
        best = None
        for rel, weight in ((r, w) for r in _BASE_LENGTHS for w in weights):
            length = rel * math.sqrt(d)
            K = _matern52(D, length)
            if weight:
                K = K + weight * FF
            s, U = np.linalg.eigh(K)
            s = np.clip(s, 0.0, None)
            Uz = U.T @ z
            for lam in _BASE_RIDGES:
                inv = 1.0 / (s + lam)
                alpha = U @ (inv * Uz)
                loo = alpha / ((U * U) @ inv)
                err = float(np.mean(loo * loo))
                if best is None or err < best[0]:
                    best = (err, length, lam, alpha, loo, weight, U, s, inv)
        _, self.length_, self.ridge_, self.alpha_, loo, self.quadratic_weight_, self.U_, self.s_, inv = best
        self.X_ = Xs
        self.F_ = F if self.quadratic_weight_ else None  # the rows' quadratic features, reused by predict
        residual = y - self.predict(X)
        residual[rows] = loo * self.scale_
        # the predictive standard deviation of each row from a fit without it: 1 / (A^-1)_ii for the rows in
        # the fit (the same closed form as the residuals), the plain one for rows a subsample left out
        sd = np.empty(n)
        sd[rows] = np.sqrt(np.maximum(1.0 / ((self.U_ * self.U_) @ inv), self.ridge_)) * self.scale_
        rest = np.setdiff1d(np.arange(n), rows)
        if rest.size:
            sd[rest] = self.sd(X[rest])
        self.row_sd_ = sd
        return residual

    def _cross(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(m, n)`` kernel between ``X`` and the fitted rows, and the quadratic features of ``X`` (None without
        the quadratic term), which the prior variance in :meth:`predict_with_sd` reuses."""
        from scipy.spatial.distance import cdist

        K = _matern52(cdist(X, self.X_), self.length_)
        F = None
        if self.quadratic_weight_:
            F = _quadratic_features(X)
            K = K + self.quadratic_weight_ * (F @ self.F_.T)
        return K, F

    def predict_with_sd(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(m, d) -> ((m,), (m,))`` the prediction and the predictive standard deviation in the units of ``y``,
        from one evaluation of the kernel: ``sqrt(k(x, x) + lam - k_x^T (K + lam I)^-1 k_x)`` times the values'
        scale, the posterior of a Gaussian process with this kernel and noise ``lam``. Near the rows it falls to
        about ``sqrt(lam)``, far from them it returns to ``sqrt(1 + lam)``: a distance to the data measured in the
        fitted length-scale."""
        K, F = self._cross(X)
        prior = np.ones(X.shape[0])
        if F is not None:
            prior = prior + self.quadratic_weight_ * np.einsum("ij,ij->i", F, F)
        KU = K @ self.U_
        var = prior + self.ridge_ - (KU * KU) @ (1.0 / (self.s_ + self.ridge_))
        sd = np.sqrt(np.maximum(var, self.ridge_)) * self.scale_
        return self.mean_ + self.scale_ * (K @ self.alpha_), sd

    def sd(self, X: np.ndarray) -> np.ndarray:
        """``(m, d) -> (m,)`` the predictive standard deviation alone (see :meth:`predict_with_sd`)."""
        return self.predict_with_sd(X)[1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(m, d) -> (m,)`` the kernel ridge's prediction (the mean of ``y`` far from the data)."""
        K, _ = self._cross(X)
        return self.mean_ + self.scale_ * (K @ self.alpha_)


# bounds of the Yeo-Johnson exponent, 1 +- 3: a study of 40 tied values and one outlier would otherwise fit
# lam = -18, which squeezes every value but the outlier into a sliver the trees cannot split and float64 cannot invert
_YJ_BOUNDS = (-2.0, 4.0)


class _YeoJohnson:
    """Yeo-Johnson power transform of standardized values, exponent by maximum likelihood in ``[-2, 4]`` (scipy).

    ``transform(y) = psi_lam((y - mu) / sd)`` with ``psi_lam(v) = ((v + 1)^lam - 1) / lam`` for ``v >= 0`` and
    ``-((1 - v)^(2 - lam) - 1) / (2 - lam)`` for ``v < 0`` (logarithms at ``lam = 0`` and ``2``): strictly
    increasing, the identity at ``lam = 1``, log-like below 1. Standardizing first makes ``lam`` independent of
    the values' units. ``inverse`` is exact inside the transform's range; beyond it (``lam < 0`` bounds the range
    above, ``lam > 2`` below) and beyond ten times the fitted values' spread on either side it is clipped, so a
    far-out predicted quantile maps to a large finite value.
    """

    def fit(self, y: np.ndarray) -> _YeoJohnson:
        from scipy import optimize, stats

        y = np.asarray(y, dtype=float)
        self.mu_ = float(np.mean(y))
        self.sd_ = float(np.std(y)) or 1.0
        v = (y - self.mu_) / self.sd_
        fit = optimize.minimize_scalar(
            lambda lam: -stats.yeojohnson_llf(lam, v), bounds=_YJ_BOUNDS, method="bounded"
        )
        self.lam_ = float(fit.x)
        spread = float(np.ptp(y))
        self.bounds_ = (float(np.min(y)) - 10.0 * spread, float(np.max(y)) + 10.0 * spread)
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        return stats.yeojohnson((np.asarray(y, dtype=float) - self.mu_) / self.sd_, lmbda=self.lam_)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        lam, tiny = self.lam_, 1e-12
        v = np.empty_like(z)
        pos = z >= 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            if abs(lam) < 1e-10:
                v[pos] = np.expm1(z[pos])
            else:
                v[pos] = np.power(np.maximum(lam * z[pos] + 1.0, tiny), 1.0 / lam) - 1.0
            if abs(lam - 2.0) < 1e-10:
                v[~pos] = -np.expm1(-z[~pos])
            else:
                v[~pos] = 1.0 - np.power(np.maximum(1.0 - (2.0 - lam) * z[~pos], tiny), 1.0 / (2.0 - lam))
            y = self.mu_ + self.sd_ * v
        return np.clip(np.nan_to_num(y, nan=self.bounds_[1]), *self.bounds_)


def _median_nn_distance(X: np.ndarray) -> float:
    """Median distance from each row of ``(n, d)`` ``X`` to its nearest distinct row (0.1 * sqrt(d) if none)."""
    from scipy.spatial import cKDTree

    n, d = X.shape
    U = np.unique(X, axis=0)
    if len(U) < 2:
        return 0.1 * math.sqrt(d)
    dist, _ = cKDTree(U).query(U, k=2)
    return float(np.median(dist[:, 1]))


class _FantasyCQR(CQRSurrogate):
    """A fitted :class:`CQRSurrogate` seen through believed values at pending points (see ``with_fantasies``)."""

    def __init__(self, base: CQRSurrogate, X_new: np.ndarray, y_new: np.ndarray) -> None:
        super().__init__(**base.get_params())
        for key, value in vars(base).items():
            if key.endswith("_"):
                setattr(self, key, value)
        prev_X = getattr(base, "X_fantasy_", np.zeros((0, X_new.shape[1])))
        prev_y = getattr(base, "y_fantasy_", np.zeros(0))
        self.X_fantasy_ = np.concatenate([prev_X, X_new])
        self.y_fantasy_ = np.concatenate([prev_y, y_new])
        self.fantasy_length_ = 0.5 * _median_nn_distance(base.X_train_)

    def get_params(self) -> dict:
        """The options of the underlying :class:`CQRSurrogate` (so ``type(self)(**params)`` is not needed)."""
        import inspect

        names = [k for k in inspect.signature(CQRSurrogate.__init__).parameters if k != "self"]
        return {k: getattr(self, k) for k in names}

    def predict_quantiles(self, X: np.ndarray) -> np.ndarray:
        Q = super().predict_quantiles(X)
        X = np.asarray(X, dtype=float)
        d2 = ((X[:, None, :] - self.X_fantasy_[None, :, :]) ** 2).sum(-1)  # (m, p)
        nearest = np.argmin(d2, axis=1)
        w = np.exp(-d2[np.arange(len(X)), nearest] / (2.0 * max(self.fantasy_length_, 1e-6) ** 2))
        target = self.y_fantasy_[nearest]
        return np.sort((1.0 - w)[:, None] * Q + (w * target)[:, None], axis=1)
