"""Parallel workers: q proposals per batch with the earlier ones pending, hpo's GP with and without the believed
pending values in EI's incumbent (``Proposer(pending_incumbent=...)``).

Example (the command behind the table in docs/benchmarks.md)::

    python benchmarks/bench_parallel.py --problems branin,hartmann6,ackley5 --seeds 0,1,2,3,4,5,6,7,8,9 --q 4 \\
        --budget 48 --jobs 2 --out benchmarks/results/parallel.json
    python benchmarks/bench_parallel.py --report benchmarks/stored/parallel_s14.json   # the committed runs' table

The runs are small (a regret per checkpoint and a spread), so ``--out`` files can be committed as they are under
``benchmarks/stored/``; ``--report`` prints the table of such a file without running anything.

Protocol: a synchronous batch loop over :class:`hpo.scheduler.Proposer` directly (what ``q`` workers sharing a
storage see when they ask at the same time): proposal ``j`` of a batch sees the batch's earlier ``j`` points as
pending trials, then the whole batch is evaluated and told. The first proposals are the Proposer's Sobol start.
Reported: simple regret ``best - optimum`` at 16/24/32/40/48 evaluations (botorch's test functions and their known
optima), and the median L∞ distance (unit cube) from a model-based proposal to the nearest pending point of its
batch: how much the batch spreads out.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_io import read_files  # noqa: E402

CHECKPOINTS = (16, 24, 32, 40, 48)
VARIANTS = {"believer+incumbent": True, "believer only": False}


def _function(name: str) -> tuple[Any, float]:
    from botorch.test_functions import Ackley, Branin, Hartmann

    table = {
        "branin": (lambda: Branin(), 0.397887),
        "hartmann6": (lambda: Hartmann(dim=6), -3.32237),
        "ackley5": (lambda: Ackley(dim=5, bounds=[(-5.0, 5.0)] * 5), 0.0),
    }
    if name not in table:
        raise ValueError(f"unknown problem {name!r}; known: {', '.join(table)}")
    make, opt = table[name]
    return make(), opt


def run_one(problem: str, seed: int, q: int, budget: int, pending_incumbent: bool) -> dict[str, Any]:
    """One batch-parallel run; returns its regret trajectory and batch spread."""
    import torch

    import hpo
    from hpo.history import Dataset
    from hpo.scheduler import Proposer
    from hpo.space import SearchSpace

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    fn, opt = _function(problem)
    lo, hi = (b.numpy().astype(float) for b in fn.bounds)
    d = len(lo)
    space = SearchSpace({f"x{i}": hpo.Float(float(lo[i]), float(hi[i])) for i in range(d)})
    proposer = Proposer(pending_incumbent=pending_incumbent)
    X, y, spread = np.zeros((0, d)), np.zeros(0), []
    while len(X) < budget:
        pending = np.zeros((0, d))
        for j in range(q):
            data = Dataset(X=X, Y=y[:, None], G=np.zeros((len(X), 0)), constraint_names=(), X_pending=pending)
            x = space.encode([proposer.propose(data, space, seed=seed, trial_number=len(X) + j)])[0]
            if len(pending) and len(X) >= proposer.startup_trials(d):
                spread.append(float(np.abs(pending - x).max(axis=1).min()))
            pending = np.vstack([pending, x])
        raw = np.array([[c[f"x{i}"] for i in range(d)] for c in space.decode(pending)])
        X = np.vstack([X, pending])
        y = np.append(y, fn(torch.as_tensor(raw)).numpy())
    return {
        "problem": problem,
        "seed": seed,
        "pending_incumbent": pending_incumbent,
        "regret": [float(np.min(y[:k]) - opt) for k in CHECKPOINTS if k <= len(y)],
        "spread": float(np.median(spread)) if spread else None,
    }


def report(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| problem | variant | "
        + " | ".join(f"regret @{k}" for k in CHECKPOINTS)
        + " | batch spread (median L∞) |",
        "|---|---|" + "---|" * len(CHECKPOINTS) + "---|",
    ]
    for problem in sorted({r["problem"] for r in runs}):
        for label, flag in VARIANTS.items():
            rs = [r for r in runs if r["problem"] == problem and r["pending_incumbent"] == flag]
            if not rs:
                continue
            k = min(len(r["regret"]) for r in rs)
            mean = np.mean([r["regret"][:k] for r in rs], axis=0)
            spread = np.median([r["spread"] for r in rs if r["spread"] is not None])
            cells = " | ".join(f"{v:.4f}" for v in mean)
            lines.append(f"| {problem} | {label} (n={len(rs)}) | {cells} | {spread:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", default="branin,hartmann6,ackley5")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--q", type=int, default=4, help="workers (proposals per batch)")
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time")
    ap.add_argument("--out", default=None, help="JSON file for the raw runs")
    ap.add_argument(
        "--report", default=None, metavar="FILE", help="print the table of an --out file instead of running"
    )
    a = ap.parse_args(argv)
    if a.report:
        try:
            (stored,) = read_files(Path(a.report))
        except FileNotFoundError as exc:
            ap.error(f"--report: {exc}")
        print(f"runs of: {' '.join(stored.get('argv', []))}; mean simple regret over seeds")
        print(report(stored["runs"]))
        return
    if a.q < 1 or a.budget < 1:
        ap.error(f"--q={a.q} and --budget={a.budget} must be >= 1")
    tasks = [
        (p, int(s), a.q, a.budget, flag)
        for p in a.problems.split(",")
        for s in a.seeds.split(",")
        for flag in VARIANTS.values()
    ]
    for p in {t[0] for t in tasks}:
        _function(p)  # unknown names fail before any run
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        runs = list(pool.map(run_one, *zip(*tasks, strict=True)))
    if a.out:
        Path(a.out).write_text(json.dumps({"argv": sys.argv, "runs": runs}, indent=1))
    print(f"q={a.q} workers, budget {a.budget}, seeds {a.seeds}; mean simple regret over seeds")
    print(report(runs))


if __name__ == "__main__":
    main()
