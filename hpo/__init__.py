"""hpo: Bayesian and black-box hyperparameter optimization on Optuna storages.

Public API (design.md §3)::

    import hpo
    study = hpo.create_study(space={"lr": hpo.Float(1e-5, 1e-1, log=True)}, storage="sqlite:///hpo.db")
    study.optimize(objective, n_trials=50)

``import hpo`` stays light: the search-space types are plain dataclasses and everything else (Optuna, torch) is
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Float",
    "Int",
    "Categorical",
    "SearchSpace",
    "Fidelity",
    "Study",
    "Trial",
    "create_study",
    "load_study",
]

_LAZY = {
    "Float": "hpo.space",
    "Int": "hpo.space",
    "Categorical": "hpo.space",
    "SearchSpace": "hpo.space",
    "Fidelity": "hpo.fidelity",
    "Study": "hpo.study",
    "Trial": "hpo.study",
    "create_study": "hpo.study",
    "load_study": "hpo.study",
}

if TYPE_CHECKING:
    from hpo.fidelity import Fidelity
    from hpo.space import Categorical, Float, Int, SearchSpace
    from hpo.study import Study, Trial, create_study, load_study


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'hpo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
