"""Benchmark problems for comparing samplers through Optuna's interface.

Each :class:`Problem` is a family of instances indexed by the run's seed. An instance (:class:`Instance`) splits the
Optuna-style objective in two, so a harness can time the objective without the sampler:

* ``suggest(trial) -> params``: asks the trial for every hyperparameter (sampler work happens here and in ``ask``);
* ``evaluate(params) -> float``: the objective proper (minimized);
* ``objective(trial) = evaluate(suggest(trial))``: what a user would pass to ``study.optimize``.

Normalization follows ``../shared/bench/README.md``: normalized regret = clip((best - opt) / (ref - opt), 0, 1), with
``optimum`` the known minimum (BBOB instance optimum) or ``None`` when it is the best value any run found (ML), and
``reference`` the median of 1,000 uniform random points (BBOB) or the value at scikit-learn's default
hyperparameters (ML).

``public=True`` marks the problems listed in the shared protocol; the others are held out so the methods are not tuned
to the public list. Add new families (constrained, multi-fidelity, high-dimensional) by appending to ``PROBLEMS``.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Instance", "Problem", "PROBLEMS", "get_problems", "bbob_instance_id"]

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Instance:
    """One seeded instance of a problem.

    Args:
        suggest: asks an Optuna trial for the parameters, returns them as a dict.
        evaluate: the objective value (minimized) of a parameter dict.
        optimum: the known minimum, or None (then the best value any run found is used).
        reference: zero-regret-scale anchor: the value that counts as "no better than random/default".
        label: a short name of the instance, e.g. ``bbob_f021_i02_d05``.
    """

    suggest: Callable[[Any], dict[str, Any]]
    evaluate: Callable[[Params], float]
    optimum: float | None
    reference: float
    label: str

    def objective(self, trial: Any) -> float:
        """Optuna-style objective: suggests its own parameters, returns the value to minimize."""
        return self.evaluate(self.suggest(trial))


@dataclass(frozen=True)
class Problem:
    """A benchmark problem.

    Args:
        name: unique name used on the command line and in tables.
        family: "bbob" or "ml" (later: "constrained", "multi-fidelity", ...).
        budget: number of trials per run at ``--budget-scale 1``.
        public: listed in the shared protocol (False: held-out problem).
        make: builds the instance for a run seed.
        description: one line for the docs.
    """

    name: str
    family: str
    budget: int
    public: bool
    make: Callable[[int], Instance] = field(repr=False)
    description: str = ""

    def instance(self, seed: int) -> Instance:
        return self.make(seed)


# ----------------------------------------------------------------------------------------------------------- BBOB
BBOB_BOUNDS = (-5.0, 5.0)
BBOB_REFERENCE_POINTS = 1000


def bbob_instance_id(seed: int) -> int:
    """The protocol's instance for a run seed: 1 + seed % 3."""
    return 1 + int(seed) % 3


@functools.cache
def _bbob_function(fid: int, dim: int, instance: int) -> Any:
    import cocoex

    return cocoex.BareProblem("bbob", fid, dim, instance)


@functools.cache
def _bbob_reference(fid: int, dim: int, instance: int) -> float:
    """Median of the function over ``BBOB_REFERENCE_POINTS`` uniform points (fixed generator per instance)."""
    f = _bbob_function(fid, dim, instance)
    rng = np.random.default_rng(zlib.crc32(f"bbob-ref-{fid}-{dim}-{instance}".encode()))
    X = rng.uniform(*BBOB_BOUNDS, size=(BBOB_REFERENCE_POINTS, dim))
    return float(np.median([f(x) for x in X]))


def _bbob_make(fid: int, dim: int) -> Callable[[int], Instance]:
    names = [f"x{i}" for i in range(dim)]

    def make(seed: int) -> Instance:
        inst = bbob_instance_id(seed)
        f = _bbob_function(fid, dim, inst)

        def suggest(trial: Any) -> dict[str, Any]:
            return {n: trial.suggest_float(n, *BBOB_BOUNDS) for n in names}

        def evaluate(params: Params) -> float:
            return float(f(np.array([params[n] for n in names], dtype=float)))

        return Instance(
            suggest=suggest,
            evaluate=evaluate,
            optimum=float(f.best_value()),
            reference=_bbob_reference(fid, dim, inst),
            label=f"bbob_f{fid:03d}_i{inst:02d}_d{dim:02d}",
        )

    return make


def _bbob(fid: int, dim: int, title: str, budget: int, public: bool) -> Problem:
    return Problem(
        name=f"bbob_f{fid:03d}_d{dim:02d}",
        family="bbob",
        budget=budget,
        public=public,
        make=_bbob_make(fid, dim),
        description=f"BBOB f{fid} {title} {dim}-D on [-5, 5]^{dim}, instance 1 + seed % 3 (coco-experiment)",
    )


# ------------------------------------------------------------------------------------------------------------- ML
CV_FOLDS = 3
CV_SEED = 0


@functools.cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray, tuple[tuple[np.ndarray, np.ndarray], ...]]:
    """Features, labels and the fixed 3-fold stratified splits of a scikit-learn shipped dataset."""
    from sklearn import datasets
    from sklearn.model_selection import StratifiedKFold

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    cv = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=CV_SEED)
    return X, y, tuple(cv.split(X, y))


def cv_error(estimator: Any, dataset: str) -> float:
    """Mean 3-fold stratified CV misclassification rate on fixed splits, one job, one thread."""
    from sklearn.model_selection import cross_val_score
    from threadpoolctl import threadpool_limits

    X, y, splits = _dataset(dataset)
    # One job and one OpenMP thread (HistGradientBoosting); the previous limits, torch's included, come back on exit.
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_score(estimator, X, y, cv=list(splits), n_jobs=1)
    return float(1.0 - np.mean(scores))


def _ml_make(
    dataset: str,
    suggest: Callable[[Any], dict[str, Any]],
    build: Callable[[Params], Any],
    defaults: Params,
    label: str,
) -> Callable[[int], Instance]:
    """ML instances do not depend on the seed: data and splits are fixed, estimators get ``random_state=0``."""

    def evaluate(params: Params) -> float:
        return cv_error(build(params), dataset)

    reference = functools.lru_cache(maxsize=1)(lambda: evaluate(defaults))

    def make(seed: int) -> Instance:
        return Instance(suggest=suggest, evaluate=evaluate, optimum=None, reference=reference(), label=label)

    return make


def _hgb_suggest(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
        "max_iter": trial.suggest_int("max_iter", 10, 100),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 32, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 64, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        "class_weight": trial.suggest_categorical("class_weight", ["none", "balanced"]),
    }


def _hgb_build(p: Params) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    kw = dict(p)
    kw["class_weight"] = None if kw.get("class_weight", "none") == "none" else kw["class_weight"]
    return HistGradientBoostingClassifier(random_state=0, **kw)


def _svc_suggest(trial: Any) -> dict[str, Any]:
    return {
        "C": trial.suggest_float("C", 1e-2, 1e4, log=True),
        "gamma": trial.suggest_float("gamma", 1e-6, 1.0, log=True),
    }


def _svc_build(p: Params) -> Any:
    from sklearn.svm import SVC

    return SVC(kernel="rbf", **p)


def _rf_suggest(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 10, 200, log=True),
        "max_depth": trial.suggest_int("max_depth", 1, 16, log=True),
        "max_features": trial.suggest_float("max_features", 0.05, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 32, log=True),
        "criterion": trial.suggest_categorical("criterion", ["gini", "entropy"]),
    }


def _rf_build(p: Params) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=0, n_jobs=1, **p)


def _ml(
    name: str,
    dataset: str,
    suggest: Callable[[Any], dict[str, Any]],
    build: Callable[[Params], Any],
    defaults: Params,
    public: bool,
    description: str,
    budget: int = 30,
) -> Problem:
    return Problem(
        name=name,
        family="ml",
        budget=budget,
        public=public,
        make=_ml_make(dataset, suggest, build, defaults, name),
        description=description,
    )


# --------------------------------------------------------------------------------------------------- the registry
PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        # public (../shared/bench/README.md)
        _bbob(1, 20, "Sphere", budget=40, public=True),
        _bbob(15, 2, "Rastrigin", budget=40, public=True),
        _bbob(21, 5, "Gallagher 101 peaks", budget=100, public=True),
        _ml(
            "ml_hgb_breast_cancer",
            "breast_cancer",
            _hgb_suggest,
            _hgb_build,
            {"class_weight": "none"},  # every other argument at scikit-learn's default
            public=True,
            description="HistGradientBoostingClassifier on load_breast_cancer, 6 params (5 numeric, 1 categorical)",
        ),
        _ml(
            "ml_svc_digits",
            "digits",
            _svc_suggest,
            _svc_build,
            {"C": 1.0, "gamma": "scale"},
            public=True,
            description="SVC(rbf) on load_digits, log C and log gamma",
        ),
        # held out: same families, not in the shared list
        _bbob(10, 10, "Ellipsoid", budget=40, public=False),
        _bbob(8, 5, "Rosenbrock", budget=100, public=False),
        _ml(
            "ml_rf_wine",
            "wine",
            _rf_suggest,
            _rf_build,
            {
                "n_estimators": 100,
                "max_depth": None,
                "max_features": "sqrt",
                "min_samples_leaf": 1,
                "criterion": "gini",
            },
            public=False,
            description="RandomForestClassifier on load_wine, 5 params (4 integer/float, 1 categorical)",
        ),
    ]
}


def get_problems(spec: str) -> list[Problem]:
    """Problems from a comma-separated list of names, or "all", "public", "heldout", or a family ("bbob", "ml").

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    out: list[Problem] = []
    for token in [t.strip() for t in spec.split(",") if t.strip()]:
        if token == "all":
            chosen = list(PROBLEMS.values())
        elif token == "public":
            chosen = [p for p in PROBLEMS.values() if p.public]
        elif token == "heldout":
            chosen = [p for p in PROBLEMS.values() if not p.public]
        elif token in {p.family for p in PROBLEMS.values()}:
            chosen = [p for p in PROBLEMS.values() if p.family == token]
        elif token in PROBLEMS:
            chosen = [PROBLEMS[token]]
        else:
            raise ValueError(
                f"unknown problem {token!r}; known: all, public, heldout, bbob, ml, {', '.join(PROBLEMS)}"
            )
        out.extend(p for p in chosen if p not in out)
    return out
