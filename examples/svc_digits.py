"""Objective for ``hpo run examples/svc_digits.yaml``: an RBF support-vector classifier on scikit-learn's digits.

The value is the 3-fold stratified cross-validation error (lower is better). The folds are fixed
(``random_state=0``), so two trials with the same configuration get the same value and the optimizer compares
configurations, not fold draws. The data set is loaded once per process, at import, not once per trial.
"""

from __future__ import annotations

from typing import Any

from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC

_X, _Y = load_digits(return_X_y=True)
_FOLDS = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def objective(params: dict[str, Any]) -> float:
    """3-fold CV error of ``SVC(kernel="rbf", C, gamma, shrinking)`` on digits."""
    model = SVC(kernel="rbf", C=params["C"], gamma=params["gamma"], shrinking=params.get("shrinking", True))
    return 1.0 - float(cross_val_score(model, _X, _Y, cv=_FOLDS).mean())
