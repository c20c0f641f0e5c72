"""Single-fidelity CQR benchmark: regret beside the GP, TPE and random, and the sampler's cost at 100 / 1000 trials.

Regret (the protocol of ../shared/bench/README.md, through ``benchmarks/bench_samplers.py`` with an ``hpo-cqr``
entry added; every number in its tables comes from this command)::

    python benchmarks/bench_cqr.py regret --samplers hpo-cqr,hpo-gp,tpe,random --problems public \\
        --seeds 0,2,4,6 --out benchmarks/results/cqr_s12_even.json       # and 1,3,5,7: cqr_s12_odd.json
    python benchmarks/bench_cqr.py regret --report-only --out benchmarks/results/cqr_s12_even.json \\
        --merge benchmarks/results/cqr_s12_odd.json --store benchmarks/stored/cqr_s12.json

The README's table is printed, on any machine, from the committed file the last command writes::

    python benchmarks/bench_cqr.py regret --report-only --out benchmarks/stored/cqr_s12.json

``merge`` puts ``hpo-cqr`` runs beside peers' runs from another file (how the tables of sessions 1-7 were made)::

    python benchmarks/bench_cqr.py merge --out benchmarks/results/cqr.json \\
        --peers-file benchmarks/results/spine.json --peers hpo-gp,tpe,random

``hpo-cqr-constant`` is the ablation with the paper's quantile trees fitted on the values themselves
(``surrogate_options={"base": "constant"}``: no kernel-ridge initial estimate, see ``surrogates/cqr.py``);
``hpo-cqr-refine3`` turns on quantile Thompson sampling's refinement of the winner (``refine_rounds=3``, see
``acquisition/thompson.py``); ``hpo-cqr-quad-refine3`` adds the kernel ridge's quadratic trend term
(``surrogate_options={"base_quadratic": True}``, see ``surrogates/cqr.py``).

The peers (hpo's GP, Optuna's TPE and random) are not rerun here: ``merge`` takes their runs, on the same problems
and seeds, from the file ``benchmarks/bench_samplers.py`` writes for the spine benchmark.

Overhead per suggestion at large studies: a study pre-filled with ``n`` finished trials of BBOB f21 5-D at uniform
random points, then (at the first size only) one untimed suggestion that pays for the imports, then ``--repeats``
suggestions timed with the process CPU clock and the wall clock, each told before the next (the objective is not part
of the time)::

    python benchmarks/bench_cqr.py overhead --samplers hpo-cqr,tpe,random,hpo-gp --sizes 100,1000 --repeats 5

``hpo-gp`` at 1,000 trials is timed once (``--gp-max 1``): one exact-GP fit on 1,000 points is what "a GP cannot go
there" means, and a few of them make the point.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_samplers  # noqa: E402


def _hpo_cqr(seed: int) -> Any:
    from integrations.optuna import HPOSampler

    return HPOSampler(surrogate="cqr", seed=seed)


def _hpo_cqr_constant(seed: int) -> Any:
    """Ablation: the paper's quantile trees on the values themselves (no kernel ridge initial estimate)."""
    from integrations.optuna import HPOSampler

    return HPOSampler(surrogate="cqr", seed=seed, surrogate_options={"base": "constant"})


def _refined_cqr_sampler(seed: int, rounds: int = 3, **surrogate_options: Any) -> Any:
    """``HPOSampler(surrogate="cqr")`` whose quantile Thompson sampling refines its winner for ``rounds`` rounds
    (``refine_rounds`` is not a sampler option, so ``QuantileThompson``'s default is overridden while each proposal
    runs), with ``surrogate_options`` passed to the CQR surrogate."""
    from unittest import mock

    from acquisition.thompson import QuantileThompson
    from integrations.optuna import HPOSampler

    class _Refined(HPOSampler):
        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
            with mock.patch.dict(QuantileThompson.__init__.__kwdefaults__, {"refine_rounds": rounds}):
                return super().sample_relative(study, trial, search_space)

    return _Refined(surrogate="cqr", seed=seed, surrogate_options=surrogate_options or None)


def _hpo_cqr_refine3(seed: int) -> Any:
    """Ablation: quantile Thompson sampling with 3 rounds of the winner's refinement (off by default)."""
    return _refined_cqr_sampler(seed)


def _hpo_cqr_quad_refine3(seed: int) -> Any:
    """Ablation: the refinement together with the kernel ridge's quadratic trend term (``base_quadratic=True``)."""
    return _refined_cqr_sampler(seed, base_quadratic=True)


bench_samplers.SAMPLERS.setdefault("hpo-cqr", _hpo_cqr)
bench_samplers.SAMPLERS.setdefault("hpo-cqr-constant", _hpo_cqr_constant)
bench_samplers.SAMPLERS.setdefault("hpo-cqr-refine3", _hpo_cqr_refine3)
bench_samplers.SAMPLERS.setdefault("hpo-cqr-quad-refine3", _hpo_cqr_quad_refine3)


def _f21() -> tuple[Any, int]:
    from benchmarks.problems import PROBLEMS

    inst = PROBLEMS["bbob_f021_d05"].instance(0)
    return inst, 5


def overhead(samplers: Sequence[str], sizes: Sequence[int], repeats: int, gp_max: int) -> str:
    import numpy as np
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    inst, d = _f21()
    dists = {f"x{i}": FloatDistribution(-5.0, 5.0) for i in range(d)}
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        X = rng.uniform(-5, 5, size=(n, d))
        prefill = [
            create_trial(
                params={f"x{i}": float(x[i]) for i in range(d)},
                distributions=dists,
                value=inst.evaluate({f"x{i}": float(x[i]) for i in range(d)}),
            )
            for x in X
        ]
        for s in samplers:
            reps = min(repeats, gp_max) if s == "hpo-gp" and n > 200 else repeats
            study = optuna.create_study(sampler=bench_samplers.make_sampler(s, 0))
            study.add_trials(prefill)
            cpu, wall = [], []
            warm = int(
                n == sizes[0]
            )  # at the first size one untimed suggestion pays for imports (sklearn, torch)
            for rep in range(reps + warm):
                c0, w0 = time.process_time(), time.perf_counter()
                t = study.ask()
                params = {k: t.suggest_float(k, -5.0, 5.0) for k in dists}
                if rep >= warm:
                    cpu.append(1e3 * (time.process_time() - c0))
                    wall.append(1e3 * (time.perf_counter() - w0))
                study.tell(t, inst.evaluate(params))
            rows.append(
                [
                    s,
                    str(n),
                    f"{statistics.median(cpu):.0f}",
                    f"{statistics.median(wall):.0f}",
                    f"{max(cpu):.0f}",
                    str(reps),
                ]
            )
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    header = [
        "sampler",
        "trials in study",
        "CPU ms/sugg (median)",
        "wall ms/sugg (median)",
        "CPU ms max",
        "#timed",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return (
        f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end; CPU time is the process clock "
        "(all threads), wall time includes waiting for the shared cores\n\n" + "\n".join(lines)
    )


def merged_report(cqr_path: Path, peers_path: Path, peers: Sequence[str]) -> str:
    """The regret tables of the ``hpo-cqr`` runs in ``cqr_path`` beside the ``peers`` runs of ``peers_path`` (e.g.
    ``benchmarks/results/spine.json``), restricted to the problems and seeds both files have."""
    import json

    ours = json.loads(cqr_path.read_text())
    theirs = json.loads(peers_path.read_text())
    keys = {(r["problem"], r["seed"]) for r in ours["runs"]}
    runs = [r for r in theirs["runs"] if r["sampler"] in peers and (r["problem"], r["seed"]) in keys]
    have = {(r["problem"], r["seed"]) for r in runs}
    runs += [r for r in ours["runs"] if (r["problem"], r["seed"]) in have]
    meta = {
        "sessions": [*theirs.get("meta", {}).get("sessions", []), *ours.get("meta", {}).get("sessions", [])]
    }
    return bench_samplers.report(runs, meta)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and argv[1] == "regret":
        return bench_samplers.main([argv[0], *argv[2:]])
    if len(argv) > 1 and argv[1] == "merge":
        p = argparse.ArgumentParser(
            description="regret tables of hpo-cqr beside peers run by bench_samplers.py"
        )
        p.add_argument("mode")
        p.add_argument("--out", type=Path, default=Path("benchmarks/results/cqr.json"))
        p.add_argument("--peers-file", type=Path, default=Path("benchmarks/results/spine.json"))
        p.add_argument("--peers", default="hpo-gp,tpe,random")
        a = p.parse_args(argv[1:])
        print(merged_report(a.out, a.peers_file, [s for s in a.peers.split(",") if s]))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", choices=["overhead"], help="'regret' (forwarded to bench_samplers) or 'overhead'"
    )
    parser.add_argument("--samplers", default="hpo-cqr,tpe,random,hpo-gp")
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gp-max", type=int, default=1, help="timed GP suggestions at sizes above 200")
    args = parser.parse_args(argv[1:])
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    print(overhead(samplers, sizes, args.repeats, args.gp_max))
    return 0


if __name__ == "__main__":
    sys.exit(main())
