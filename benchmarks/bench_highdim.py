"""High-dimensional benchmark for GO-UCB (issue 6): hpo's GO-UCB and GP against Optuna's GPSampler, TPE and CMA-ES.

Problems (all 200 trials at ``--budget-scale 1``; regret read at trials 50/100/200):

* BBOB (coco-experiment) in 20 and 40 dimensions on ``[-5, 5]^d``, instance 1 + seed % 3;
* ``ml_sgd_breast_cancer``: a 13-hyperparameter scikit-learn pipeline (standardize -> Nystroem RBF features ->
  SGDClassifier) on ``load_breast_cancer``, 3-fold stratified CV error on fixed splits; reference = scikit-learn's
  defaults.

The runs themselves go through ``benchmarks/bench_samplers.py`` (same protocol, timing and JSON format): this script
registers the problems above and the ``hpo-goucb`` sampler there, then prints the issue's tables. Because the GP
samplers are slow at 200 trials in 40-D, the runs may be split over several processes, one sampler each, and merged::

    python benchmarks/bench_highdim.py run --samplers hpo-goucb --seeds 0,1 --out benchmarks/results/highdim-goucb.json
    python benchmarks/bench_highdim.py run --samplers gp --seeds 0,1 --out benchmarks/results/highdim-gp.json
    ...
    python benchmarks/bench_highdim.py report benchmarks/results/highdim-*.json

Overhead per suggestion is CPU milliseconds (``time.process_time``) of trial time minus objective time, mean over the
5 trials ending at 50/100/200, median over runs; CPU time rather than wall time because the machine may be shared.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_samplers as bs  # noqa: E402
from benchmarks.problems import PROBLEMS, Instance, _bbob, _ml  # noqa: E402
from benchmarks.results_io import merge_runs, read_files  # noqa: E402

BUDGET = 200
CHECKPOINTS = (50, 100, 200)
BBOB_HIGHDIM = ((8, 20, "Rosenbrock"), (15, 20, "Rastrigin"), (8, 40, "Rosenbrock"), (15, 40, "Rastrigin"))


# ------------------------------------------------------------------------------------------------------- problem
def _sgd_suggest(trial: Any) -> dict[str, Any]:
    return {
        "gamma": trial.suggest_float("gamma", 1e-4, 1.0, log=True),
        "n_components": trial.suggest_int("n_components", 10, 300, log=True),
        "loss": trial.suggest_categorical("loss", ["hinge", "log_loss", "modified_huber"]),
        "penalty": trial.suggest_categorical("penalty", ["l2", "l1", "elasticnet"]),
        "alpha": trial.suggest_float("alpha", 1e-7, 1e-1, log=True),
        "l1_ratio": trial.suggest_float("l1_ratio", 0.0, 1.0),
        "learning_rate": trial.suggest_categorical(
            "learning_rate", ["optimal", "invscaling", "adaptive", "constant"]
        ),
        "eta0": trial.suggest_float("eta0", 1e-4, 1.0, log=True),
        "power_t": trial.suggest_float("power_t", 0.05, 1.0),
        "max_iter": trial.suggest_int("max_iter", 5, 200, log=True),
        "tol": trial.suggest_float("tol", 1e-5, 1e-1, log=True),
        "average": trial.suggest_categorical("average", [False, True]),
        "class_weight": trial.suggest_categorical("class_weight", ["none", "balanced"]),
    }


def _sgd_build(p: dict[str, Any]) -> Any:
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kw = dict(p)
    nys = {k: kw.pop(k) for k in ("gamma", "n_components") if k in kw}
    if kw.get("class_weight") == "none":
        kw["class_weight"] = None
    # a ConvergenceWarning at a small max_iter is part of the problem, not news
    warnings.filterwarnings("ignore", module="sklearn")
    return make_pipeline(
        StandardScaler(), Nystroem(random_state=0, **nys), SGDClassifier(random_state=0, **kw)
    )


def register() -> list[str]:
    """Add the problems and the ``hpo-goucb`` sampler to the shared benchmark registries; returns problem names."""
    names = []
    for fid, dim, title in BBOB_HIGHDIM:
        p = _bbob(fid, dim, title, budget=BUDGET, public=False)
        PROBLEMS.setdefault(p.name, p)
        names.append(p.name)
    ml = _ml(
        "ml_sgd_breast_cancer",
        "breast_cancer",
        _sgd_suggest,
        _sgd_build,
        {},  # scikit-learn's defaults everywhere
        public=False,
        description="StandardScaler + Nystroem + SGDClassifier on load_breast_cancer, 13 params (6 categorical)",
        budget=BUDGET,
    )
    PROBLEMS.setdefault(ml.name, dataclasses.replace(ml, make=_one_blas_thread(ml.make)))
    names.append(ml.name)
    bs.SAMPLERS.setdefault("hpo-goucb", _hpo_goucb)
    return names


def _one_blas_thread(make: Callable[[int], Instance]) -> Callable[[int], Instance]:
    """Run the ML objective (and its reference) with one BLAS thread.

    Why: ``cv_error`` limits OpenMP only; Nystroem's BLAS calls with the default threads spin on a loaded 2-core
    machine and took 10-20x the CPU time of one thread (0.5-1 s instead of 40 ms per evaluation, measured).
    """
    from threadpoolctl import threadpool_limits

    def limited(evaluate: Callable[[Any], float]) -> Callable[[Any], float]:
        def run(params: Any) -> float:
            with threadpool_limits(limits=1, user_api="blas"):
                return evaluate(params)

        return run

    def make_limited(seed: int) -> Instance:
        with threadpool_limits(limits=1, user_api="blas"):
            inst = make(seed)
        return dataclasses.replace(inst, evaluate=limited(inst.evaluate))

    return make_limited


def _hpo_goucb(seed: int) -> Any:
    from integrations.optuna import HPOSampler

    return HPOSampler(surrogate="goucb", seed=seed)


# -------------------------------------------------------------------------------------------------------- report
def _dim_group(problem: str) -> str:
    if problem.startswith("bbob_"):
        return f"BBOB {int(problem.split('_d')[-1])}-D"
    return "ML (13 params)"


def _regrets(
    runs: Sequence[dict[str, Any]], optima: dict[str, float], sampler: str, problem: str, k: int
) -> list[float]:
    """Normalized regret after ``k`` trials of every run of ``sampler`` on ``problem`` that reached ``k``."""
    out = []
    for r in runs:
        if r["sampler"] == sampler and r["problem"] == problem and len(r["values"]) >= k:
            opt = r["optimum"] if r["optimum"] is not None else optima[problem]
            out.append(bs.normalized_regret(bs.best_within(r, k), opt, r["reference"]))
    return out


def _group_regret(runs, optima, sampler: str, group: str, k: int) -> float | None:
    """Mean over the group's problems of the mean over seeds, or None if some problem has no run reaching ``k``."""
    problems = {r["problem"] for r in runs if _dim_group(r["problem"]) == group}
    means = [_regrets(runs, optima, sampler, p, k) for p in sorted(problems)]
    return statistics.mean(statistics.mean(m) for m in means) if all(means) else None


def report(runs: Sequence[dict[str, Any]]) -> str:
    """Mean normalized regret at 50/100/200 trials per problem group, per problem, CPU overhead per suggestion,
    and the issue's targets."""
    order = [
        s
        for s in ("hpo-goucb", "hpo-gp", "gp", "tpe", "cmaes", "random")
        if any(r["sampler"] == s for r in runs)
    ]
    optima = bs.ml_optima(runs)
    groups = sorted({_dim_group(r["problem"]) for r in runs})
    out = []
    seeds = {s: sorted({r["seed"] for r in runs if r["sampler"] == s}) for s in order}
    out.append("seeds per sampler: " + "; ".join(f"{s} {','.join(map(str, v))}" for s, v in seeds.items()))
    for r in runs:
        if r.get("error"):
            out.append(f"WARNING: {r['sampler']} on {r['problem']} seed {r['seed']} stopped: {r['error']}")

    header = ["sampler", *(f"{g} nr @{k}" for g in groups for k in CHECKPOINTS)]
    rows = []
    for s in order:
        cells = [_group_regret(runs, optima, s, g, k) for g in groups for k in CHECKPOINTS]
        rows.append([s, *("–" if c is None else f"{c:.3f}" for c in cells)])
    out += ["", "### Mean normalized regret (mean over a group's problems of the mean over seeds)", ""]
    out.append(bs._table(header, rows))

    problems = list(dict.fromkeys(r["problem"] for r in runs))
    rows = []
    for p in problems:
        for k in CHECKPOINTS[1:]:
            row = [p, str(k)]
            for s in order:
                v = _regrets(runs, optima, s, p, k)
                sd = statistics.stdev(v) if len(v) > 1 else 0.0
                row.append(f"{statistics.mean(v):.3f}±{sd:.3f} (n={len(v)})" if v else "–")
            rows.append(row)
    out += ["", "### Per problem, mean±sd over seeds", "", bs._table(["problem", "trials", *order], rows)]

    rows, cpu = [], {}
    for s in order:
        row = [s]
        for clock in ("cpu", "wall"):
            for k in CHECKPOINTS:
                vals = [
                    v
                    for v in (bs.overhead_at(r, k, clock) for r in runs if r["sampler"] == s)
                    if v is not None
                ]
                cpu[(s, clock, k)] = statistics.median(vals) if vals else None
                row.append(f"{statistics.median(vals):.0f} ({len(vals)})" if vals else "–")
        rows.append(row)
    header = ["sampler", *(f"{c} ms @{k} (#runs)" for c in ("CPU", "wall") for k in CHECKPOINTS)]
    out += ["", "### Overhead per suggestion: mean over the 5 trials ending at N, median over runs", ""]
    out.append(bs._table(header, rows))

    targets = []
    gps = [s for s in ("hpo-gp", "gp") if s in order]
    if "hpo-goucb" in order and gps:
        for g in groups:
            for k in reversed(CHECKPOINTS):
                ours = _group_regret(runs, optima, "hpo-goucb", g, k)
                peers = {s: _group_regret(runs, optima, s, g, k) for s in gps}
                peers = {s: v for s, v in peers.items() if v is not None}
                if ours is not None and peers:
                    best = min(peers, key=peers.__getitem__)
                    verdict = "met" if ours < peers[best] else "NOT met"
                    targets.append(
                        f"- regret, {g} @{k}: hpo-goucb {ours:.3f} vs {best} {peers[best]:.3f} -> {verdict}"
                    )
                    break
        for k in reversed(CHECKPOINTS):
            ours = cpu.get(("hpo-goucb", "cpu", k))
            peers = {s: cpu.get((s, "cpu", k)) for s in gps}
            peers = {s: v for s, v in peers.items() if v is not None}
            if ours is not None and peers:
                best = min(peers, key=peers.__getitem__)
                verdict = "met" if ours < peers[best] else "NOT met"
                targets.append(
                    f"- overhead @{k} (CPU ms): hpo-goucb {ours:.0f} vs {best} {peers[best]:.0f} -> {verdict}"
                )
                break
    if targets:
        out += [
            "",
            "### Targets (issue 6): GO-UCB better than the GP-based samplers, cheaper per suggestion",
            "",
        ]
        out += targets
    return "\n".join(out)


def _load(paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Runs and session headers of several result files; a (sampler, problem, seed, budget) run found in more than
    one file counts once (the first).

    Raises:
        FileNotFoundError: a file does not exist (the message names it).
    """
    runs, meta = merge_runs(
        read_files(paths[0], paths[1:]),
        lambda r: (r["sampler"], r["problem"], r["seed"], r["budget"]),
        keep="first",
    )
    return runs, meta["sessions"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = register()
    if not argv or argv[0] not in ("run", "report"):
        print(__doc__)
        return 2
    if argv[0] == "report":
        if len(argv) < 2:
            print("report needs at least one result file", file=sys.stderr)
            return 2
        try:
            runs, sessions = _load([Path(a) for a in argv[1:]])
        except FileNotFoundError as err:
            print(err, file=sys.stderr)
            return 2
        print("\n".join(f"<!-- {s} -->" for s in sessions))
        print(report(runs))
        return 0
    rest = argv[1:]
    if "--problems" not in rest:
        rest += ["--problems", ",".join(names)]
    code = bs.main(["bench_samplers.py", *rest])
    out = Path(rest[rest.index("--out") + 1]) if "--out" in rest else Path("benchmarks/results/spine.json")
    print(report(_load([out])[0]))
    return code


if __name__ == "__main__":
    sys.exit(main())
