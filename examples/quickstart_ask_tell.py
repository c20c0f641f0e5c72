"""Quickstart: hpo's ask/tell API on a toy function (no storage file: an in-memory study).

Run with ``python examples/quickstart_ask_tell.py``. Ask/tell suits loops that hpo does not drive itself: a training
script that reports when it is done, a queue of cluster jobs, a notebook. Each ``ask`` creates a trial in the
storage and proposes its configuration; each ``tell`` stores the result the next proposal learns from.
"""

from __future__ import annotations

import math

import optuna

import hpo


def branin(x: float, y: float) -> float:
    """The Branin function: three global minima of value 0.397887 in ``[-5, 10] x [0, 15]``."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = hpo.create_study(
        space={"x": hpo.Float(-5.0, 10.0), "y": hpo.Float(0.0, 15.0)},
        direction="minimize",
        storage=optuna.storages.InMemoryStorage(),  # a URL such as "sqlite:///hpo.db" keeps it on disk
        seed=0,
    )
    for _ in range(25):
        trial = study.ask()
        value = branin(**trial.params)
        study.tell(trial, value)
        print(
            f"trial {trial.number:2d}: x={trial.params['x']:7.3f} y={trial.params['y']:7.3f} -> {value:8.4f}"
        )
    print(f"best: {study.best_value:.4f} at {study.best_params} (optimum 0.397887)")


if __name__ == "__main__":
    main()
