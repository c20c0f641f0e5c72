"""Constrained problems: hpo's CONFIG sampler against Optuna's GPSampler / TPESampler / RandomSampler (and BoTorch).

Example (the command behind docs/constrained.md)::

    python benchmarks/bench_constrained.py --samplers hpo-gp,gp,tpe,random,botorch --seeds 0,1,2 \\
        --problems all --jobs 2 --out benchmarks/results/constrained.json

    python benchmarks/bench_constrained.py --report-only --out benchmarks/results/constrained.json

Protocol (../shared/bench/README.md, family b): every (sampler, problem, seed) runs through
``optuna.create_study(sampler=...).optimize(objective, n_trials=30, n_jobs=1)``. The objective suggests one float per
input dimension within the test function's bounds, evaluates ``botorch.test_functions`` (noise-free), gives every
constraint the Optuna 5 way, ``trial.set_constraint("c<i>", -slack_i)`` (feasible iff ``<= 0``), and returns the
objective value (minimize).

Metrics, per run:

* normalized regret at 25/50/100 % of the budget: ``clip((best_feasible - opt) / (ref - opt), 0, 1)``, ``opt`` the
  test function's ``optimal_value``, ``ref`` the median objective of the feasible points among 50,000 uniform random
  points (numpy seed 0; computed once and cached in ``benchmarks/results/constrained_refs.json``, recomputed when the
  file is missing or was made with another botorch version); 1 when nothing feasible was found;
* the share of feasible trials, whether any feasible trial was found, and the cumulative violation
  ``sum over trials of sum_i max(g_i, 0)`` (in the problem's own units);
* for hpo: whether CONFIG declared the (feasible) problem infeasible (study user attr ``hpo:declared_infeasible``);
* for Optuna's GPSampler: how many times it built its constraint GPs (checks that it reads ``set_constraint``).

Runs may go two at a time (``--jobs 2``, torch one thread per run): only the regret and feasibility metrics are
compared here, not timings. Raw results go to ``--out`` (JSON) after every run; ``--resume`` runs only the missing
ones, ``--report-only`` re-prints the tables.

Problems marked ``public`` are the ones of ../shared/bench/README.md; the others are of the same family (BoTorch's
constrained engineering problems) and are there so the method is not tuned to the public list.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.bench_samplers import _optuna_gp, _optuna_random, _optuna_tpe  # noqa: E402  (same peers)
from benchmarks.results_io import merge_runs, read_files, save_runs  # noqa: E402

__all__ = [
    "PROBLEMS",
    "CHECKPOINTS",
    "ConProblem",
    "get_problems",
    "reference",
    "make_sampler",
    "run_one",
    "checkpoint_regrets",
    "report",
]

CHECKPOINTS = (0.25, 0.5, 1.0)
REF_POINTS = 50_000
BOTORCH_CAP_S = 120.0
DEFAULT_REFS = Path(__file__).resolve().parent / "results" / "constrained_refs.json"

Run = dict[str, Any]


# ------------------------------------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class ConProblem:
    """A constrained test function of ``botorch.test_functions.synthetic``.

    Attributes:
        name: benchmark name (``con_<lowercase class name>``).
        cls: the BoTorch class name.
        public: listed in ../shared/bench/README.md (False: a further problem of the same family).
        budget: trials per run.
        in_all: part of ``--problems all`` / ``heldout`` (False: by name only).
    """

    name: str
    cls: str
    public: bool
    budget: int = 30
    in_all: bool = True

    def function(self) -> Any:
        import botorch.test_functions.synthetic as synthetic

        return getattr(synthetic, self.cls)()

    @property
    def optimum(self) -> float:
        return float(self.function().optimal_value)


def _problem(cls: str, public: bool, in_all: bool = True) -> ConProblem:
    return ConProblem(name=f"con_{cls.lower()}", cls=cls, public=public, in_all=in_all)


PROBLEMS: dict[str, ConProblem] = {
    p.name: p
    for p in (
        _problem("ConstrainedGramacy", True),  # 2-D, 2 constraints
        _problem("ConstrainedHartmann", True),  # 6-D, 1 constraint (||x|| <= 1)
        _problem("PressureVessel", True),  # 4-D, 4 constraints
        _problem("TensionCompressionString", False),  # 3-D, 4 constraints; 0.9 % of random points feasible
        _problem("WeldedBeamSO", False),  # 4-D, 6 constraints; 0.1 % feasible
        _problem("ConstrainedHartmannSmooth", False),  # 6-D, 1 constraint (||x||^2 <= 1)
        # 7-D, 11 constraints, 0.2 % feasible: by name only (12 GPs per proposal is too slow for the shared 2 cores)
        _problem("SpeedReducer", False, in_all=False),
    )
}


def get_problems(spec: str) -> list[ConProblem]:
    """``all``, ``public``, ``heldout`` or comma-separated problem names (``con_`` prefix optional).

    Raises:
        ValueError: an unknown problem name.
    """
    if spec == "all":
        return [p for p in PROBLEMS.values() if p.in_all]
    if spec == "public":
        return [p for p in PROBLEMS.values() if p.public]
    if spec == "heldout":
        return [p for p in PROBLEMS.values() if not p.public and p.in_all]
    out: list[ConProblem] = []
    for raw in spec.split(","):
        name = raw.strip().lower()
        name = name if name.startswith("con_") else f"con_{name}"
        if name not in PROBLEMS:
            raise ValueError(f"unknown problem {raw!r}; known: {', '.join(PROBLEMS)}")
        if PROBLEMS[name] not in out:
            out.append(PROBLEMS[name])
    return out


def evaluate(problem: ConProblem, X: np.ndarray, fn: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(f (n,), g (n, m))`` at ``(n, d)`` points: objective and constraint values ``g = -slack`` (feasible <= 0)."""
    import torch

    fn = problem.function() if fn is None else fn
    with torch.no_grad():
        Xt = torch.as_tensor(np.atleast_2d(X), dtype=torch.double)
        f = fn.evaluate_true(Xt).numpy().astype(float)
        g = (-fn.evaluate_slack_true(Xt)).numpy().astype(float)
    return f, g


def _compute_reference(problem: ConProblem) -> dict[str, Any]:
    fn = problem.function()
    lo, hi = (b.numpy() for b in fn.bounds)
    X = lo + np.random.default_rng(0).random((REF_POINTS, fn.dim)) * (hi - lo)
    f, g = evaluate(problem, X, fn)
    feasible = (g <= 0).all(axis=1)
    return {
        "ref": float(np.median(f[feasible])),
        "opt": float(fn.optimal_value),
        "n_points": REF_POINTS,
        "n_feasible": int(feasible.sum()),
        "best_random": float(f[feasible].min()),
        "dim": int(fn.dim),
        "n_constraints": int(g.shape[1]),
    }


def reference(problem: ConProblem, cache: Path | None = DEFAULT_REFS) -> dict[str, Any]:
    """The reference point of ``problem`` (median feasible value of 50,000 uniform points), cached in ``cache``."""
    import botorch

    key = f"{problem.name}|botorch={botorch.__version__}|n={REF_POINTS}|seed=0"
    data: dict[str, Any] = {}
    if cache is not None and cache.exists():
        try:
            data = json.loads(cache.read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
    if key not in data:
        data[key] = _compute_reference(problem)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            tmp.replace(cache)
    return data[key]


# ------------------------------------------------------------------------------------------------------- samplers
def _hpo(seed: int, **overrides: Any) -> Any:
    """hpo's sampler; ``overrides`` replace fields of its :class:`hpo.scheduler.Proposer` (CONFIG's settings)."""
    import dataclasses

    from integrations.optuna import HPOSampler

    sampler = HPOSampler(surrogate="gp", seed=seed)
    if overrides:
        sampler._proposer = dataclasses.replace(sampler._proposer, **overrides)
    return sampler


def constrained_qlognei_candidates(train_x, train_obj, train_con, bounds, pending_x):
    """BoTorch candidates function: constrained qLogNoisyExpectedImprovement (the protocol's BoTorch peer).

    One SingleTaskGP (Standardize) over [objective, constraints]; 256 Sobol QMC samples; 10 restarts, 512 raw samples.
    ``train_obj`` is maximized (the sampler negates a minimized objective); ``train_con <= 0`` is feasible.
    """
    import torch
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.utils.transforms import normalize, unnormalize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    lo_hi = torch.stack([torch.zeros(bounds.shape[1]), torch.ones(bounds.shape[1])]).to(bounds)
    X = normalize(train_x, bounds=bounds)
    m = 0 if train_con is None else train_con.shape[1]
    Y = train_obj if m == 0 else torch.cat([train_obj, train_con], dim=-1)
    model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=Y.shape[-1]))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    kwargs: dict[str, Any] = {}
    if m:
        kwargs["objective"] = GenericMCObjective(lambda Z, X=None: Z[..., 0])
        kwargs["constraints"] = [(lambda Z, i=i: Z[..., 1 + i]) for i in range(m)]
    acqf = qLogNoisyExpectedImprovement(
        model=model,
        X_baseline=X,
        sampler=SobolQMCNormalSampler(sample_shape=torch.Size([256])),
        X_pending=None if pending_x is None else normalize(pending_x, bounds=bounds),
        **kwargs,
    )
    cand, _ = optimize_acqf(acqf, bounds=lo_hi, q=1, num_restarts=10, raw_samples=512)
    return unnormalize(cand.detach(), bounds=bounds)


def _botorch(seed: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from optuna_integration import BoTorchSampler

        return BoTorchSampler(candidates_func=constrained_qlognei_candidates, n_startup_trials=10, seed=seed)


SAMPLERS: dict[str, Callable[[int], Any]] = {
    "hpo-gp": _hpo,
    "gp": _optuna_gp,
    "tpe": _optuna_tpe,
    "random": _optuna_random,
    "botorch": _botorch,
}


#: variant letters of ``hpo-gp:...`` names -> (Proposer field, type)
VARIANT_FIELDS: dict[str, tuple[str, type]] = {
    "b": ("config_beta", float),
    "o": ("config_objective_beta", float),
    "f": ("config_feasible_every", int),
    "p": ("config_feasible_beta", float),
    "q": ("config_feasible_objective_beta", float),
    "w": ("config_widen", int),
    "m": ("config_feasible_margin", float),
    "r": ("config_local_radius", float),
    "z": ("config_prefeasible_beta", float),
}


#: whole-word flags of ``hpo-gp:...`` names -> (Proposer field, value)
VARIANT_FLAGS: dict[str, tuple[str, Any]] = {
    "nw": ("config_warp", False),
    "ow": ("config_objective_warp", True),
    "now": ("config_objective_warp", False),
    "cei": ("config_feasible_rule", "cei"),
    "lcei": ("config_feasible_rule", "bounds+cei"),
    "bnd": ("config_feasible_rule", "bounds"),
    "ff": ("config_feasible_first", True),
    "nff": ("config_feasible_first", False),
    "st": ("config_feasible_streak", True),
    "nst": ("config_feasible_streak", False),
    "tb0": ("config_to_boundary", "none"),
    "tbc": ("config_to_boundary", "config"),
    "tbf": ("config_to_boundary", "feasible"),
    "tba": ("config_to_boundary", "all"),
}


def parse_variant(name: str) -> dict[str, Any] | None:
    """Proposer overrides of an hpo variant name, or None for a peer.

    ``hpo-gp:b4:o1`` -> ``{"config_beta": 4.0, "config_objective_beta": 1.0}``; ``f<k>`` sets
    ``config_feasible_every``, ``p<beta>`` ``config_feasible_beta``, ``q<beta>`` its objective beta, ``w<k>``
    ``config_widen``, ``m<x>`` ``config_feasible_margin``, ``r<x>`` ``config_local_radius``, ``z<x>`` ``config_prefeasible_beta``, ``nw`` turns the constraint warping off, ``ow``/``now`` the objective warping on/off, ``cei``/``lcei``/``bnd`` the
    feasible-side rule "cei"/"bounds+cei"/"bounds", ``ff``/``nff`` turn ``config_feasible_first`` on/off, ``st``/``nst`` ``config_feasible_streak``, ``tb0``/``tbc``/``tbf``/``tba``
    ``config_to_boundary`` "none"/"config"/"feasible"/"all";
    ``hpo-gp`` -> ``{}`` (the defaults).
    """
    parts = name.split(":")
    if parts[0] != "hpo-gp":
        return None
    out: dict[str, Any] = {}
    for p in parts[1:]:
        if p in VARIANT_FLAGS:
            field_name, value = VARIANT_FLAGS[p]
            out[field_name] = value
        elif p[:1] in VARIANT_FIELDS and p[1:]:
            field_name, kind = VARIANT_FIELDS[p[0]]
            out[field_name] = kind(p[1:])
        else:
            raise ValueError(
                f"bad hpo variant {name!r}: use hpo-gp[:b<beta>][:o<beta>][:f<k>][:p<beta>][:q<beta>][:w<k>][:r<radius>][:z<beta>][:nw][:ow|:now][:cei|:lcei|:bnd][:ff|:nff][:st|:nst][:tb0|:tbc|:tbf|:tba]"
            )
    return out


def make_sampler(name: str, seed: int) -> Any:
    """A fresh sampler by its benchmark name (``hpo-gp:b4:o1`` sets CONFIG's betas).

    Raises:
        ValueError: an unknown name.
    """
    variant = parse_variant(name)
    if variant is not None:
        return _hpo(seed, **variant)
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}, hpo-gp:b<beta>:o<beta>")
    return SAMPLERS[name](seed)


# ------------------------------------------------------------------------------------------------------------ run
def run_one(
    sampler_name: str,
    problem: ConProblem,
    seed: int,
    budget: int | None = None,
    time_cap_s: float | None = None,
) -> Run:
    """One (sampler, problem, seed) study; returns its per-trial record."""
    import optuna

    budget = problem.budget if budget is None else int(budget)
    fn = problem.function()
    lo, hi = (b.numpy().astype(float) for b in fn.bounds)
    obj_wall: dict[int, float] = {}
    raw_g: dict[int, list[float]] = {}

    def objective(trial: optuna.Trial) -> float:
        x = np.array([trial.suggest_float(f"x{i}", lo[i], hi[i]) for i in range(fn.dim)])
        t0 = time.perf_counter()
        f, g = evaluate(problem, x[None, :], fn)
        raw_g[trial.number] = [float(gi) for gi in g[0]]
        for i, gi in enumerate(g[0]):
            trial.set_constraint(f"c{i}", float(gi))
        obj_wall[trial.number] = time.perf_counter() - t0
        return float(f[0])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(sampler_name, seed)
    gp_fits = [0]
    if sampler_name == "gp":  # count GPSampler's constraint-model builds: proves it reads set_constraint
        original = sampler._get_constraints_acqf_args

        def counted(*a: Any, **k: Any) -> Any:
            gp_fits[0] += 1
            return original(*a, **k)

        sampler._get_constraints_acqf_args = counted
    study = optuna.create_study(direction="minimize", sampler=sampler)
    marks: list[tuple[int, float]] = []  # (trial number, end time)
    start = time.perf_counter()

    def callback(st: optuna.Study, t: Any) -> None:
        marks.append((t.number, time.perf_counter()))
        if time_cap_s is not None and marks[-1][1] - start > time_cap_s:
            st.stop()

    error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            study.optimize(objective, n_trials=budget, n_jobs=1, callbacks=[callback])
        except Exception as exc:  # a peer that crashes is reported, not fatal to the benchmark
            error = f"{type(exc).__name__}: {exc}"
    trials = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    values = [float(t.value) for t in trials]
    cons = [raw_g[t.number] for t in trials]
    ends = [m[1] for m in marks]
    wall = {n: b - a for (n, b), a in zip(marks, [start, *ends[:-1]], strict=True)}
    overhead = [max(wall.get(t.number, 0.0) - obj_wall.get(t.number, 0.0), 0.0) for t in trials]
    from integrations.optuna import DECLARED_KEY

    return {
        "sampler": sampler_name,
        "problem": problem.name,
        "public": problem.public,
        "seed": seed,
        "budget": budget,
        "n_done": len(trials),
        "timed_out": len(trials) < budget and error is None,
        "error": error,
        "values": values,
        "constraints": cons,
        "overhead_s": overhead,
        "wall_s": time.perf_counter() - start,
        "declared_infeasible": bool(study.user_attrs.get(DECLARED_KEY, False)),
        "gp_constraint_fits": gp_fits[0] if sampler_name == "gp" else None,
    }


# ---------------------------------------------------------------------------------------------------- metrics
def checkpoints(budget: int) -> list[int]:
    return [max(1, int(round(c * budget))) for c in CHECKPOINTS]


def best_feasible(run: Run, k: int) -> float | None:
    """Best feasible value among the first ``k`` trials; None when none was feasible."""
    best = None
    for v, g in zip(run["values"][:k], run["constraints"][:k], strict=True):
        if all(gi <= 0 for gi in g) and (best is None or v < best):
            best = v
    return best


def normalized_regret(best: float | None, opt: float, ref: float) -> float:
    if best is None or not math.isfinite(best):
        return 1.0
    return float(min(max((best - opt) / (ref - opt), 0.0), 1.0))


def checkpoint_regrets(run: Run, ref: dict[str, Any]) -> list[float | None]:
    """Normalized regret at each checkpoint; None where the run stopped (time cap, error) before it."""
    out: list[float | None] = []
    for k in checkpoints(run["budget"]):
        if run["n_done"] < k:
            out.append(None)
        else:
            out.append(normalized_regret(best_feasible(run, k), ref["opt"], ref["ref"]))
    return out


def violation(run: Run) -> float:
    return float(sum(sum(max(g, 0.0) for g in gs) for gs in run["constraints"]))


def feasible_share(run: Run) -> float:
    n = len(run["constraints"])
    return sum(all(g <= 0 for g in gs) for gs in run["constraints"]) / n if n else 0.0


# ---------------------------------------------------------------------------------------------------- tables
def _fmt(x: float | None, nd: int = 3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return statistics.fmean(xs) if xs else None


def _ranks(scores: dict[str, float]) -> dict[str, float]:
    """Average ranks (1 = lowest score), ties sharing the mean of their positions."""
    items = sorted(scores.items(), key=lambda kv: kv[1])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and abs(items[j + 1][1] - items[i][1]) <= 1e-9:
            j += 1
        for k in range(i, j + 1):
            ranks[items[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def report(runs: Sequence[Run], refs: dict[str, dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    """All tables as markdown."""
    samplers = list(dict.fromkeys(r["sampler"] for r in runs))
    problems = [p for p in PROBLEMS if any(r["problem"] == p for r in runs)]
    problems += [p for p in dict.fromkeys(r["problem"] for r in runs) if p not in problems]
    by: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by.setdefault((r["sampler"], r["problem"]), []).append(r)
    nr = {key: [checkpoint_regrets(r, refs[key[1]]) for r in rs] for key, rs in by.items()}
    public = {r["problem"]: r["public"] for r in runs}
    lines: list[str] = []
    if meta:
        lines.append(
            f"Run {meta.get('date', '?')} on {meta.get('cores', '?')} cores ({meta.get('machine', '')}); "
            + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
            + f". Command: `{meta.get('command', '?')}`"
        )
        lines.append("")

    def final_means(s: str) -> dict[str, float]:
        out = {}
        for p in problems:
            xs = [c[-1] for c in nr.get((s, p), []) if c[-1] is not None]
            if xs:
                out[p] = statistics.fmean(xs)
        return out

    finals = {s: final_means(s) for s in samplers}
    ranks_per_problem: dict[str, dict[str, float]] = {}
    for p in problems:
        scores = {s: finals[s][p] for s in samplers if p in finals[s]}
        ranks_per_problem[p] = _ranks(scores)

    # 1. summary
    pct = [f"{int(c * 100)} %" for c in CHECKPOINTS]
    lines.append(
        "### Mean normalized regret (over problems x seeds) and mean rank (final budget, per problem)"
    )
    lines.append("")
    head = [
        "sampler",
        *(f"nr @{x}" for x in pct),
        "nr @100 % public",
        "nr @100 % non-public",
        "mean rank",
        "vs gp: better / tie / worse",
        "runs",
    ]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for s in samplers:
        cells = [s]
        for i in range(len(CHECKPOINTS)):
            cells.append(_fmt(_mean(c[i] for p in problems for c in nr.get((s, p), []) if c[i] is not None)))
        for flag in (True, False):
            cells.append(
                _fmt(
                    _mean(
                        c[-1]
                        for p in problems
                        if public[p] == flag
                        for c in nr.get((s, p), [])
                        if c[-1] is not None
                    )
                )
            )
        rk = [ranks_per_problem[p][s] for p in problems if s in ranks_per_problem[p]]
        cells.append(f"{_fmt(_mean(rk), 2)} ({len(rk)})")
        if s != "gp" and "gp" in finals:
            common = [p for p in problems if p in finals[s] and p in finals["gp"]]
            b = sum(finals[s][p] < finals["gp"][p] - 1e-9 for p in common)
            w = sum(finals[s][p] > finals["gp"][p] + 1e-9 for p in common)
            cells.append(f"{b} / {len(common) - b - w} / {w}")
        else:
            cells.append("–")
        cells.append(str(sum(len(by.get((s, p), [])) for p in problems)))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Timed-out or failed runs are left out of the checkpoints they did not reach.")
    lines.append("")

    # 2. per problem
    lines.append("### Per problem: mean±sd normalized regret at the final budget (n = runs)")
    lines.append("")
    lines.append("| problem | set | dim / constraints | " + " | ".join(samplers) + " |")
    lines.append("|---|---|---|" + "---|" * len(samplers))
    for p in problems:
        ref = refs[p]
        best = min((finals[s][p] for s in samplers if p in finals[s]), default=None)
        cells = [
            p,
            "public" if public[p] else "non-public",
            f"{ref.get('dim', '?')} / {ref.get('n_constraints', '?')}",
        ]
        for s in samplers:
            rs = by.get((s, p), [])
            xs = [c[-1] for c in nr.get((s, p), []) if c[-1] is not None]
            if not rs:
                cells.append("–")
                continue
            if not xs:
                cells.append(f"timeout (n={len(rs)})")
                continue
            sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
            txt = f"{statistics.fmean(xs):.3f}±{sd:.3f} (n={len(xs)})"
            if len(xs) < len(rs):
                txt += f" +{len(rs) - len(xs)} timeout"
            if best is not None and abs(statistics.fmean(xs) - best) <= 1e-9:
                txt = f"**{txt}**"
            cells.append(txt)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")

    # 3. feasibility
    lines.append(
        "### Feasible share of trials / runs that found a feasible point / mean cumulative violation"
    )
    lines.append("")
    lines.append(
        "Cumulative violation = sum over a run's trials of sum_i max(g_i, 0), in the problem's own units "
        "(mean over runs)."
    )
    lines.append("")
    lines.append("| problem | " + " | ".join(samplers) + " |")
    lines.append("|---|" + "---|" * len(samplers))
    for p in problems:
        cells = [p]
        for s in samplers:
            rs = by.get((s, p), [])
            if not rs:
                cells.append("–")
                continue
            share = statistics.fmean(feasible_share(r) for r in rs)
            found = sum(best_feasible(r, r["n_done"]) is not None for r in rs)
            viol = statistics.fmean(violation(r) for r in rs)
            cells.append(f"{share * 100:.0f}% / {found}/{len(rs)} / {viol:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")

    # 4. checks
    lines.append("### Checks")
    lines.append("")
    hpo = [r for r in runs if r["sampler"].startswith("hpo-gp")]
    if hpo:
        n_decl = sum(r["declared_infeasible"] for r in hpo)
        lines.append(
            f"- hpo `hpo:declared_infeasible` set on {n_decl} of {len(hpo)} hpo runs "
            "(every problem here is feasible, so this should be 0)."
        )
    gp = [r for r in runs if r["sampler"] == "gp"]
    if gp:
        fits = [r["gp_constraint_fits"] or 0 for r in gp]
        lines.append(
            f"- Optuna GPSampler built its constraint GPs in {sum(f > 0 for f in fits)} of {len(gp)} runs "
            f"({min(fits)}–{max(fits)} times per run): it reads `trial.set_constraint` values."
        )
    errs = [r for r in runs if r.get("error")]
    timeouts = [r for r in runs if r.get("timed_out")]
    if timeouts:
        lines.append(
            f"- time cap ({BOTORCH_CAP_S:.0f} s per run) hit by {len(timeouts)} runs: "
            + ", ".join(sorted({f"{r['sampler']}/{r['problem']}" for r in timeouts}))
        )
    for r in errs:
        lines.append(f"- error in {r['sampler']}/{r['problem']}/seed {r['seed']}: {r['error']}")
    lines.append("")
    lines.append(
        "### Overhead per trial (sampler + Optuna), mean over model-based trials 11..budget, ms (wall)"
    )
    lines.append("")
    lines.append("| problem | " + " | ".join(samplers) + " |")
    lines.append("|---|" + "---|" * len(samplers))
    for p in problems:
        cells = [p]
        for s in samplers:
            xs = [o for r in by.get((s, p), []) for o in r["overhead_s"][10:]]
            cells.append("–" if not xs else f"{statistics.fmean(xs) * 1e3:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------ main
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("optuna", "optuna-integration", "botorch", "torch", "numpy", "scipy", "greenlet"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _worker(args: tuple[str, str, int, float | None]) -> Run:
    import torch

    torch.set_num_threads(1)
    sampler, pname, seed, cap = args
    return run_one(sampler, PROBLEMS[pname], seed, time_cap_s=cap)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--samplers",
        default="hpo-gp,gp,tpe,random",
        help="comma list of hpo-gp[:b<beta>][:o<objective beta>], gp, tpe, random, botorch",
    )
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sampler-seeds", default="", help="e.g. 'botorch=0,1;random=0,1,2,3,4'")
    ap.add_argument("--problems", default="all", help="all, public, heldout or comma-separated names")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (torch gets one thread per run)")
    ap.add_argument("--botorch-cap", type=float, default=BOTORCH_CAP_S, help="wall seconds per BoTorch run")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/constrained.json"))
    ap.add_argument("--refs", type=Path, default=DEFAULT_REFS)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="with --report-only: also read the runs of these JSON files (runs split over processes)",
    )
    ap.add_argument(
        "--samplers-only",
        default="",
        help="with --report-only: report only these samplers (comma list), in this order",
    )
    ap.add_argument(
        "--paired",
        action="store_true",
        help="with --report-only: keep only the (problem, seed) pairs that every reported sampler ran",
    )
    a = ap.parse_args(argv)

    if a.report_only:
        try:
            files = read_files(a.out, a.merge)
        except FileNotFoundError as err:
            ap.error(str(err))
        # the --out file's run of a (sampler, problem, seed) stays; --merge files only add the ones it lacks
        runs, _ = merge_runs(files, lambda r: (r["sampler"], r["problem"], r["seed"]), keep="first")
        data = files[0]
        if a.samplers_only:
            order = [x.strip() for x in a.samplers_only.split(",") if x.strip()]
            runs = sorted((r for r in runs if r["sampler"] in order), key=lambda r: order.index(r["sampler"]))
        if a.paired:
            names = {r["sampler"] for r in runs}
            have: dict[tuple[str, int], set[str]] = {}
            for r in runs:
                have.setdefault((r["problem"], r["seed"]), set()).add(r["sampler"])
            runs = [r for r in runs if have[(r["problem"], r["seed"])] == names]
        refs = {p: reference(PROBLEMS[p], a.refs) for p in {r["problem"] for r in runs}}
        print(report(runs, refs, data.get("meta")))
        return 0

    problems = get_problems(a.problems)
    samplers = [s.strip() for s in a.samplers.split(",") if s.strip()]
    for s in samplers:
        if parse_variant(s) is None and s not in SAMPLERS:
            raise SystemExit(f"unknown sampler {s!r}")
    seeds = [int(x) for x in a.seeds.split(",") if x.strip()]
    per_sampler = {s: seeds for s in samplers}
    for part in filter(None, a.sampler_seeds.split(";")):
        name, _, lst = part.partition("=")
        per_sampler[name.strip()] = [int(x) for x in lst.split(",") if x.strip()]
    refs = {p.name: reference(p, a.refs) for p in problems}

    meta = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "machine": f"{platform.machine()}, jobs={a.jobs}, torch threads/run=1",
        "versions": _versions(),
        "command": "python benchmarks/bench_constrained.py "
        + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
    }
    runs: list[Run] = []
    if a.resume and a.out.exists():
        runs = json.loads(a.out.read_text())["runs"]
    done = {(r["sampler"], r["problem"], r["seed"]) for r in runs}
    todo = [
        (s, p.name, seed, a.botorch_cap if s == "botorch" else None)
        for seed in sorted({x for v in per_sampler.values() for x in v})
        for p in problems
        for s in samplers
        if seed in per_sampler[s] and (s, p.name, seed) not in done
    ]
    print(f"{len(todo)} runs to do ({len(runs)} kept)", flush=True)
    t0 = time.perf_counter()

    def record(run: Run) -> None:
        runs.append(run)
        save_runs(a.out, meta, runs, one_run_per_line=True)
        regs = checkpoint_regrets(run, refs[run["problem"]])
        print(
            f"[{time.perf_counter() - t0:7.0f}s] {run['sampler']:>14} {run['problem']:<32} seed {run['seed']} "
            f"nr {' '.join(_fmt(x) for x in regs)} feas {feasible_share(run):.0%} "
            f"wall {run['wall_s']:.0f}s{' ERROR ' + run['error'] if run['error'] else ''}",
            flush=True,
        )

    if a.jobs <= 1:
        import torch

        torch.set_num_threads(1)
        for job in todo:
            record(run_one(job[0], PROBLEMS[job[1]], job[2], time_cap_s=job[3]))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=a.jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_worker, job) for job in todo]
            for fut in as_completed(futures):
                record(fut.result())
    print()
    print(report(runs, refs, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
