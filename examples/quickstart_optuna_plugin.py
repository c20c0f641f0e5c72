"""Quickstart: hpo's surrogate as an Optuna sampler, in an ordinary Optuna study.

Run with ``python examples/quickstart_optuna_plugin.py``. Everything else stays Optuna: the define-by-run objective,
``study.optimize``, pruners, storages, visualization. Constraints use Optuna's own ``trial.set_constraint``.
"""

from __future__ import annotations

import optuna

from integrations.optuna import HPOSampler


def objective(trial: optuna.Trial) -> float:
    """A shifted sphere with one categorical offset; feasible only when ``x + y <= 1``."""
    x = trial.suggest_float("x", -3.0, 3.0)
    y = trial.suggest_float("y", -3.0, 3.0)
    offset = trial.suggest_categorical("offset", [0.0, 0.5])
    trial.set_constraint("x_plus_y", x + y - 1.0)  # feasible iff <= 0
    return (x - 1.0) ** 2 + (y - 1.0) ** 2 + offset


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=HPOSampler(surrogate="gp", seed=0), direction="minimize")
    study.optimize(objective, n_trials=25)
    best = study.best_trial
    print(f"best: {best.value:.4f} at {best.params} (optimum 0.5 at x = y = 0.5, offset 0.0)")


if __name__ == "__main__":
    main()
