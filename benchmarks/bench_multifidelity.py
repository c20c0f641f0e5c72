"""Multi-fidelity comparison: best value reached against total resource spent.

Example (the command behind the tables in docs/cqr_multifidelity.md)::

    python benchmarks/bench_multifidelity.py --methods asha-cqr,asha-gp,asha-random,tpe-hyperband \\
        --problems mf_mlp_digits,mf_aug_hartmann --seeds 0,1,2 --budget-full 20 --out benchmarks/results/mf.json

    python benchmarks/bench_multifidelity.py --report-only --out benchmarks/results/mf.json

    # several files in one table (a later file's run of the same method, problem and seed replaces the earlier one)
    python benchmarks/bench_multifidelity.py --report-only --out benchmarks/results/mf.json \
        --merge benchmarks/results/mf_synetune.json

Protocol (../shared/bench/README.md, family d), one worker, runs one after the other:

* a problem trains step by step (one MLP ``partial_fit`` epoch, or one fidelity level of Augmented Hartmann, per
  step); one step costs one unit of resource. A run starts new trials until ``budget_full * max_steps`` units are
  spent (the trial that crosses the budget finishes; only what finished within a checkpoint counts there);
* the best value at a checkpoint (25/50/100 % of the budget) is the best value of a trial that *completed at full
  fidelity* with the cumulative resource at its completion within the checkpoint;
* normalized regret = clip((best - opt) / (ref - opt), 0, 1): opt = the known optimum (Augmented Hartmann) or the
  best value any run found (MLP); ref = the median of 5,000 uniform configurations at full fidelity (Augmented
  Hartmann) or scikit-learn's default hyperparameters trained for the full 27 epochs (MLP).

Problems: ``mf_mlp_digits`` and ``mf_aug_hartmann`` are the protocol's (the default ``--problems``); two more, not
in ../shared/bench, check that a method's gain is not specific to those two: ``mf_hgb_breast_cancer``
(HistGradientBoostingClassifier on ``load_breast_cancer``, 10 boosting rounds per step up to 270, validation log-loss
on a 30 % holdout; learning rate, leaves, leaf size, L2, feature share) and ``mf_mlp_diabetes`` (MLPRegressor on
``load_diabetes``, one epoch per step, validation 1 - R^2; the digits MLP's space). Both are normalized like the
digits MLP (opt = the best value any run found, ref = scikit-learn's defaults fully trained) and give Optuna the
HyperbandPruner(1, 27, 3).

Two held-out problems, added in session 11 after every setting of the methods had been chosen, and not used to
choose one since (a check of what the acceptance does: problems nobody tuned on): ``mf_sgd_synthetic``
(``SGDClassifier`` with an elastic net, one ``partial_fit`` epoch per step, 27 steps, validation error on a synthetic
600 x 100 classification with 8 informative columns; alpha, eta0, power_t, l1_ratio, the loss and the step-size
schedule, two categorical; ref = scikit-learn's defaults fully trained; Optuna gets the HyperbandPruner(1, 27, 3))
and ``mf_svm_synthetic`` (RBF ``SVC`` on a synthetic 1,500 x 10 problem with four clusters per class; the resource
is the share of the training rows, k/9 at step k; C and gamma; ref = the median of 64 uniform configurations at
full fidelity, as scikit-learn's defaults are nearly optimal there; Optuna gets the SuccessiveHalvingPruner(1, 3)).

Result files: runs write their full event lists to ``--out`` (``benchmarks/results/``, git-ignored, megabytes).
``--report-only ... --store benchmarks/stored/NAME.json`` writes the reported runs compacted to what the report
reads (the completions that improved the best value, and the trial counts; :func:`compact`); ``benchmarks/stored/``
is committed, so the tables can be printed again on a new machine::

    python benchmarks/bench_multifidelity.py --report-only --out benchmarks/stored/mf_s11.json --common-seeds \\
        --problems mf_sgd_synthetic,mf_svm_synthetic

Methods:

* ``asha-cqr``, ``asha-gp``: ``hpo.create_study(surrogate=..., fidelity=hpo.Fidelity(1, max, eta=3))``: stopping-type
  ASHA with Hyperband brackets, surrogate fitted on the rung-aggregated history (papers.md §2);
* ``asha1-cqr``, ``asha1-gp``, ``asha1-random``: the same with ``brackets=1`` (plain ASHA, every trial judged from
  the first rung, the paper's ASHA-CQR setting; ``hpo.Fidelity``'s default since 2026-11-28);
  ``asha1-cqr`` uses CQR's mixed-fidelity settings (``hpo.scheduler.MIXED_FIDELITY_*``: the kernel ridge's quadratic
  trend term and 3 rounds of refining the Thompson winner) from the study's first stopped trial on, since session 10;
* ``asha1-cqr-<variant>``: plain ASHA + CQR with the *single-fidelity* settings (the session-9 default) plus exactly
  the named options (see ``_run_hpo_cqr_options``), so each keeps the meaning it was measured with:
  ``asha1-cqr-s9`` none (``asha1-cqr`` before session 10); ``asha1-cqr-g<share>`` quantile Thompson sampling's share
  of global steps (a sweep; the default is 0.7); ``asha1-cqr-refine<k>`` ``k`` rounds of the refinement of the
  Thompson winner's drawn quantile (``QuantileThompson(refine_rounds=k)``, see ``acquisition/thompson.py``);
  ``asha1-cqr-quad`` the kernel ridge's quadratic trend term (``CQRSurrogate(base_quadratic=True)``);
  ``asha1-cqr-quad-refine<k>`` both, with ``k`` rounds (``asha1-cqr-quad-refine3``: the mixed-fidelity settings,
  the same runs as ``asha1-cqr`` now);
  ``asha1-cqr-notransform``, ``asha1-cqr-noscale``, ``asha1-cqr-s6`` session 7's changes switched off;
* ``asha1-gp-thompson``: ``asha1-gp`` choosing with quantile Thompson sampling (CQR's acquisition) instead of log
  expected improvement: which of the GP's model and its acquisition makes the difference (a diagnostic);
* ``asha-cqr-local``: ``asha-cqr`` without quantile Thompson sampling's global steps (an ablation, see
  ``acquisition/thompson.py``);
* ``asha-cqr-constant``: ``asha-cqr`` with the paper's quantile trees fitted on the values themselves instead of on
  the leave-one-out residuals of a kernel ridge (``CQRSurrogate(base="constant")``, an ablation, see
  ``surrogates/cqr.py``);
* ``asha-random``: the same scheduler with a proposer that never leaves its scrambled Sobol design;
* ``tpe-hyperband``: Optuna's ``TPESampler(multivariate=True, constant_liar=True)`` with the protocol's pruner
  (HyperbandPruner(1, 27, 3) for the MLP, SuccessiveHalvingPruner(1, 3) for Augmented Hartmann);
* ``hpo-cqr-pruner``: ``HPOSampler(surrogate="cqr")`` with the same Optuna pruner (the plugin path);
  ``hpo-cqr-pruner-s9`` the same with the single-fidelity settings (the plugin before session 10);
* ``synetune-asha-cqr``: Syne Tune 0.16.0's ``ASHACQR`` (stopping-type ASHA, one bracket, grace period 1, eta 3,
  its CQR searcher on each trial's last reported value), driven through its scheduler interface one trial at a
  time. Needs the ``peers`` extra (``pip install -e .[peers]``: syne-tune 0.16.0 and huggingface_hub).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import json
import math
import os
import platform
import re
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_io import keep_runs, read_merged, save_runs  # noqa: E402

__all__ = ["MF_PROBLEMS", "METHODS", "run_one", "report"]

CHECKPOINTS = (0.25, 0.5, 1.0)
Run = dict[str, Any]


# --------------------------------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class MFProblem:
    """A problem trained step by step.

    Args:
        name: the name on the command line.
        max_steps: full fidelity.
        space: ``{name: hpo parameter}``.
        steps: ``steps(params) -> iterator of values`` (minimized), one per step, ``max_steps`` of them.
        optimum: known minimum or None (best value any run found).
        reference: callable returning the reference value (computed once, cached).
        pruner: builds the Optuna pruner the protocol gives peers.
    """

    name: str
    max_steps: int
    space: Callable[[], dict[str, Any]]
    steps: Callable[[Mapping[str, Any]], Iterator[float]]
    optimum: float | None
    reference: Callable[[], float]
    pruner: Callable[[], Any]


@functools.cache
def _digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> [0, 1]
    return tuple(train_test_split(X, y, test_size=0.3, stratify=y, random_state=0))  # type: ignore[return-value]


def _mlp_space() -> dict[str, Any]:
    import hpo

    return {
        "hidden": hpo.Int(16, 256, log=True),
        "learning_rate_init": hpo.Float(1e-5, 0.3, log=True),
        "alpha": hpo.Float(1e-7, 1.0, log=True),
        "batch_size": hpo.Int(16, 512, log=True),
        "activation": hpo.Categorical(["relu", "tanh", "logistic"]),
    }


# scikit-learn's defaults for the MLP space's parameters: the reference configuration of both MLP problems
_MLP_DEFAULTS = {
    "hidden": 100,
    "learning_rate_init": 1e-3,
    "alpha": 1e-4,
    "batch_size": 200,
    "activation": "relu",
}


def _mlp_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor options of scikit-learn's MLPClassifier / MLPRegressor for a configuration of the MLP space."""
    return {
        "hidden_layer_sizes": (int(params["hidden"]),),
        "learning_rate_init": float(params["learning_rate_init"]),
        "alpha": float(params["alpha"]),
        "batch_size": int(params["batch_size"]),
        "activation": str(params["activation"]),
        "random_state": 0,
    }


def _mlp_steps(params: Mapping[str, Any], max_steps: int = 27) -> Iterator[float]:
    """Validation error after each ``partial_fit`` epoch (fixed split, ``random_state=0``)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    Xtr, Xva, ytr, yva = _digits_split()
    clf = MLPClassifier(**_mlp_options(params))
    classes = np.unique(ytr)
    for _ in range(max_steps):
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(Xtr, ytr, classes=classes)
            err = float(1.0 - clf.score(Xva, yva))
        yield err if math.isfinite(err) else 1.0


@functools.cache
def _mlp_reference() -> float:
    return list(_mlp_steps(_MLP_DEFAULTS))[-1]


@functools.cache
def _aug_hartmann():
    from botorch.test_functions.multi_fidelity import AugmentedHartmann

    return AugmentedHartmann()


def _hartmann_space() -> dict[str, Any]:
    import hpo

    return {f"x{i}": hpo.Float(0.0, 1.0) for i in range(6)}


def _hartmann_eval(X: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return _aug_hartmann()(torch.as_tensor(X, dtype=torch.float64)).numpy()


def _hartmann_steps(params: Mapping[str, Any], max_steps: int = 9) -> Iterator[float]:
    x = np.array([float(params[f"x{i}"]) for i in range(6)])
    X = np.column_stack([np.repeat(x[None, :], max_steps, axis=0), np.arange(1, max_steps + 1) / max_steps])
    yield from (float(v) for v in _hartmann_eval(X))


@functools.cache
def _hartmann_reference() -> float:
    rng = np.random.default_rng(12345)
    X = np.column_stack([rng.random((5000, 6)), np.ones(5000)])
    return float(np.median(_hartmann_eval(X)))


def _hyperband_pruner() -> Any:
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)


def _sh_pruner() -> Any:
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)


# Two further problems, not in ../shared/bench: the acceptance runs problems outside the public list, so the methods
# are checked on a different model class (boosted trees, resource = boosting rounds, a smooth loss) and on a small
# noisy regression (resource = epochs) before a change is kept.
@functools.cache
def _breast_cancer_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    return tuple(train_test_split(X, y, test_size=0.3, stratify=y, random_state=0))  # type: ignore[return-value]


def _hgb_space() -> dict[str, Any]:
    import hpo

    return {
        "learning_rate": hpo.Float(1e-3, 1.0, log=True),
        "max_leaf_nodes": hpo.Int(4, 64, log=True),
        "min_samples_leaf": hpo.Int(2, 64, log=True),
        "l2_regularization": hpo.Float(1e-6, 10.0, log=True),
        "max_features": hpo.Float(0.2, 1.0),
    }


def _hgb_steps(params: Mapping[str, Any], max_steps: int = 27, rounds_per_step: int = 10) -> Iterator[float]:
    """Validation log-loss after every ``rounds_per_step`` boosting rounds (warm start; fixed split and seed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss
    from threadpoolctl import threadpool_limits

    Xtr, Xva, ytr, yva = _breast_cancer_split()
    clf = HistGradientBoostingClassifier(
        learning_rate=float(params["learning_rate"]),
        max_leaf_nodes=int(params["max_leaf_nodes"]),
        min_samples_leaf=int(params["min_samples_leaf"]),
        l2_regularization=float(params["l2_regularization"]),
        max_features=float(params["max_features"]),
        early_stopping=False,
        warm_start=True,
        random_state=0,
    )
    for k in range(1, max_steps + 1):
        clf.set_params(max_iter=rounds_per_step * k)
        with threadpool_limits(limits=1):
            clf.fit(Xtr, ytr)
            loss = float(log_loss(yva, clf.predict_proba(Xva)))
        yield loss if math.isfinite(loss) else 10.0


@functools.cache
def _hgb_reference() -> float:
    default = {
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 0.0,
        "max_features": 1.0,
    }
    return list(_hgb_steps(default))[-1]


@functools.cache
def _diabetes_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    X, y = load_diabetes(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=0)
    mx, sx, my, sy = Xtr.mean(0), Xtr.std(0), ytr.mean(), ytr.std()
    return (Xtr - mx) / sx, (Xva - mx) / sx, (ytr - my) / sy, (yva - my) / sy


def _mlp_diabetes_steps(params: Mapping[str, Any], max_steps: int = 27) -> Iterator[float]:
    """``1 - R^2`` on the validation rows after each ``partial_fit`` epoch of an MLP regressor (capped at 10)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    from threadpoolctl import threadpool_limits

    Xtr, Xva, ytr, yva = _diabetes_split()
    reg = MLPRegressor(**_mlp_options(params))
    for _ in range(max_steps):
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow of a diverging training
            # batch sizes above the 309 training rows are clipped to full batch (a flat region of the space)
            warnings.filterwarnings("ignore", message="Got `batch_size`", category=UserWarning)
            reg.partial_fit(Xtr, ytr)
            loss = float(1.0 - reg.score(Xva, yva))
        yield min(loss, 10.0) if math.isfinite(loss) else 10.0


@functools.cache
def _mlp_diabetes_reference() -> float:
    return list(_mlp_diabetes_steps(_MLP_DEFAULTS))[-1]


# Two held-out problems, added in session 11 *after* the methods' settings were chosen and not used to choose any
# since: a linear model trained epoch by epoch with two categorical choices (the loss and the step-size schedule), and
# a kernel machine whose resource is the number of training rows rather than epochs.
def _standardized_split(**options: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(random_state=0, **options)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    mx, sx = Xtr.mean(0), Xtr.std(0)
    return (Xtr - mx) / sx, (Xva - mx) / sx, ytr, yva


@functools.cache
def _sgd_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # few rows, many features, few informative: the regularization (alpha, l1_ratio) matters
    return _standardized_split(
        n_samples=600, n_features=100, n_informative=8, n_redundant=4, flip_y=0.02, class_sep=0.8
    )


@functools.cache
def _svm_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # a non-linear boundary (four clusters per class) in 10 dimensions
    return _standardized_split(
        n_samples=1500,
        n_features=10,
        n_informative=8,
        n_redundant=0,
        flip_y=0.03,
        class_sep=0.5,
        n_clusters_per_class=4,
    )


def _sgd_space() -> dict[str, Any]:
    import hpo

    return {
        "alpha": hpo.Float(1e-7, 1.0, log=True),
        "eta0": hpo.Float(1e-5, 1.0, log=True),
        "power_t": hpo.Float(0.1, 1.0),
        "l1_ratio": hpo.Float(0.0, 1.0),
        "loss": hpo.Categorical(["hinge", "log_loss", "modified_huber"]),
        "learning_rate": hpo.Categorical(["constant", "invscaling", "adaptive", "optimal"]),
    }


def _sgd_steps(params: Mapping[str, Any], max_steps: int = 27) -> Iterator[float]:
    """Validation error of an elastic-net ``SGDClassifier`` after each ``partial_fit`` epoch (fixed split and seed)."""
    from sklearn.linear_model import SGDClassifier

    Xtr, Xva, ytr, yva = _sgd_split()
    clf = SGDClassifier(
        loss=str(params["loss"]),
        penalty="elasticnet",
        alpha=float(params["alpha"]),
        l1_ratio=float(params["l1_ratio"]),
        learning_rate=str(params["learning_rate"]),
        eta0=float(params["eta0"]),
        power_t=float(params["power_t"]),
        random_state=0,
    )
    classes = np.unique(ytr)
    for _ in range(max_steps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow of a diverging step size
            clf.partial_fit(Xtr, ytr, classes=classes)
            err = float(1.0 - clf.score(Xva, yva))
        yield err if math.isfinite(err) else 1.0


@functools.cache
def _sgd_reference() -> float:
    # scikit-learn's defaults (penalty "l2" is the elastic net with l1_ratio 0)
    default = {
        "alpha": 1e-4,
        "eta0": 0.01,
        "power_t": 0.5,
        "l1_ratio": 0.0,
        "loss": "hinge",
        "learning_rate": "optimal",
    }
    return list(_sgd_steps(default))[-1]


def _svm_space() -> dict[str, Any]:
    import hpo

    return {"C": hpo.Float(1e-3, 1e3, log=True), "gamma": hpo.Float(1e-5, 10.0, log=True)}


def _svm_steps(params: Mapping[str, Any], max_steps: int = 9) -> Iterator[float]:
    """Validation error of an RBF ``SVC`` trained on the first ``k/max_steps`` of the training rows, k = 1..max_steps."""
    from sklearn.svm import SVC
    from threadpoolctl import threadpool_limits

    Xtr, Xva, ytr, yva = _svm_split()
    for k in range(1, max_steps + 1):
        n = len(Xtr) * k // max_steps
        clf = SVC(C=float(params["C"]), gamma=float(params["gamma"]))
        with threadpool_limits(limits=1):
            clf.fit(Xtr[:n], ytr[:n])
            yield float(1.0 - clf.score(Xva, yva))


@functools.cache
def _svm_reference() -> float:
    # scikit-learn's defaults are close to the optimum for an RBF SVC on standardized columns, so, as for Augmented
    # Hartmann, the reference is the median of uniform configurations (64 seeded draws) at full fidelity
    from scipy.stats import qmc
    from sklearn.svm import SVC
    from threadpoolctl import threadpool_limits

    Xtr, Xva, ytr, yva = _svm_split()
    space = _svm_space()  # both parameters are log-uniform: u in [0, 1] -> low * (high / low) ** u
    U = qmc.Sobol(len(space), scramble=True, seed=12345).random(64)
    errors = []
    for u in U:
        params = {
            name: float(p.low) * (float(p.high) / float(p.low)) ** float(ui)
            for (name, p), ui in zip(space.items(), u, strict=True)
        }
        clf = SVC(C=params["C"], gamma=params["gamma"])
        with threadpool_limits(limits=1):
            errors.append(1.0 - clf.fit(Xtr, ytr).score(Xva, yva))
    return float(np.median(errors))


MF_PROBLEMS: dict[str, MFProblem] = {
    "mf_mlp_digits": MFProblem(
        "mf_mlp_digits", 27, _mlp_space, _mlp_steps, None, _mlp_reference, _hyperband_pruner
    ),
    "mf_aug_hartmann": MFProblem(
        "mf_aug_hartmann", 9, _hartmann_space, _hartmann_steps, -3.32237, _hartmann_reference, _sh_pruner
    ),
    # not in ../shared/bench (see above); TPE gets the MLP's pruner, as the resource is the same 27 steps
    "mf_hgb_breast_cancer": MFProblem(
        "mf_hgb_breast_cancer", 27, _hgb_space, _hgb_steps, None, _hgb_reference, _hyperband_pruner
    ),
    "mf_mlp_diabetes": MFProblem(
        "mf_mlp_diabetes",
        27,
        _mlp_space,
        _mlp_diabetes_steps,
        None,
        _mlp_diabetes_reference,
        _hyperband_pruner,
    ),
    # held out (session 11, see above)
    "mf_sgd_synthetic": MFProblem(
        "mf_sgd_synthetic", 27, _sgd_space, _sgd_steps, None, _sgd_reference, _hyperband_pruner
    ),
    "mf_svm_synthetic": MFProblem(
        "mf_svm_synthetic", 9, _svm_space, _svm_steps, None, _svm_reference, _sh_pruner
    ),
}


# ---------------------------------------------------------------------------------------------------- methods
def _run_hpo(
    problem: MFProblem, seed: int, budget: int, *, surrogate: str, **kw: Any
) -> list[dict[str, Any]]:
    """hpo's own ask/report/tell loop with a Fidelity."""
    import optuna

    import hpo

    brackets = kw.pop("brackets", None)
    study = hpo.create_study(
        space=problem.space(),
        storage=optuna.storages.InMemoryStorage(),
        surrogate=surrogate,
        fidelity=hpo.Fidelity(1, problem.max_steps, eta=3, brackets=brackets),
        seed=seed,
        **kw,
    )
    used, events = 0, []
    while used < budget:
        t = study.ask()
        stopped, value, steps = False, math.nan, 0
        for step, value in enumerate(problem.steps(t.params), start=1):
            used += 1
            steps = step
            if study.report(t, value, step):
                stopped = True
                break
        if stopped:
            study.tell(t, state="pruned")
        else:
            study.tell(t, value)
        events.append({"used": used, "value": value, "steps": steps, "complete": not stopped})
    return events


def _suggest(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    """Ask an Optuna trial for every parameter of an hpo space."""
    import hpo

    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, hpo.Float):
            out[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, hpo.Int):
            out[name] = trial.suggest_int(name, p.low, p.high, log=p.log, step=p.step)
        else:
            out[name] = trial.suggest_categorical(name, list(p.choices))
    return out


def _run_optuna_pruned(problem: MFProblem, seed: int, budget: int, *, sampler: Any) -> list[dict[str, Any]]:
    import optuna

    space = problem.space()
    state = {"used": 0}
    events: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, space)
        value, steps = math.nan, 0
        for step, value in enumerate(problem.steps(params), start=1):
            state["used"] += 1
            steps = step
            trial.report(value, step)
            if step < problem.max_steps and trial.should_prune():
                events.append({"used": state["used"], "value": value, "steps": steps, "complete": False})
                raise optuna.TrialPruned()
        events.append({"used": state["used"], "value": value, "steps": steps, "complete": True})
        return value

    def stop_at_budget(study: optuna.Study, _t: Any) -> None:
        if state["used"] >= budget:
            study.stop()

    # a fixed name: Optuna's HyperbandPruner puts a trial in a bracket by a hash of the study's name and the trial
    # number, so with the generated (random) name the same seed gave other runs each time (until session 11)
    study = optuna.create_study(
        sampler=sampler,
        pruner=problem.pruner(),
        direction="minimize",
        study_name=f"{problem.name}-seed{seed}",
    )
    study.optimize(objective, n_trials=10**6, callbacks=[stop_at_budget])
    return events


def _tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)


def _synetune_space(space: Mapping[str, Any]) -> dict[str, Any]:
    """Syne Tune's config space for an hpo space (floats, integers, categoricals; no steps)."""
    from syne_tune import config_space as cs

    import hpo

    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, hpo.Float):
            out[name] = (cs.loguniform if p.log else cs.uniform)(float(p.low), float(p.high))
        elif isinstance(p, hpo.Int):
            out[name] = (cs.lograndint if p.log else cs.randint)(int(p.low), int(p.high))
        else:
            out[name] = cs.choice(list(p.choices))
    return out


def _run_synetune_asha_cqr(problem: MFProblem, seed: int, budget: int) -> list[dict[str, Any]]:
    """Syne Tune 0.16.0's ``ASHACQR`` baseline (stopping-type ASHA, one bracket, grace period 1, eta 3, CQR searcher
    on each trial's last value), driven sequentially through its scheduler interface: ``suggest`` ->
    ``on_trial_add`` -> ``on_trial_result`` per step until it says STOP (then ``on_trial_remove``, as its Tuner does)
    or the trial reaches ``max_t`` (then ``on_trial_complete``). Its bracket draw uses NumPy's global generator,
    which is seeded here."""
    import datetime as dt
    import logging

    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.baselines import ASHACQR
    from syne_tune.optimizer.scheduler import SchedulerDecision

    logging.getLogger("syne_tune").setLevel(logging.ERROR)  # it warns about points_to_evaluate on every start
    np.random.seed(seed)
    scheduler = ASHACQR(
        _synetune_space(problem.space()),
        metric="value",
        time_attr="step",
        max_t=problem.max_steps,
        do_minimize=True,
        random_seed=seed,
    )
    used, events, trial_id = 0, [], 0
    while used < budget:
        suggestion = scheduler.suggest()
        trial = Trial(trial_id=trial_id, config=suggestion.config, creation_time=dt.datetime.now())
        trial_id += 1
        scheduler.on_trial_add(trial)
        stopped, value, steps, result = False, math.nan, 0, {}
        for step, value in enumerate(problem.steps(trial.config), start=1):
            used += 1
            steps = step
            result = {"value": value, "step": step}
            if (
                step < problem.max_steps
                and scheduler.on_trial_result(trial, result) == SchedulerDecision.STOP
            ):
                stopped = True
                scheduler.on_trial_remove(trial)
                break
        if not stopped:
            scheduler.on_trial_complete(trial, result)
        events.append({"used": used, "value": value, "steps": steps, "complete": not stopped})
    return events


def _run_hpo_cqr_local(problem: MFProblem, seed: int, budget: int) -> list[dict[str, Any]]:
    """Ablation: ASHA+CQR with quantile Thompson sampling's global steps off (``global_share=0``, every proposal
    gets the local candidates: the behaviour before 2026-11-28). The option is not a study setting, so its default
    is overridden for this run only."""
    from unittest import mock

    from acquisition.thompson import QuantileThompson

    with mock.patch.dict(QuantileThompson.__init__.__kwdefaults__, {"global_share": 0.0}):
        return _run_hpo(problem, seed, budget, surrogate="cqr")


def _run_hpo_cqr_constant(problem: MFProblem, seed: int, budget: int) -> list[dict[str, Any]]:
    """Ablation: ASHA+CQR with the paper's boosted quantile trees on ``y`` itself (``base="constant"``: no kernel
    ridge initial estimate; the behaviour before 2026-11-28 11:00 UTC, see ``surrogates/cqr.py``). The option is not
    a study setting, so its default is overridden for this run only."""
    from unittest import mock

    from surrogates.cqr import CQRSurrogate

    with mock.patch.dict(CQRSurrogate.__init__.__kwdefaults__, {"base": "constant"}):
        return _run_hpo(problem, seed, budget, surrogate="cqr")


@contextlib.contextmanager
def _cqr_settings(options: Mapping[str, Any], thompson: Mapping[str, Any]) -> Iterator[None]:
    """While open: CQR with the single-fidelity settings (the session-9 default) plus exactly these
    ``CQRSurrogate`` options and ``QuantileThompson`` options, whether or not the data mix fidelities.

    Both the classes' defaults and the scheduler's mixed-fidelity settings (``hpo.scheduler.MIXED_FIDELITY_*``,
    which a multi-fidelity study uses from its first stopped trial on) are replaced, so every variant means the same
    as when it was measured."""
    from unittest import mock

    from acquisition.thompson import QuantileThompson
    from hpo import scheduler
    from surrogates.cqr import CQRSurrogate

    with (
        mock.patch.dict(CQRSurrogate.__init__.__kwdefaults__, options),
        mock.patch.dict(QuantileThompson.__init__.__kwdefaults__, thompson),
        mock.patch.dict(scheduler.MIXED_FIDELITY_CQR_OPTIONS, options, clear=True),
        mock.patch.dict(scheduler.MIXED_FIDELITY_THOMPSON_OPTIONS, thompson, clear=True),
    ):
        yield


def _run_hpo_cqr_options(
    thompson: Mapping[str, Any] | None = None, **options: Any
) -> Callable[[MFProblem, int, int], list[dict[str, Any]]]:
    """Ablation: plain ASHA + CQR with the single-fidelity settings plus exactly these ``CQRSurrogate`` options
    (``options``) and ``QuantileThompson`` options (``thompson``), for the run only (neither is a study setting; see
    :func:`_cqr_settings`)."""

    def run(problem: MFProblem, seed: int, budget: int) -> list[dict[str, Any]]:
        with _cqr_settings(options, dict(thompson or {})):
            return _run_hpo(problem, seed, budget, surrogate="cqr", brackets=1)

    return run


def _thompson_method(name: str) -> Callable[[MFProblem, int, int], list[dict[str, Any]]] | None:
    """Quantile Thompson sampling's options, which are not study settings, overridden for the run only (plain
    ASHA + CQR): ``asha1-cqr-g<share>`` sets the share of global steps (``global_share``, a sweep) and
    ``asha1-cqr-refine<k>`` the rounds of the winner's refinement (``refine_rounds``, 0 by default); None for any
    other name."""
    match = re.fullmatch(r"asha1-cqr-g([0-9]*\.?[0-9]+)", name)
    if match is not None and 0.0 <= float(match.group(1)) <= 1.0:
        options: dict[str, Any] = {"global_share": float(match.group(1))}
    elif (match := re.fullmatch(r"asha1-cqr-refine([0-9]+)", name)) is not None:
        options = {"refine_rounds": int(match.group(1))}
    elif (match := re.fullmatch(r"asha1-cqr-quad-refine([0-9]+)", name)) is not None:
        return _run_hpo_cqr_options(thompson={"refine_rounds": int(match.group(1))}, base_quadratic=True)
    else:
        return None
    return _run_hpo_cqr_options(thompson=options)


def _register(name: str) -> bool:
    """Make ``name`` a known method (the ``asha1-cqr-g<share>`` and ``asha1-cqr-refine<k>`` families are built on
    demand)."""
    if name in METHODS:
        return True
    method = _thompson_method(name)
    if method is not None:
        METHODS[name] = method
    return method is not None


def _run_plugin_single_fidelity_settings(problem: MFProblem, seed: int, budget: int) -> list[dict[str, Any]]:
    """``hpo-cqr-pruner`` with CQR's single-fidelity settings throughout (the plugin's behaviour before session 10)."""
    with _cqr_settings({}, {}):
        return _run_optuna_pruned(problem, seed, budget, sampler=_hpo_cqr_sampler(seed))


def _hpo_cqr_sampler(seed: int) -> Any:
    from integrations.optuna import HPOSampler

    return HPOSampler(surrogate="cqr", seed=seed)


METHODS: dict[str, Callable[[MFProblem, int, int], list[dict[str, Any]]]] = {
    "asha-cqr": lambda p, s, b: _run_hpo(p, s, b, surrogate="cqr"),
    "asha1-cqr": lambda p, s, b: _run_hpo(p, s, b, surrogate="cqr", brackets=1),
    "asha-cqr-local": _run_hpo_cqr_local,
    "asha-cqr-constant": _run_hpo_cqr_constant,
    # session 7's two CQR changes, each switched off, and both (the model of sessions 4-6)
    "asha1-cqr-notransform": _run_hpo_cqr_options(target_transform="none"),
    "asha1-cqr-noscale": _run_hpo_cqr_options(local_scale=False),
    "asha1-cqr-s6": _run_hpo_cqr_options(target_transform="none", local_scale=False),
    # session 10: the single-fidelity settings in a multi-fidelity study (the default until session 10), the kernel
    # ridge's quadratic trend term alone, and with the refinement of the Thompson winner (the mixed-fidelity default)
    "asha1-cqr-s9": _run_hpo_cqr_options(),
    "asha1-cqr-quad": _run_hpo_cqr_options(base_quadratic=True),
    "asha-gp": lambda p, s, b: _run_hpo(p, s, b, surrogate="gp"),
    "asha-random": lambda p, s, b: _run_hpo(p, s, b, surrogate="gp", n_startup_trials=10**9),
    "asha1-gp": lambda p, s, b: _run_hpo(p, s, b, surrogate="gp", brackets=1),
    "asha1-random": lambda p, s, b: _run_hpo(p, s, b, surrogate="gp", n_startup_trials=10**9, brackets=1),
    # a diagnostic: the GP with CQR's acquisition (quantile Thompson sampling) instead of log EI
    "asha1-gp-thompson": lambda p, s, b: _run_hpo(
        p, s, b, surrogate="gp", brackets=1, acquisition="thompson"
    ),
    "tpe-hyperband": lambda p, s, b: _run_optuna_pruned(p, s, b, sampler=_tpe(s)),
    "hpo-cqr-pruner": lambda p, s, b: _run_optuna_pruned(p, s, b, sampler=_hpo_cqr_sampler(s)),
    "hpo-cqr-pruner-s9": _run_plugin_single_fidelity_settings,
    "synetune-asha-cqr": _run_synetune_asha_cqr,
}


def run_one(method: str, problem: MFProblem, seed: int, budget_full: float) -> Run:
    budget = int(round(budget_full * problem.max_steps))
    w0, c0 = time.perf_counter(), time.process_time()
    error = None
    try:
        events = METHODS[method](problem, seed, budget)
    except Exception as exc:  # keep the record, report the failure
        events, error = [], f"{type(exc).__name__}: {exc}"
    return {
        "method": method,
        "problem": problem.name,
        "seed": seed,
        "budget": budget,
        "max_steps": problem.max_steps,
        "optimum": problem.optimum,
        "reference": problem.reference(),
        "events": events,
        "wall_s": time.perf_counter() - w0,
        "cpu_s": time.process_time() - c0,
        "error": error,
    }


# ----------------------------------------------------------------------------------------------------- report
def _completions(run: Run) -> Iterator[dict[str, Any]]:
    """The run's full trainings with a finite value: the only events a checkpoint's best value counts."""
    for e in run["events"]:
        if e["complete"] and e["value"] is not None and math.isfinite(e["value"]):
            yield e


def best_at(run: Run, resource: float) -> float | None:
    vals = [e["value"] for e in _completions(run) if e["used"] <= resource + 1e-9]
    return min(vals) if vals else None


def _optima(runs: Sequence[Run]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in runs:
        if r["optimum"] is None:
            b = best_at(r, math.inf)
            if b is not None:
                out[r["problem"]] = min(b, out.get(r["problem"], math.inf))
    return out


def _nr(best: float | None, opt: float, ref: float) -> float:
    if best is None:
        return 1.0
    if ref <= opt:
        return 0.0 if best <= ref else 1.0
    return min(1.0, max(0.0, (best - opt) / (ref - opt)))


def regrets(run: Run, optima: Mapping[str, float]) -> list[float]:
    opt = run["optimum"] if run["optimum"] is not None else optima.get(run["problem"], math.inf)
    return [_nr(best_at(run, f * run["budget"]), opt, run["reference"]) for f in CHECKPOINTS]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def report(runs: Sequence[Run], meta: Mapping[str, Any] | None = None) -> str:
    for r in runs:
        _register(r["method"])
    optima = _optima(runs)
    present = {r["method"] for r in runs}
    # the benchmark's own methods in their order, then any other name a result file holds (a renamed screen)
    methods = [m for m in METHODS if m in present] + sorted(present - set(METHODS))
    problems = list(dict.fromkeys(r["problem"] for r in runs))
    out: list[str] = [f"<!-- {s} -->" for s in (meta or {}).get("sessions", [])]
    for r in runs:
        if r.get("error"):
            out.append(f"WARNING: {r['method']} on {r['problem']} seed {r['seed']}: {r['error']}")
    reg = {(r["problem"], r["method"]): [] for r in runs}
    for r in runs:
        reg[(r["problem"], r["method"])].append(regrets(r, optima))
    pct = [f"{round(100 * c)}%" for c in CHECKPOINTS]
    # mean over problems of the mean over seeds
    rows = []
    for m in methods:
        ps = [p for p in problems if (p, m) in reg]
        means = [statistics.mean(statistics.mean(x[c] for x in reg[(p, m)]) for p in ps) for c in range(3)]
        seeds = sorted({r["seed"] for r in runs if r["method"] == m})
        rows.append([m, *(f"{v:.3f}" for v in means), str(len(ps)), ",".join(map(str, seeds))])
    out += ["### Mean normalized regret over problems (mean over seeds), at % of the resource budget", ""]
    out += [_table(["method", *(f"nr @{p}" for p in pct), "#problems", "seeds"], rows), ""]
    for p in problems:
        budget = next(r["budget"] for r in runs if r["problem"] == p)
        rows = []
        for m in methods:
            if (p, m) not in reg:
                continue
            rs = [r for r in runs if r["problem"] == p and r["method"] == m]
            xs = reg[(p, m)]
            cells = []
            for c in range(3):
                vals = [x[c] for x in xs]
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"{statistics.mean(vals):.3f}±{sd:.3f}")
            n_tr = statistics.mean(_n_trials(r) for r in rs)
            n_pr = statistics.mean(_n_pruned(r) for r in rs)
            best = [best_at(r, r["budget"]) for r in rs]
            best_txt = (
                f"{statistics.mean(b for b in best if b is not None):.4f}"
                if any(b is not None for b in best)
                else "–"
            )
            wall = statistics.mean(r["wall_s"] for r in rs)
            rows.append([m, *cells, f"{n_tr:.0f} ({n_pr:.0f})", best_txt, f"{wall:.0f}"])
        res = [f"nr @ {round(c * budget)} res" for c in CHECKPOINTS]
        out += [
            f"**{p}** (budget {budget} steps; opt {optima.get(p, next(r['optimum'] for r in runs if r['problem'] == p))})",
            "",
        ]
        out += [_table(["method", *res, "trials (pruned)", "mean best @full", "wall s/run"], rows), ""]
    return "\n".join(out)


def compact(run: Run) -> Run:
    """The run with only what :func:`report` reads, small enough to commit (``benchmarks/stored/``).

    Why: the full event lists of a few hundred runs are megabytes and lived in the git-ignored ``benchmarks/results``,
    so a new machine lost every table's data. The report needs the best completed value at a resource, which the
    completions that improved on every earlier one (by resource used) give exactly, and the trial counts, kept as
    ``n_trials`` and ``n_pruned``.
    """
    kept, best = [], math.inf
    for e in sorted(_completions(run), key=lambda e: e["used"]):
        if e["value"] < best:
            kept.append(e)
            best = e["value"]
    return run | {
        "events": kept,
        "n_trials": _n_trials(run),
        "n_pruned": _n_pruned(run),
    }


def _n_trials(run: Run) -> int:
    return int(run.get("n_trials", len(run["events"])))


def _n_pruned(run: Run) -> int:
    return int(run.get("n_pruned", sum(not e["complete"] for e in run["events"])))


def common_seeds(runs: Sequence[Run]) -> list[Run]:
    """The runs whose (problem, seed) every method of ``runs`` has, so that a table compares like with like
    (files of several sessions cover different seeds per method)."""
    methods = {r["method"] for r in runs}
    have: dict[tuple[str, int], set[str]] = {}
    for r in runs:
        have.setdefault((r["problem"], r["seed"]), set()).add(r["method"])
    return [r for r in runs if have[(r["problem"], r["seed"])] == methods]


def paired_report(runs: Sequence[Run], base: str) -> str:
    """Per problem and method: the mean over seeds of (method - ``base``) normalized regret at each checkpoint, with
    its standard error, over the seeds both ran (normalized with the same optima as :func:`report`).

    A method compared on two or more problems also gets a row ``mean over N problems``: the mean of its per-problem
    means, with the standard error ``sqrt(sum se_p^2) / N`` (the problems' runs are independent). Why: the issue's
    target and every declared adoption rule are stated on the mean over problems, which was otherwise computed by
    hand from the per-problem rows.
    """
    optima = _optima(runs)
    by = {(r["method"], r["problem"], r["seed"]): regrets(r, optima) for r in runs}
    rows = []
    per_method: dict[str, list[list[tuple[float, float]]]] = {}
    for p in dict.fromkeys(r["problem"] for r in runs):
        for m in dict.fromkeys(r["method"] for r in runs):
            seeds = sorted(s for (mm, pp, s) in by if mm == m and pp == p and (base, p, s) in by)
            if m == base or len(seeds) < 2:
                continue
            cells, stats = [], []
            for c in range(len(CHECKPOINTS)):
                d = [by[(m, p, s)][c] - by[(base, p, s)][c] for s in seeds]
                mean, se = statistics.mean(d), statistics.stdev(d) / math.sqrt(len(d))
                cells.append(f"{mean:+.3f} ({se:.3f})")
                stats.append((mean, se))
            rows.append([p, m, str(len(seeds)), *cells])
            per_method.setdefault(m, []).append(stats)
    for m, problems in per_method.items():
        if len(problems) < 2:
            continue
        n = len(problems)
        cells = []
        for c in range(len(CHECKPOINTS)):
            mean = statistics.mean(st[c][0] for st in problems)
            se = math.sqrt(sum(st[c][1] ** 2 for st in problems)) / n
            cells.append(f"**{mean:+.3f}** ({se:.3f})")
        rows.append([f"mean over {n} problems", m, "", *cells])
    pct = [f"{round(100 * c)}%" for c in CHECKPOINTS]
    head = [f"### Paired by seed: method - {base}, mean (standard error)", ""]
    return "\n".join(head + [_table(["problem", "method", "seeds", *(f"@{p}" for p in pct)], rows)])


# -------------------------------------------------------------------------------------------------------- CLI
def _key(run: Run) -> tuple[str, str, int]:
    """A run's identity in merged result files: a later file's run of the same method, problem and seed wins."""
    return (run["method"], run["problem"], run["seed"])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--methods",
        default=None,
        help="methods to run (default asha-cqr,asha-gp,asha-random,tpe-hyperband); with --report-only: to report",
    )
    parser.add_argument(
        "--problems",
        default=None,
        help="problems to run (default mf_mlp_digits,mf_aug_hartmann); with --report-only: to report",
    )
    parser.add_argument(
        "--seeds", default=None, help="seeds to run (default 0,1,2); with --report-only: to report"
    )
    parser.add_argument("--budget-full", type=float, default=20.0, help="budget in full trainings")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/mf.json"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--merge",
        default="",
        help="with --report-only: comma-separated further result files; a run of the same (method, problem, seed)"
        " in a later file replaces the earlier one",
    )
    parser.add_argument(
        "--common-seeds",
        action="store_true",
        help="with --report-only: only the (problem, seed) pairs every reported method ran",
    )
    parser.add_argument(
        "--paired",
        default="",
        metavar="METHOD",
        help="with --report-only: also every method's mean paired difference to METHOD, seed by seed",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="PATH",
        help="with --report-only: also write the reported runs (after --methods, --seeds and --problems, before"
        " --common-seeds),"
        " compacted to what the report reads, to PATH (benchmarks/stored/ is committed; benchmarks/results/ is not)",
    )
    args = parser.parse_args(argv[1:])
    if args.store is not None and not args.report_only:
        parser.error("--store needs --report-only")
    if args.report_only:
        try:
            runs, meta = read_merged(args.out, args.merge, _key)
        except FileNotFoundError as exc:
            parser.error(str(exc))
        runs = keep_runs(runs, "method", args.methods)
        runs = keep_runs(keep_runs(runs, "seed", args.seeds, int), "problem", args.problems)
        if args.store is not None:
            save_runs(args.store, meta, [compact(r) for r in runs], one_run_per_line=True)
        paired = paired_report(runs, args.paired) if args.paired else ""
        if args.common_seeds:
            runs = common_seeds(runs)
        print(report(runs, meta))
        if paired:
            print("\n" + paired)
        return 0
    args.methods = args.methods or "asha-cqr,asha-gp,asha-random,tpe-hyperband"
    args.seeds = args.seeds or "0,1,2"
    args.problems = args.problems or "mf_mlp_digits,mf_aug_hartmann"
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if not _register(m):
            parser.error(f"unknown method {m!r}; known: {', '.join(METHODS)}")
    names = [p.strip() for p in args.problems.split(",") if p.strip()]
    for name in names:
        if name not in MF_PROBLEMS:
            parser.error(f"unknown problem {name!r}; known: {', '.join(MF_PROBLEMS)}")
    problems = [MF_PROBLEMS[name] for name in names]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    runs: list[Run] = []
    meta: dict[str, Any] = {"sessions": []}
    if args.resume and args.out.exists():
        data = json.loads(args.out.read_text())
        runs, meta = data["runs"], data.get("meta", meta)
    header = (
        f"run {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} | {platform.node()} "
        f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f} at start | optuna {optuna.__version__} | "
        f"command: python {shlex.join(argv)}"
    )
    meta["sessions"].append(header)
    print(header, flush=True)
    done = {(r["method"], r["problem"], r["seed"]) for r in runs}
    plan = [(m, p, s) for s in seeds for p in problems for m in methods if (m, p.name, s) not in done]
    t0 = time.perf_counter()
    for i, (m, p, s) in enumerate(plan, 1):
        run = run_one(m, p, s, args.budget_full)
        runs.append(run)
        save_runs(args.out, meta, runs)
        print(
            f"[{i}/{len(plan)} {time.perf_counter() - t0:6.0f}s] {m:14s} {p.name:16s} seed {s}: "
            f"best {best_at(run, run['budget'])}, {len(run['events'])} trials, {run['wall_s']:.0f}s"
            + (f" ERROR {run['error']}" if run["error"] else ""),
            file=sys.stderr,
            flush=True,
        )
    print()
    print(report(runs, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
