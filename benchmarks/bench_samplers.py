"""Compare hpo's sampler with Optuna's samplers on the benchmark problems, in one run, and print the tables.

Example (the command behind docs/benchmarks.md)::

    python benchmarks/bench_samplers.py --samplers hpo-gp,gp,tpe,random --seeds 0,1,2 --problems all \\
        --budget-scale 1.0 --out benchmarks/results/spine.json

    python benchmarks/bench_samplers.py --report-only --out benchmarks/results/spine.json   # re-print the tables

Protocol (../shared/bench/README.md): every (sampler, problem, seed) runs through
``optuna.create_study(...).optimize(objective, n_trials=budget, n_jobs=1)``, one run after the other in this process
(no parallel runs: two runs sharing the 2 cores would inflate each other's sampler time). Threads are left as a user
has them (torch's default intra-op threads).

Timing of trial ``i``: wall (``time.perf_counter``) and process CPU (``time.process_time``) from the end of trial
``i - 1`` (or the start of ``optimize``) to the end of trial ``i`` (an ``optimize`` callback), minus the same clocks
around the objective proper (``Instance.evaluate``; the parameter suggestions, where Optuna calls the sampler, stay
outside it). The difference, *overhead per suggestion*, is the sampler's time plus Optuna's own bookkeeping.

Raw results are written to ``--out`` (JSON) after every run, so an interrupted run can be resumed (``--resume``) and
the tables re-printed from it (``--report-only``). ``--report-only --merge B.json,C.json`` reports several files as
one (runs split over processes, e.g. even and odd seeds), and ``--store benchmarks/stored/NAME.json`` also writes the
reported runs there, one per line with the per-trial times rounded to 0.001 ms: ``benchmarks/results/`` is
git-ignored and does not survive a new machine, ``benchmarks/stored/`` is committed, so a README table printed from
it can be printed again anywhere.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
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
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.problems import Problem, get_problems  # noqa: E402
from benchmarks.results_io import keep_runs, read_merged, save_runs  # noqa: E402

__all__ = [
    "SAMPLERS",
    "CHECKPOINTS",
    "OVERHEAD_AT",
    "make_sampler",
    "run_one",
    "normalized_regret",
    "regret_table",
    "overhead_table",
    "report",
    "paired",
]

CHECKPOINTS = (0.25, 0.5, 1.0)  # fractions of each problem's trial budget
OVERHEAD_AT = (50, 100)  # trial numbers (1-based) at which the overhead is read
OVERHEAD_WINDOW = 5  # mean over trials OVERHEAD_AT - 4 .. OVERHEAD_AT

Run = dict[str, Any]


# ------------------------------------------------------------------------------------------------------- samplers
def _hpo_gp(seed: int) -> Any:
    from integrations.optuna import HPOSampler

    return HPOSampler(surrogate="gp", seed=seed)


def _hpo_gp_dimscaled(seed: int) -> Any:
    """hpo's GP with the dimension-scaled lengthscale prior and a noise prior at e^-4 (its defaults before
    the priors were changed), kept to show what the default priors gain."""
    from integrations.optuna import HPOSampler

    return HPOSampler(
        surrogate="gp",
        seed=seed,
        surrogate_options={"lengthscale_prior": "dim-scaled", "noise_prior": (-4.0, 1.0)},
    )


def _optuna_gp(seed: int) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def _optuna_tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)


def _optuna_random(seed: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _optuna_cmaes(seed: int) -> Any:
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed)


SAMPLERS: dict[str, Callable[[int], Any]] = {
    "hpo-gp": _hpo_gp,
    "hpo-gp-dimscaled": _hpo_gp_dimscaled,
    "gp": _optuna_gp,
    "tpe": _optuna_tpe,
    "random": _optuna_random,
    "cmaes": _optuna_cmaes,
}


def make_sampler(name: str, seed: int) -> Any:
    """A fresh sampler by its benchmark name.

    Raises:
        ValueError: an unknown name.
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")
    return SAMPLERS[name](seed)


# ------------------------------------------------------------------------------------------------------------ run
def scaled_budget(problem: Problem, scale: float) -> int:
    return max(4, int(round(problem.budget * scale)))


def run_one(sampler_name: str, problem: Problem, seed: int, budget: int) -> Run:
    """Runs one (sampler, problem, seed) study and returns its per-trial record."""
    import optuna

    inst = problem.instance(seed)
    obj_wall: dict[int, float] = {}
    obj_cpu: dict[int, float] = {}

    def objective(trial: optuna.Trial) -> float:
        params = inst.suggest(trial)  # the sampler works here (Optuna samples lazily, at the first suggest)
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            return inst.evaluate(params)
        finally:
            obj_cpu[trial.number] = time.process_time() - c0
            obj_wall[trial.number] = time.perf_counter() - w0

    marks: list[tuple[float, float]] = []

    def mark(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        marks.append((time.perf_counter(), time.process_time()))

    study = optuna.create_study(sampler=make_sampler(sampler_name, seed), direction="minimize")
    load_before = os.getloadavg()[0]
    gc.collect()
    start = (time.perf_counter(), time.process_time())
    error = None
    try:
        study.optimize(objective, n_trials=budget, n_jobs=1, callbacks=[mark], catch=(Exception,))
    except Exception as exc:  # a sampler failure: keep what was done, report it
        error = f"{type(exc).__name__}: {exc}"
    end_wall = time.perf_counter()

    trials = study.get_trials(deepcopy=False)
    values = [float(t.value) if t.value is not None and math.isfinite(t.value) else None for t in trials]
    bounds = [start, *marks]
    n = min(len(trials), len(marks))
    return {
        "sampler": sampler_name,
        "problem": problem.name,
        "family": problem.family,
        "public": problem.public,
        "seed": seed,
        "budget": budget,
        "instance": inst.label,
        "optimum": inst.optimum,
        "reference": inst.reference,
        "values": values[:n],
        "trial_wall_ms": [1e3 * (bounds[i + 1][0] - bounds[i][0]) for i in range(n)],
        "trial_cpu_ms": [1e3 * (bounds[i + 1][1] - bounds[i][1]) for i in range(n)],
        "obj_wall_ms": [1e3 * obj_wall.get(i, 0.0) for i in range(n)],
        "obj_cpu_ms": [1e3 * obj_cpu.get(i, 0.0) for i in range(n)],
        "run_wall_s": end_wall - start[0],
        "loadavg_1min": [load_before, os.getloadavg()[0]],  # other processes on the machine distort timings
        "error": error,
    }


# --------------------------------------------------------------------------------------------------------- regret
def best_within(run: Run, k: int) -> float | None:
    vals = [v for v in run["values"][:k] if v is not None]
    return min(vals) if vals else None


def ml_optima(runs: Iterable[Run]) -> dict[str, float]:
    """Per problem without a known optimum: the best value any run found."""
    out: dict[str, float] = {}
    for r in runs:
        if r["optimum"] is None:
            b = best_within(r, len(r["values"]))
            if b is not None:
                out[r["problem"]] = min(b, out.get(r["problem"], math.inf))
    return out


def normalized_regret(best: float | None, opt: float, ref: float) -> float:
    """clip((best - opt) / (ref - opt), 0, 1); 1 when nothing was found or nobody beat the reference."""
    if best is None:
        return 1.0
    if ref <= opt:  # no run beat the reference (ML): reaching it counts as 0, anything else as 1
        return 0.0 if best <= ref else 1.0
    return min(1.0, max(0.0, (best - opt) / (ref - opt)))


def run_regrets(run: Run, optima: dict[str, float]) -> list[float]:
    """Normalized regret of one run at each fraction in CHECKPOINTS of its budget."""
    opt = run["optimum"] if run["optimum"] is not None else optima.get(run["problem"], math.inf)
    ks = [max(1, int(round(f * run["budget"]))) for f in CHECKPOINTS]
    return [normalized_regret(best_within(run, k), opt, run["reference"]) for k in ks]


def _group(runs: Iterable[Run]) -> dict[tuple[str, str], list[Run]]:
    out: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        out.setdefault((r["problem"], r["sampler"]), []).append(r)
    return out


def _ranks(scores: dict[str, float]) -> dict[str, float]:
    """Rank 1 = lowest score; ties share the mean rank."""
    ordered = sorted(scores.values())
    return {k: statistics.mean(i + 1 for i, s in enumerate(ordered) if s == v) for k, v in scores.items()}


def regret_summary(runs: Sequence[Run]) -> dict[tuple[str, str], list[list[float]]]:
    """(problem, sampler) -> per run, the regrets at CHECKPOINTS."""
    optima = ml_optima(runs)
    return {key: [run_regrets(r, optima) for r in rs] for key, rs in _group(runs).items()}


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(f: float) -> str:
    return f"{round(100 * f)}%"


def regret_table(runs: Sequence[Run], samplers: Sequence[str], problems: Sequence[str]) -> tuple[str, dict]:
    """Mean normalized regret per sampler over ``problems`` (mean over problems of the mean over seeds) at each
    checkpoint, and the mean rank at the final budget. Returns the markdown and the numbers."""
    summ = regret_summary(runs)
    per_problem_final: dict[str, dict[str, float]] = {}
    for p in problems:
        scores = {s: statistics.mean(r[-1] for r in summ[(p, s)]) for s in samplers if (p, s) in summ}
        if scores:
            per_problem_final[p] = scores
    ranks = {p: _ranks(sc) for p, sc in per_problem_final.items()}
    numbers: dict[str, dict[str, Any]] = {}
    rows = []
    for s in samplers:
        ps = [p for p in problems if (p, s) in summ]
        if not ps:
            continue
        means = [
            statistics.mean(statistics.mean(r[c] for r in summ[(p, s)]) for p in ps)
            for c in range(len(CHECKPOINTS))
        ]
        rank = statistics.mean(ranks[p][s] for p in ps)
        numbers[s] = {"nr": means, "rank": rank, "n_problems": len(ps)}
        rows.append([s, *(f"{m:.3f}" for m in means), f"{rank:.2f}", str(len(ps))])
    header = ["sampler", *(f"nr @{_pct(c)}" for c in CHECKPOINTS), "mean rank @100%", "#problems"]
    return _table(header, rows), numbers


def problem_table(runs: Sequence[Run], samplers: Sequence[str], problems: Sequence[str]) -> str:
    """Per problem, mean ± sd (over seeds) of the normalized regret at the final budget; best mean in bold."""
    summ = regret_summary(runs)
    budgets = {r["problem"]: r["budget"] for r in runs}
    public = {r["problem"]: r["public"] for r in runs}
    rows = []
    for p in problems:
        cells: dict[str, tuple[float, str]] = {}
        for s in samplers:
            if (p, s) in summ:
                m, sd = _mean_sd([r[-1] for r in summ[(p, s)]])
                cells[s] = (m, f"{m:.3f}±{sd:.3f} (n={len(summ[(p, s)])})")
        if not cells:
            continue
        best = min(m for m, _ in cells.values())
        row = [p, "public" if public[p] else "held-out", f"{budgets[p]} trials"]
        for s in samplers:
            m, text = cells.get(s, (math.inf, "–"))
            row.append(f"**{text}**" if m == best else text)
        rows.append(row)
    return _table(["problem", "set", "budget", *samplers], rows)


# ------------------------------------------------------------------------------------------------------- overhead
def overheads(run: Run, clock: str) -> list[float]:
    """Per trial, trial time minus objective time in ms; ``clock`` is "wall" or "cpu"."""
    return [t - o for t, o in zip(run[f"trial_{clock}_ms"], run[f"obj_{clock}_ms"], strict=True)]


def overhead_at(run: Run, trial: int, clock: str) -> float | None:
    """Mean overhead over trials ``trial - 4 .. trial`` (1-based), or None if the run did not reach ``trial``."""
    oh = overheads(run, clock)
    if len(oh) < trial:
        return None
    return statistics.mean(oh[trial - OVERHEAD_WINDOW : trial])


def overhead_table(runs: Sequence[Run], samplers: Sequence[str]) -> tuple[str, dict]:
    """Median over runs of the mean overhead at trials 46-50 and 96-100 (wall and CPU ms), on every run that reached
    them; plus the mean over all trials of those runs and the sampler's share of their wall time."""
    numbers: dict[str, dict[str, Any]] = {}
    rows = []
    max_at = max(OVERHEAD_AT)
    for s in samplers:
        rs = [r for r in runs if r["sampler"] == s]
        cells: dict[str, Any] = {}
        row = [s]
        for clock in ("wall", "cpu"):
            for at in OVERHEAD_AT:
                vals = [v for v in (overhead_at(r, at, clock) for r in rs) if v is not None]
                cells[f"{clock}@{at}"] = statistics.median(vals) if vals else None
                row.append(f"{statistics.median(vals):.1f} ({len(vals)})" if vals else "–")
        long_runs = [r for r in rs if len(r["values"]) >= max_at]
        all_oh = [x for r in long_runs for x in overheads(r, "wall")]
        total = sum(sum(r["trial_wall_ms"]) for r in long_runs)
        row.append(f"{statistics.mean(all_oh):.1f}" if all_oh else "–")
        row.append(f"{100 * sum(all_oh) / total:.0f}%" if total else "–")
        loads = [x for r in long_runs for x in r.get("loadavg_1min", [])]
        row.append(f"{statistics.median(loads):.1f}" if loads else "–")
        numbers[s] = cells
        rows.append(row)
    header = [
        "sampler",
        *(f"wall ms @{a} (#runs)" for a in OVERHEAD_AT),
        *(f"CPU ms @{a} (#runs)" for a in OVERHEAD_AT),
        f"wall ms mean, trials 1-{max_at}",
        "sampler share of wall",
        "load avg (1 min, median)",
    ]
    return _table(header, rows), numbers


def overhead_problem_table(runs: Sequence[Run], samplers: Sequence[str], problems: Sequence[str]) -> str:
    """Per problem: median over runs of the mean wall overhead over the last 5 trials of the budget."""
    grouped = _group(runs)
    rows = []
    for p in problems:
        row, any_cell = [p], False
        for s in samplers:
            vals = [
                v for v in (overhead_at(r, len(r["values"]), "wall") for r in grouped.get((p, s), [])) if v
            ]
            row.append(f"{statistics.median(vals):.1f}" if vals else "–")
            any_cell |= bool(vals)
        if any_cell:
            rows.append(row)
    return _table(["problem (wall ms, last 5 trials)", *samplers], rows)


# --------------------------------------------------------------------------------------------------------- report
def _targets(regret_nums: dict, oh_nums: dict, label: str) -> list[str]:
    out = []
    if "hpo-gp" in regret_nums and {"gp", "tpe"} & set(regret_nums):
        peers = {s: regret_nums[s]["nr"][-1] for s in ("gp", "tpe") if s in regret_nums}
        best_peer = min(peers, key=peers.__getitem__)
        ours = regret_nums["hpo-gp"]["nr"][-1]
        verdict = "met" if ours <= peers[best_peer] else "NOT met"
        out.append(
            f"- target regret ({label}): hpo-gp {ours:.3f} vs better of gp/tpe ({best_peer}) "
            f"{peers[best_peer]:.3f} -> {verdict}"
        )
    if oh_nums and "hpo-gp" in oh_nums and "gp" in oh_nums:
        for at in OVERHEAD_AT:
            a, b = oh_nums["hpo-gp"].get(f"cpu@{at}"), oh_nums["gp"].get(f"cpu@{at}")
            if a is not None and b is not None:
                out.append(
                    f"- target overhead @{at} (CPU ms/suggestion): hpo-gp {a:.1f} vs gp {b:.1f} -> "
                    f"{'met' if a <= b else 'NOT met'}"
                )
    return out


def paired(runs: Sequence[Run]) -> list[Run]:
    """The runs of the (problem, seed) pairs that every sampler in ``runs`` has (e.g. after an interrupted run)."""
    samplers = {r["sampler"] for r in runs}
    have: dict[tuple[str, int], set[str]] = {}
    for r in runs:
        have.setdefault((r["problem"], r["seed"]), set()).add(r["sampler"])
    return [r for r in runs if have[(r["problem"], r["seed"])] == samplers]


def report(runs: Sequence[Run], meta: dict[str, Any] | None = None) -> str:
    """All tables, as markdown text."""
    order = [s for s in SAMPLERS if any(r["sampler"] == s for r in runs)]
    order += sorted({r["sampler"] for r in runs} - set(order))
    names = list(dict.fromkeys(r["problem"] for r in runs))
    public = [n for n in names if any(r["public"] for r in runs if r["problem"] == n)]
    held = [n for n in names if n not in public]
    out: list[str] = []
    for session in (meta or {}).get("sessions", []):
        out.append(f"<!-- {session} -->")
    errors = [r for r in runs if r.get("error")]
    for r in errors:
        out.append(f"WARNING: {r['sampler']} on {r['problem']} seed {r['seed']} stopped: {r['error']}")
    for s in order:
        failed = [(r["problem"], r["seed"]) for r in runs if r["sampler"] == s and None in r["values"]]
        if failed:
            out.append(
                f"WARNING: {s} has failed trials (counted as no value) in {len(failed)} runs: {failed}"
            )
    seeds = {s: sorted({r["seed"] for r in runs if r["sampler"] == s}) for s in order}
    out.append("seeds per sampler: " + "; ".join(f"{s} {','.join(map(str, v))}" for s, v in seeds.items()))
    out.append("")
    nums = {}
    for label, ps in (("public problems", public), ("held-out problems", held), ("all problems", names)):
        if not ps:
            continue
        text, nums[label] = regret_table(runs, order, ps)
        out += [f"### Mean normalized regret, {label} ({len(ps)})", "", text, ""]
    out += ["### Per problem: normalized regret at the final budget, mean±sd over seeds", ""]
    out += [problem_table(runs, order, names), ""]
    oh_text, oh_nums = overhead_table(runs, order)
    oh_problems = sorted({r["problem"] for r in runs if len(r["values"]) >= min(OVERHEAD_AT)})
    out += [
        "### Overhead per suggestion (trial time − objective time)",
        "",
        f"@N: mean over trials N-4..N of a run, median over the runs that reached N ({', '.join(oh_problems)}). "
        "Mean and share: all trials of the runs that reached trial 100. "
        "Load avg: the machine's 1-minute load at the start and end of those runs (above the core count, other "
        "processes competed for the cores and inflated both clocks).",
        "",
        oh_text,
        "",
        "### Overhead per problem: wall ms per suggestion over the last 5 trials, median over runs",
        "",
        overhead_problem_table(runs, order, names),
        "",
    ]
    targets = []
    for label in ("public problems", "all problems"):
        if label in nums:
            targets += _targets(nums[label], oh_nums if label == "all problems" else {}, label)
    if targets:
        out += ["### Targets (issue 2)", "", *targets, ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------------------ CLI
_HPO_PACKAGES = ("hpo", "surrogates", "acquisition", "integrations")


def _preload_hpo() -> str:
    """Imports the sampler's modules now (they would otherwise load lazily, mid-run, while the tree is being edited)
    and returns a short digest of the hpo files loaded, to tell which version of the sampler a result came from."""
    import importlib
    import pkgutil

    try:
        importlib.import_module("integrations.optuna")
        for pkg in ("surrogates", "acquisition"):
            for info in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
                try:
                    importlib.import_module(info.name)
                except Exception:  # a module under construction: the sampler does not use it either
                    pass
    except ImportError:
        return "unavailable"
    root = Path(__file__).resolve().parents[1]
    files = sorted(
        {
            Path(m.__file__)
            for name, m in list(sys.modules.items())
            if name.split(".")[0] in _HPO_PACKAGES and getattr(m, "__file__", None)
        }
    )
    h = hashlib.sha256()
    for f in files:
        h.update(
            f.resolve().relative_to(root).as_posix().encode() if f.resolve().is_relative_to(root) else b""
        )
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _header(argv: Sequence[str], digest: str) -> str:
    import optuna
    import sklearn
    import torch

    def version(mod: str) -> str:
        try:
            from importlib.metadata import version as v

            return v(mod)
        except Exception:
            return "absent"

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (
        f"run {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} | {platform.node()} "
        f"{platform.processor() or platform.machine()}, {cores} cores ({usable} usable) | torch threads "
        f"{torch.get_num_threads()} | python {platform.python_version()} | optuna {optuna.__version__} | "
        f"torch {torch.__version__} | scikit-learn {sklearn.__version__} | coco-experiment "
        f"{version('coco-experiment')} | greenlet {version('greenlet')} | hpo modules {digest} | "
        f"runs sequential, one process | command: python {shlex.join(argv)}"
    )


def _key(run: Run) -> tuple[str, str, int, int]:
    """A run's identity in merged result files: a later file's run of the same sampler, problem, seed and budget
    wins."""
    return (run["sampler"], run["problem"], run["seed"], run["budget"])


_TIMING_FIELDS = ("trial_wall_ms", "trial_cpu_ms", "obj_wall_ms", "obj_cpu_ms")


def compact(run: Run) -> Run:
    """The run for the committed ``benchmarks/stored/``: the per-trial times rounded to 0.001 ms (finer than the
    clocks resolve under load; the tables print the same); the values, which the regrets come from, exact."""
    return run | {
        k: [None if t is None else round(float(t), 3) for t in run[k]] for k in _TIMING_FIELDS if k in run
    }


def _parse_sampler_seeds(items: Sequence[str]) -> dict[str, list[int]]:
    out = {}
    for item in items:
        name, _, seeds = item.partition("=")
        out[name.strip()] = [int(x) for x in seeds.split(",") if x.strip()]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--samplers",
        default=None,
        help=f"comma list of {', '.join(SAMPLERS)} (default hpo-gp,gp,tpe,random); with --report-only: to report",
    )
    parser.add_argument("--seeds", default=None, help="default 0,1,2; with --report-only: to report")
    parser.add_argument(
        "--sampler-seeds",
        nargs="*",
        default=[],
        metavar="NAME=S,S",
        help="seeds for particular samplers instead of --seeds (e.g. slow peers: gp=0,1)",
    )
    parser.add_argument(
        "--problems",
        default=None,
        help="all (the default), public, heldout, bbob, ml, or names; with --report-only: to report",
    )
    parser.add_argument("--budget-scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/spine.json"))
    parser.add_argument(
        "--resume", action="store_true", help="keep the runs already in --out, do the missing ones"
    )
    parser.add_argument("--report-only", action="store_true", help="print the tables from --out and exit")
    parser.add_argument(
        "--paired",
        action="store_true",
        help="with --report-only: keep only the (problem, seed) pairs that every sampler completed",
    )
    parser.add_argument(
        "--merge",
        default="",
        metavar="FILES",
        help="with --report-only: comma-separated further result files; a run of the same (sampler, problem, seed,"
        " budget) in a later file replaces the earlier one",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="PATH",
        help="with --report-only: also write the reported runs (after --samplers, --seeds and --problems, before"
        " --paired), one per line with the times rounded, to PATH (benchmarks/stored/ is"
        " committed; benchmarks/results/ is not)",
    )
    args = parser.parse_args(argv[1:])
    if (args.store is not None or args.merge) and not args.report_only:
        parser.error("--store and --merge need --report-only")

    if args.report_only:
        try:
            runs, meta = read_merged(args.out, args.merge, _key)
        except FileNotFoundError as exc:
            parser.error(str(exc))
        runs = keep_runs(keep_runs(runs, "sampler", args.samplers), "seed", args.seeds, int)
        if args.problems:
            try:
                names = {p.name for p in get_problems(args.problems)}
            except ValueError as exc:
                parser.error(str(exc))
            runs = [r for r in runs if r["problem"] in names]
        if args.store is not None:
            save_runs(args.store, meta, [compact(r) for r in runs], one_run_per_line=True)
        print(report(paired(runs) if args.paired else runs, meta))
        return 0

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    samplers = [s.strip() for s in (args.samplers or "hpo-gp,gp,tpe,random").split(",") if s.strip()]
    for s in samplers:
        if s not in SAMPLERS:
            parser.error(f"unknown sampler {s!r}; known: {', '.join(SAMPLERS)}")
    seeds = [int(x) for x in (args.seeds or "0,1,2").split(",") if x.strip()]
    per_sampler = _parse_sampler_seeds(args.sampler_seeds)
    try:
        problems = get_problems(args.problems or "all")
    except ValueError as exc:
        parser.error(str(exc))

    digest = _preload_hpo() if "hpo-gp" in samplers else "not loaded"
    header = _header(argv, digest)
    runs: list[Run] = []
    meta: dict[str, Any] = {"sessions": []}
    if args.resume and args.out.exists():
        data = json.loads(args.out.read_text())
        runs, meta = data["runs"], data.get("meta", meta)
    meta["sessions"].append(header)
    print(header, flush=True)
    done = {(r["sampler"], r["problem"], r["seed"], r["budget"]) for r in runs}

    # seed-major order: an interrupted run still has every sampler on the first seeds
    plan = [
        (s, p, seed)
        for seed in sorted(set(seeds).union(*per_sampler.values()))
        for p in problems
        for s in samplers
        if seed in per_sampler.get(s, seeds)
    ]
    plan = [x for x in plan if (x[0], x[1].name, x[2], scaled_budget(x[1], args.budget_scale)) not in done]
    t0 = time.perf_counter()
    for i, (s, p, seed) in enumerate(plan, 1):
        run = run_one(s, p, seed, scaled_budget(p, args.budget_scale))
        run["hpo_modules"] = digest
        runs.append(run)
        save_runs(args.out, meta, runs)
        oh = overheads(run, "wall")
        print(
            f"[{i}/{len(plan)} {time.perf_counter() - t0:7.0f}s] {s:7s} {p.name:22s} seed {seed}: "
            f"final nr {run_regrets(run, ml_optima(runs))[-1]:.3f} (provisional), {run['run_wall_s']:.1f}s, "
            f"overhead mean {statistics.mean(oh) if oh else math.nan:.1f} ms"
            + (f", ERROR {run['error']}" if run["error"] else ""),
            file=sys.stderr,
            flush=True,
        )
    print(f"total wall time of this session: {time.perf_counter() - t0:.0f} s", flush=True)
    meta["sessions"][-1] = header + f" | session wall time {time.perf_counter() - t0:.0f} s"
    save_runs(args.out, meta, runs)
    print()
    print(report(runs, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
