"""GO-UCB (``surrogate="goucb"``) on a 20-dimensional problem, through the ask/tell API.

Run with ``python examples/goucb_highdim.py`` (about 20 s on two cores; ``--quick`` runs 25 trials).

The neural surrogate with GO-UCB exploration is meant for many dimensions and many trials: its cost per suggestion
grows like a small network's training, not like a GP's cubic linear algebra (docs/goucb.md has the measurements,
including where it is and is not better than the GP). Here it minimizes the 20-D Rosenbrock function on
``[-2, 2]^20`` (minimum 0 at ``x = (1, ..., 1)``) and prints the best value every 10 trials and the CPU time of a
suggestion. The first trials are a scrambled Sobol design (GO-UCB's Phase I); then each suggestion retrains the
network ensemble and maximizes the optimistic index inside a trust region around the best trial.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import optuna

import hpo

DIM = 20


def rosenbrock(x: np.ndarray) -> float:
    """``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=150, help="number of trials (default 150)")
    parser.add_argument("--quick", action="store_true", help="25 trials, for a smoke test")
    args = parser.parse_args(argv)
    n_trials = 25 if args.quick else args.trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = hpo.create_study(
        space={f"x{i}": hpo.Float(-2.0, 2.0) for i in range(DIM)},
        direction="minimize",
        surrogate="goucb",
        storage=optuna.storages.InMemoryStorage(),  # a URL such as "sqlite:///hpo.db" keeps it on disk
        seed=0,
    )
    cpu = []
    for _ in range(n_trials):
        start = time.process_time()
        trial = study.ask()  # the suggestion: fit the ensemble, maximize the GO-UCB index
        cpu.append(time.process_time() - start)
        study.tell(trial, rosenbrock(np.array([trial.params[f"x{i}"] for i in range(DIM)])))
        if (trial.number + 1) % 10 == 0:
            print(f"after {trial.number + 1:3d} trials: best {study.best_value:10.2f}")
    late = cpu[-10:]
    print(
        f"best: {study.best_value:.2f} (minimum 0); CPU per suggestion over the last {len(late)}: "
        f"{1000 * float(np.mean(late)):.0f} ms"
    )


if __name__ == "__main__":
    main()
