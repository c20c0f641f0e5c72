"""The scheduler: which configuration the next trial gets, as a pure function of (history, seed).

Flow of one proposal (design.md §5)::

    trials --build_dataset--> Dataset --surrogate.fit--> model --(pending: Kriging believer)--> acquisition
          --optimize_acquisition--> encoded point --space.decode--> configuration

* The first ``n_startup_trials`` proposals come from a scrambled Sobol sequence (seeded by ``seed``; the trial
  number picks the point), which covers the space evenly and lets parallel workers draw distinct points for free.
* Afterwards a surrogate is fitted to the observed trials and an acquisition chooses the next point: LogEI by
  default, UCB on request.
* Running trials are pending: the GP is conditioned on them at its own predicted mean (Kriging believer), which
  removes their neighbourhood's expected improvement, so concurrent workers get different configurations. The
  believed values also count for EI's incumbent: a pending point predicted to beat the best trial would otherwise
  keep EI > 0 at itself, and the refined optimizer starts converged onto it (benchmarks/bench_parallel.py).
* Several objectives are scalarized per proposal with a random augmented Chebyshev weighting (ParEGO), drawn from the
  same seeded generator.

Nothing here keeps state between calls: the random generator is rebuilt from ``(seed, trial_number)`` each time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpo.history import Dataset
from hpo.space import SearchSpace

__all__ = ["Proposer", "proposal_rng", "sobol_point", "warp_constraint", "warp_objective"]


# CQR's settings for data that mixes fidelities (a multi-fidelity study's rows of stopped or running trials beside
# its full trainings; ``Dataset.mixed_fidelity``): the kernel ridge's quadratic trend term and three rounds of refining
# quantile Thompson sampling's winner. Why (docs/cqr_multifidelity.md, "Session 10"): the one-epoch values that make
# up most of such a data set say little about the final value near the incumbent, and the good configurations of
# two of the four benchmark problems sit on a bound of the box (the largest L2 penalty, the smallest batch); the
# trend lets the model's quantiles keep falling towards a bound, and the refinement tries the bounds. Measured over
# four multi-fidelity problems and 48 seeds: mean normalized regret 0.501 / 0.324 / 0.208 against 0.526 / 0.360 /
# 0.224 without them; on single-fidelity data both cost (0.384 against 0.342 at 50 % of the budget), so they apply
# to mixed data only. The user's ``surrogate_options`` take precedence over the first (``{"base_quadratic": False}``
# turns the trend off); the refinement is not a user option.
MIXED_FIDELITY_CQR_OPTIONS: dict[str, Any] = {"base_quadratic": True}
MIXED_FIDELITY_THOMPSON_OPTIONS: dict[str, Any] = {"refine_rounds": 3}


def proposal_rng(seed: int, trial_number: int, salt: int = 0) -> np.random.Generator:
    """The generator for one proposal: a pure function of the study seed and the trial number."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(trial_number), int(salt)])
    )


def sobol_point(dim: int, seed: int, index: int) -> np.ndarray:
    """Point ``index`` of the scrambled Sobol sequence in ``[0, 1]^dim`` for ``seed``, ``(dim,)``."""
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = qmc.Sobol(dim, scramble=True, seed=np.random.default_rng(int(seed) & 0xFFFFFFFF))
        if index:
            engine.fast_forward(int(index))
        return engine.random(1)[0]


def warp_constraint(g: np.ndarray) -> np.ndarray:
    """``sign(g) * log(1 + |g| / s)`` with ``s`` the median of ``|g|``: keeps the sign (the feasible set) and the
    order, compresses heavy tails; unit-free, so the same rule suits a constraint in bytes and one in seconds."""
    g = np.asarray(g, dtype=float)
    s = float(np.median(np.abs(g)))
    if not s > 1e-300:
        s = float(np.max(np.abs(g))) or 1.0
    return np.sign(g) * np.log1p(np.abs(g) / s)


def warp_objective(y: np.ndarray) -> np.ndarray:
    """``log(1 + (y - min y) / s)`` with ``s`` the median of ``y - min y``: order-preserving, so the best values stay
    the best, but a tail of values hundreds of times worse than the best is compressed.

    Why, for constrained problems: the objective is observed everywhere, also deep in the infeasible region (a welded
    beam of cost 1,000 next to a feasible optimum of 1.7), and after standardization the differences that matter near
    the feasible optimum are a thousandth of the scale, below what a GP resolves; on the log scale they are not.
    """
    y = np.asarray(y, dtype=float)
    u = y - float(np.min(y))
    s = float(np.median(u))
    if not s > 1e-300:
        s = float(np.max(u)) or 1.0
    return np.log1p(u / s)


def _last_was_feasible_improvement(data: Dataset, trial_number: int) -> bool:
    """Whether the latest finished trial before ``trial_number`` is feasible and beats every earlier feasible one."""
    if data.G.shape[1] == 0 or len(data.numbers) != data.n or data.n < 2:
        return False
    numbers = np.asarray(data.numbers)
    before = numbers < trial_number
    if not before.any():
        return False
    last = int(np.argmax(np.where(before, numbers, -1)))
    feasible = data.feasible
    if not feasible[last]:
        return False
    earlier = feasible & (numbers < numbers[last])
    return not earlier.any() or bool(data.y[last] < data.y[earlier].min())


def _scalarize(Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarization of ``(n, k)`` minimize-oriented objectives -> ``(n,)``."""
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    Z = (Y - lo) / np.where(hi - lo > 0, hi - lo, 1.0)
    w = rng.dirichlet(np.ones(Y.shape[1]))
    return np.max(w * Z, axis=1) + 0.05 * (Z @ w)


@dataclass(frozen=True)
class Proposer:
    """Proposes configurations from a dataset with a surrogate and an acquisition.

    Args:
        surrogate: name of the surrogate (a key of ``surrogates.SURROGATES``).
        acquisition: "auto" (the surrogate's own: LogEI for the GP) or a key of ``acquisition.ACQUISITIONS``.
        n_startup_trials: number of observed trials before the model takes over (Sobol design before that);
            None asks the surrogate (see :meth:`startup_trials`).
        ucb_beta: confidence multiplier for "ucb".
        n_raw: raw Sobol candidates for the acquisition optimizer.
        n_restarts: locally refined starts.
        pending_incumbent: the believed values of pending trials also count for EI's incumbent (see
            ``acquisition.ei.from_model``); False is the earlier behaviour, kept for comparison.
        config_beta: CONFIG's squared confidence multiplier for the constraints' optimistic bounds in proposals
            (default 4: 2 sigma; papers.md §1 suggests a constant of 2-3 in practice).
        config_objective_beta: CONFIG's squared multiplier for the objective's LCB (default 1; None: config_beta).
            Measured on six constrained problems (docs/constrained.md), a less optimistic objective bound lowered
            the mean regret at every constraint beta tried.
        declare_beta: the squared multiplier of the infeasibility check (default 9: 3 sigma, the reference
            implementation's), kept at least as optimistic as the proposals so a feasible problem is not declared
            infeasible (papers.md §1, step 4).
        declare_after: model-based proposals needed before a declaration (the Sobol design alone never declares).
        config_warp: model each constraint on ``sign(g) log(1 + |g| / s)`` (``s`` the median ``|g|`` observed)
            instead of ``g``: the same feasible set (the sign is kept), but heavy-tailed constraint values (a stress
            of 1e4 on most of the space, 1e7 near a corner) no longer dominate the GP's fit and its scale.
        config_feasible_every: every k-th trial (by trial number) first tries a *feasible-side* step instead of
            CONFIG's optimistic one: the objective's LCB subject to every constraint's *upper* bound ``<= 0``, or,
            when no point is feasible with that confidence, the point of least pessimistic violation; once a
            feasible trial exists it is taken only when it promises ``config_feasible_margin`` of improvement, else
            CONFIG's step runs. Default 1 (every trial: exploit while it pays, explore with CONFIG when it stops
            paying; measured better than every second trial, docs/constrained.md). 0 disables it (and the rules
            below).
            CONFIG approaches an active constraint from the infeasible side (its optimistic set is larger than the
            feasible one); only feasible trials count as results, and the measured feasible share of CONFIG's
            trials was half of Optuna's GPSampler's (docs/constrained.md).
        config_feasible_beta: squared confidence multiplier of the feasible-side step's upper bounds.
        config_prefeasible_beta: the feasible-side step's squared multiplier while no trial is feasible (None:
            ``config_feasible_beta``); its violation, summed over the constraints, is what that step minimizes.
            Default 0, the posterior mean's violation: upper bounds made the search creep along the best infeasible
            trials of WeldedBeamSO (0.1 % feasible), where the mean reaches the feasible region in more runs
            (docs/constrained.md).
        config_to_boundary: which CONFIG steps the acquisition optimizer follows to the boundary of their feasible
            set (SLSQP on the bounds, ``optimize_acquisition(to_boundary=...)``) instead of stopping where the
            penalty refinement leaves them, inside it: "none" (the default), "config" (CONFIG's optimistic step
            only), "feasible" (also the feasible-side step once a feasible trial exists) or "all" (also before).
            Measured (docs/constrained.md): "feasible" ends 7x closer to SpeedReducer's optimum but places
            feasible-side steps exactly where a biased constraint model is wrong (PressureVessel's steps crept up
            to the boundary from the infeasible side for five trials), and no setting beat "none" on the mean.
        config_feasible_objective_beta: squared multiplier of the objective's LCB in the feasible-side step
            (None: ``config_objective_beta``).
        config_feasible_first: until a feasible trial exists, every model-based trial takes the feasible-side step.
        config_feasible_rule: the feasible-side step once a feasible trial exists: "bounds" (the objective's LCB
            subject to the constraints' upper bounds), "cei" (expected improvement over the best feasible value
            times the probability of feasibility, Gardner et al. 2014; GP surrogates, others use "bounds") or
            "bounds+cei" (the default: "bounds", except that the local refinement of ``config_local_radius`` is a
            "cei" step, which sits closer to an active constraint than an upper bound at ``config_feasible_beta``
            does; measured on PressureVessel and ConstrainedGramacy, docs/constrained.md).
        config_feasible_streak: after a trial that improved the best feasible value, the next trial takes the
            feasible-side step too (a local streak while feasible steps pay off).
        config_feasible_margin: once a feasible trial exists, the feasible-side step must promise an improvement
            of at least this fraction of the feasible values' spread, median minus best (0: any improvement). Without
            it, steps promising a thousandth of that spread kept ConstrainedGramacy's runs in a local optimum
            (3 of 10 runs; docs/constrained.md).
        config_local_radius: when the feasible-side step promises an improvement smaller than the margin, it
            is still taken if CONFIG's step lands within this L-infinity distance (unit cube) of the best feasible
            trial: near the incumbent both steps refine the same boundary, and the safe one does it from the
            feasible side (0: the margin alone decides). With the rule "bounds+cei" the refinement is a
            constrained-EI step, taken next to the incumbent whatever the safe step promised (since session 5:
            before, only when it promised some improvement; measured in docs/constrained.md).
        config_objective_warp: with constraints, model the objective on :func:`warp_objective`'s log scale (its
            order, hence the best feasible trial, is unchanged).
        config_widen: when CONFIG's step lands within 1 % of the box (in every coordinate) of a trial already
            run, both betas are multiplied by 4 and the step is solved again, up to this many times. Repeating a
            known point of a noise-free objective means the model's bounds are narrower than its errors (seen on
            ConstrainedGramacy, whose constraint is wigglier than its GP's fitted lengthscale: CONFIG re-proposed a
            local optimum ten times).
        surrogate_options: keyword options for the surrogate's constructor (e.g. the GP's priors).
    """

    surrogate: str = "gp"
    acquisition: str = "auto"
    n_startup_trials: int | None = None
    ucb_beta: float = 4.0
    n_raw: int = 1024
    n_restarts: int = 8
    config_beta: float = 4.0
    config_objective_beta: float | None = 1.0
    declare_beta: float = 9.0
    declare_after: int = 5
    config_warp: bool = True
    config_feasible_every: int = 1
    config_feasible_beta: float = 0.25
    config_feasible_objective_beta: float | None = None
    config_widen: int = 2
    config_objective_warp: bool = False
    config_feasible_first: bool = True
    config_feasible_streak: bool = True
    config_feasible_margin: float = 0.05
    config_feasible_rule: str = "bounds+cei"
    config_local_radius: float = 0.1
    config_prefeasible_beta: float | None = 0.0
    config_to_boundary: str = "none"
    pending_incumbent: bool = True
    surrogate_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from acquisition import ACQUISITIONS
        from surrogates import SURROGATES

        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate={self.surrogate!r} is not one of {sorted(SURROGATES)!r}")
        if self.acquisition != "auto" and self.acquisition not in ACQUISITIONS:
            raise ValueError(
                f"acquisition={self.acquisition!r} is not one of {['auto', *sorted(ACQUISITIONS)]!r}"
            )
        every = self.config_feasible_every
        if isinstance(every, bool) or int(every) != every or every < 0:
            raise ValueError(f"config_feasible_every={every!r} must be an integer >= 0")
        widen = self.config_widen
        if isinstance(widen, bool) or int(widen) != widen or widen < 0:
            raise ValueError(f"config_widen={widen!r} must be an integer >= 0")
        if self.config_to_boundary not in ("none", "config", "feasible", "all"):
            raise ValueError(
                f"config_to_boundary={self.config_to_boundary!r} must be 'none', 'config', 'feasible' or 'all'"
            )
        if self.config_feasible_rule not in ("bounds", "cei", "bounds+cei"):
            raise ValueError(
                f"config_feasible_rule={self.config_feasible_rule!r} must be 'bounds', 'cei' or 'bounds+cei'"
            )
        if not (np.isfinite(self.config_local_radius) and self.config_local_radius >= 0):
            raise ValueError(f"config_local_radius={self.config_local_radius!r} must be a finite number >= 0")
        if not (np.isfinite(self.config_feasible_margin) and self.config_feasible_margin >= 0):
            raise ValueError(
                f"config_feasible_margin={self.config_feasible_margin!r} must be a finite number >= 0"
            )
        pre = self.config_prefeasible_beta
        if pre is not None and not (np.isfinite(pre) and pre >= 0):
            raise ValueError(f"config_prefeasible_beta={pre!r} must be None or a finite number >= 0")
        if not (np.isfinite(self.config_feasible_beta) and self.config_feasible_beta >= 0):
            raise ValueError(
                f"config_feasible_beta={self.config_feasible_beta!r} must be a finite number >= 0"
            )
        if self.n_startup_trials is not None and (
            isinstance(self.n_startup_trials, bool) or int(self.n_startup_trials) < 1
        ):
            raise ValueError(f"n_startup_trials={self.n_startup_trials!r} must be an integer >= 1")

    @property
    def acquisition_name(self) -> str:
        """The acquisition actually used ("auto" resolves to the surrogate's own)."""
        from acquisition import DEFAULT_ACQUISITION

        return DEFAULT_ACQUISITION[self.surrogate] if self.acquisition == "auto" else self.acquisition

    def startup_trials(self, dim: int) -> int:
        """Length of the Sobol design: ``n_startup_trials``, or when that is None the surrogate class's
        ``default_startup_trials(dim)`` (GO-UCB's Phase I grows like the square root of the budget), else 10."""
        if self.n_startup_trials is not None:
            return int(self.n_startup_trials)
        from surrogates import surrogate_class

        rule = getattr(surrogate_class(self.surrogate), "default_startup_trials", None)
        return 10 if rule is None else int(rule(dim))

    def propose(self, data: Dataset, space: SearchSpace, *, seed: int, trial_number: int) -> dict[str, Any]:
        """The configuration for trial ``trial_number``: a pure function of ``(data, space, seed, trial_number)``."""
        return self.propose_with_info(data, space, seed=seed, trial_number=trial_number)[0]

    def propose_with_info(
        self, data: Dataset, space: SearchSpace, *, seed: int, trial_number: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Like :meth:`propose`, plus what the proposal found out: ``{"declared_infeasible": bool}``.

        ``declared_infeasible`` is True when CONFIG found no optimistically feasible point anywhere in its candidate
        set (and no observed trial is feasible): under the confidence bounds the problem has no feasible point.
        """
        info: dict[str, Any] = {"declared_infeasible": False}
        if data.n < self.startup_trials(space.dim):
            x = sobol_point(space.dim, seed, trial_number)
            return space.decode(space.round_encoded(x[None, :]))[0], info
        from surrogates.gp import single_threaded

        rng = proposal_rng(seed, trial_number)
        every = self.config_feasible_every
        feasible_side = every > 0 and (
            (trial_number + 1) % every == 0
            or (self.config_feasible_first and data.G.shape[1] > 0 and not data.feasible.any())
            or (self.config_feasible_streak and _last_was_feasible_improvement(data, trial_number))
        )
        with single_threaded():
            x = self._model_based(data, space, rng, info, feasible_side=feasible_side)
        return space.decode(x[None, :])[0], info

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_pending: np.ndarray,
        rng: np.random.Generator,
        *,
        constraint: bool = False,
        defaults: dict[str, Any] | None = None,
    ):
        from surrogates import make_surrogate

        options = {**(defaults or {}), **self.surrogate_options}
        if constraint and self.surrogate == "gp":
            options.setdefault("center", False)  # threshold 0 stays the prior mean (papers.md §1)
        model = make_surrogate(self.surrogate, seed=int(rng.integers(2**31)), **options).fit(X, y)
        if len(X_pending):
            model = model.with_fantasies(X_pending, model.posterior(X_pending).mean)  # Kriging believer
        return model

    def _model_based(
        self,
        data: Dataset,
        space: SearchSpace,
        rng: np.random.Generator,
        info: dict[str, Any],
        *,
        feasible_side: bool = False,
    ) -> np.ndarray:
        from acquisition import make_acquisition
        from acquisition.config import is_declaration

        y = data.y if data.Y.shape[1] == 1 else _scalarize(data.Y, rng)
        if data.G.shape[1] > 0 and self.config_objective_warp:
            y = warp_objective(y)
        mixed = self._mixed_fidelity_cqr(data)
        model = self._fit(
            data.X, y, data.X_pending, rng, defaults=MIXED_FIDELITY_CQR_OPTIONS if mixed else None
        )
        exclude = np.concatenate([data.X, data.X_pending]) if len(data.X_pending) else data.X
        config = x_safe = None
        if data.G.shape[1] > 0:
            # incumbents: best feasible trials first, then the least-violating ones
            viol = np.where(np.isfinite(data.G), np.clip(data.G, 0, None), np.inf).sum(axis=1)
            incumbents = data.X[np.lexsort((y, viol))[:5]]
            config = self._config_acquisition(data, model, rng)
        else:
            incumbents = data.X[np.argsort(y)[:5]]
        kwargs = {"incumbents": incumbents, "exclude": exclude}
        if config is None:
            options: dict[str, Any] = {"beta": self.ucb_beta}
            if mixed:
                options.update(MIXED_FIDELITY_THOMPSON_OPTIONS)
            if len(data.X_pending) and self.pending_incumbent:
                options["y_pending"] = model.posterior(data.X_pending).mean  # the believed values
            acq = make_acquisition(self.acquisition_name, model, y, rng, **options)
            return self._optimize(acq, space, rng, kwargs)[0]
        if feasible_side:
            feasible = data.feasible
            if self.config_feasible_rule == "cei" and feasible.any() and config.differentiable:
                x = self._constrained_ei_step(config, data, y, space, rng, kwargs)
                best = -float(config.lower_bounds(x[None, :])[0][0])  # its objective LCB, for the rule below
            else:
                beta_s = self.config_feasible_beta
                if not feasible.any() and self.config_prefeasible_beta is not None:
                    beta_s = self.config_prefeasible_beta
                safe = config.feasible_side(beta_s, self.config_feasible_objective_beta)
                mode = self.config_to_boundary
                boundary = mode == "all" or (mode == "feasible" and bool(feasible.any()))
                x, best = self._optimize(safe, space, rng, {**kwargs, "to_boundary": boundary})
            # before any feasible trial: the least (mean) violation leads into the feasible region; after: only a
            # point whose objective LCB beats the best feasible value by the margin is worth a trial, else CONFIG
            # explores
            if not feasible.any():
                info["declared_infeasible"] = self._declares_infeasible(config, space, data, rng, None)
                return x
            # the margin is in the spread of the *feasible* values: the infeasible region's values (a beam of cost
            # 1,000 next to a feasible 3) would make any all-trials scale too coarse for the steps that matter
            yf = y[feasible]
            best_feasible = float(np.min(yf))
            margin = self.config_feasible_margin * (float(np.median(yf)) - best_feasible)
            if -best < best_feasible - margin:
                info["declared_infeasible"] = self._declares_infeasible(config, space, data, rng, None)
                return x
            if -best < best_feasible:
                x_safe = x  # promises less than the margin, but some improvement
        kwargs = {**kwargs, "to_boundary": self.config_to_boundary != "none"}
        x, best = self._optimize(config, space, rng, kwargs)
        info["declared_infeasible"] = self._declares_infeasible(config, space, data, rng, best)
        # constrained EI refines next to the incumbent even when the safe step promised nothing: its bounds keep
        # half a standard deviation inside every constraint, constrained EI may sit at an active one
        cei_refines = self.config_feasible_rule == "bounds+cei" and config.differentiable
        if x_safe is not None or (feasible_side and cei_refines and bool(data.feasible.any())):
            # CONFIG's step next to the best feasible trial is boundary refinement from the infeasible side, which
            # the safe step does from the feasible side; only a step elsewhere is the exploration the margin is for
            incumbent = data.X[data.feasible][np.argmin(y[data.feasible])]
            if np.max(np.abs(x - incumbent)) < self.config_local_radius:
                if cei_refines:
                    return self._constrained_ei_step(config, data, y, space, rng, kwargs)
                return x_safe
        for _ in range(self.config_widen):
            # a step next to a trial already run teaches nothing (noise-free objectives): the bounds are too tight
            # for the data, as with a constraint wigglier than its fitted lengthscale; widen them and solve again
            if np.min(np.max(np.abs(data.X - x), axis=1)) >= 0.01:
                break
            config = config.widened(4.0)
            x_wide, best_wide = self._optimize(config, space, rng, kwargs)
            if is_declaration(best_wide):
                break
            x = x_wide
        return x

    def _mixed_fidelity_cqr(self, data: Dataset) -> bool:
        """Whether this proposal uses CQR's mixed-fidelity settings (``MIXED_FIDELITY_*_OPTIONS``): CQR with quantile
        Thompson sampling, one objective, no constraints (the setting they were measured in), on mixed-fidelity data."""
        return (
            self.surrogate == "cqr"
            and self.acquisition_name == "thompson"
            and data.Y.shape[1] == 1
            and data.G.shape[1] == 0
            and data.mixed_fidelity
        )

    def _constrained_ei_step(self, config, data: Dataset, y: np.ndarray, space: SearchSpace, rng, kwargs):
        """The point of largest log EI over the best feasible value plus log probability of feasibility."""
        from acquisition.ei import ConstrainedLogEI

        cei = ConstrainedLogEI(config.objective, config.constraints, float(np.min(y[data.feasible])))
        return self._optimize(cei, space, rng, kwargs)[0]

    def _optimize(self, acq, space: SearchSpace, rng: np.random.Generator, kwargs: dict[str, Any]):
        from acquisition.optimize import optimize_acquisition

        if getattr(acq, "optimize", None) is not None:
            kwargs = {k: v for k, v in kwargs.items() if k != "to_boundary"}
            return acq.optimize(space, rng, **kwargs)
        return optimize_acquisition(acq, space, rng, n_raw=self.n_raw, n_restarts=self.n_restarts, **kwargs)

    def _config_acquisition(self, data: Dataset, model, rng: np.random.Generator):
        """CONFIG (papers.md §1): one surrogate per constraint, optimistic feasible set, objective LCB.

        Returns None when no constraint has enough observations to be modelled (the proposal is then
        unconstrained, with the feasibility-ordered incumbents).
        """
        from acquisition.config import ConfigAcquisition

        cmodels, scales = [], []
        for i in range(data.G.shape[1]):
            gi = data.G[:, i]
            ok = np.isfinite(gi)
            if ok.sum() < 2:
                continue  # too few observations of this constraint to model it: treat it as unknown
            gi = warp_constraint(gi[ok]) if self.config_warp else gi[ok]
            cmodels.append(self._fit(data.X[ok], gi, data.X_pending, rng, constraint=True))
            rms = float(np.sqrt(np.mean(gi * gi)))
            scales.append(rms if rms > 1e-12 else 1.0)
        if not cmodels:
            return None
        return ConfigAcquisition(
            model, cmodels, beta=self.config_beta, objective_beta=self.config_objective_beta, scales=scales
        )

    def _declares_infeasible(
        self, acq, space: SearchSpace, data: Dataset, rng: np.random.Generator, best: float | None
    ):
        """CONFIG step 4, checked over the optimizer's whole candidate set plus a dense Sobol check and the observed
        points, never on one weak solver run; never when a feasible trial has been observed."""
        from acquisition.config import ConfigAcquisition, is_declaration

        if not isinstance(acq, ConfigAcquisition) or data.feasible.any():
            return False
        if best is not None and not is_declaration(best):
            return False  # the optimizer found an optimistically feasible point
        if data.n < self.startup_trials(space.dim) + self.declare_after:
            return False
        from scipy.stats import qmc

        # fixed-kernel-like uncertainty for the check: lengthscales capped at the prior median (unit cube)
        cons = [
            m.with_lengthscale_cap(1.0) if hasattr(m, "with_lengthscale_cap") else m for m in acq.constraints
        ]
        strict = ConfigAcquisition(
            acq.objective,
            cons,
            beta=max(self.declare_beta, acq.beta),
            objective_beta=acq.objective_beta,
            scales=acq.scales,
        )
        check = qmc.Sobol(space.dim, scramble=True, seed=rng).random_base2(12)
        check = np.concatenate([space.round_encoded(check), data.X])
        return bool(np.all(is_declaration(strict(check))))
