"""Objective for ``hpo run examples/gb_breast_cancer.yaml``: gradient boosting on scikit-learn's breast cancer.

A mixed search space (log-scaled floats, integers on linear and log scales, a categorical with ``null``) on a
``HistGradientBoostingClassifier``; the value is the 3-fold stratified CV log-loss (lower is better), which
separates configurations more finely than accuracy on a data set this easy. Folds are fixed (``random_state=0``).

The features are binned once, at import, into 64 quantile bins (bin index per value). Trees only see the order of a
feature's values, so this loses nothing the model's own 255-bin histogram would keep at 569 samples, and it keeps
``class_weight="balanced"`` cheap: with sample weights, scikit-learn otherwise recomputes weighted percentiles for
every feature in every fit, which is ~50x slower than the fit itself. Each fit uses one OpenMP thread: the fits
are tiny, threads only wait on each other (badly so on a busy machine), and ``n_workers`` parallelizes across trials.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

_X, _Y = load_breast_cancer(return_X_y=True)
_EDGES = np.quantile(_X, np.linspace(0.0, 1.0, 65)[1:-1], axis=0)  # (63, n_features) inner bin edges
_X = np.stack([np.searchsorted(_EDGES[:, j], _X[:, j]) for j in range(_X.shape[1])], axis=1).astype(float)
threadpool_limits(1, user_api="openmp")
_FOLDS = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def objective(params: dict[str, Any]) -> float:
    """3-fold CV log-loss of ``HistGradientBoostingClassifier(**params)``."""
    model = HistGradientBoostingClassifier(**params, early_stopping=False, random_state=0)
    return -float(cross_val_score(model, _X, _Y, cv=_FOLDS, scoring="neg_log_loss").mean())
