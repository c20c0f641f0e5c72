"""Constrained optimization with CONFIG through the ask/tell API: the pressure-vessel design problem.

Run with ``python examples/constrained_ask_tell.py`` (about 20 s on two cores; ``--quick`` runs 15 trials).

A cylindrical vessel with hemispherical heads: choose the shell and head thicknesses ``ts``, ``th``, the inner radius
``r`` and the length ``L`` so that the cost of material, forming and welding is smallest, while the walls are thick
enough for the pressure (two constraints), the volume holds at least 1,296,000 cubic inches and the vessel is at most
240 inches long. Every constraint is reported as a number that is ``<= 0`` when it holds; hpo models each one with its
own GP and proposes with CONFIG (optimistic constrained BO) plus feasible-side steps (docs/constrained.md).

Constraint values are stored on the trials as Optuna stores them, so ``optuna.load_study`` and Optuna's
visualization see which trials were feasible; ``study.best_trial`` is the best *feasible* trial.
"""

from __future__ import annotations

import argparse
import math

import optuna

import hpo


def pressure_vessel(ts: float, th: float, r: float, length: float) -> tuple[float, dict[str, float]]:
    """Cost and constraint values (feasible iff every value ``<= 0``) of one design."""
    cost = 0.6224 * ts * r * length + 1.7781 * th * r**2 + 3.1661 * ts**2 * length + 19.84 * ts**2 * r
    constraints = {
        "shell_thickness": 0.0193 * r - ts,  # the shell must be at least 0.0193 r thick
        "head_thickness": 0.00954 * r - th,  # the heads at least 0.00954 r
        # volume of the cylinder plus the two heads at least 1,296,000 in^3 (scaled to thousands of in^3)
        "volume": (1_296_000.0 - math.pi * r**2 * length - 4.0 / 3.0 * math.pi * r**3) / 1000.0,
        "length": length - 240.0,
    }
    return cost, constraints


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="number of trials (default 30)")
    parser.add_argument("--quick", action="store_true", help="15 trials, for a smoke test")
    args = parser.parse_args(argv)
    n_trials = 15 if args.quick else args.trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = hpo.create_study(
        space={
            "ts": hpo.Float(0.0, 10.0),
            "th": hpo.Float(0.0, 10.0),
            "r": hpo.Float(10.0, 200.0),
            "length": hpo.Float(10.0, 200.0),
        },
        direction="minimize",
        constraints=["shell_thickness", "head_thickness", "volume", "length"],
        storage=optuna.storages.InMemoryStorage(),  # a URL such as "sqlite:///hpo.db" keeps it on disk
        seed=0,
    )
    for _ in range(n_trials):
        trial = study.ask()
        cost, constraints = pressure_vessel(**trial.params)
        study.tell(trial, cost, constraints=constraints)
        worst = max(constraints.values())
        status = "feasible" if worst <= 0 else f"violates by {worst:.3g}"
        print(f"trial {trial.number:2d}: cost {cost:12.1f}  {status}")

    feasible = [t for t in study.trials if t.constraints and all(v <= 0 for v in t.constraints.values())]
    print(
        f"{len(feasible)} of {len(study.trials)} trials feasible; declared infeasible: {study.declared_infeasible}"
    )
    best = study.best_trial
    params = ", ".join(f"{k}={v:.4g}" for k, v in best.params.items())
    print(f"best feasible cost: {best.value:.1f} at {params}")
    print(
        "(the classic design with thicknesses in multiples of 1/16 in costs 6059.7; continuous thicknesses go lower)"
    )


if __name__ == "__main__":
    main()
