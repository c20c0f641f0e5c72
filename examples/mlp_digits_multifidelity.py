"""Objective for ``hpo run examples/mlp_digits_multifidelity.yaml``: an MLP on digits, trained epoch by epoch.

With a ``fidelity`` in the study file the objective receives a trial handle instead of a dict: ``trial.params`` is
the configuration, ``trial.fidelity`` the most epochs it may train, and ``trial.report(value, epoch)`` records the
validation error after each epoch and returns True when successive halving stops the trial at a rung. A stopped
trial is stored as PRUNED with its per-epoch errors; one that trains to the end returns its final error (COMPLETE).

The split (70 % train / 30 % validation, stratified, ``random_state=0``) and the network's initialisation
(``random_state=0``) are fixed, so the only thing that differs between trials is the configuration.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

_X, _Y = load_digits(return_X_y=True)
_XTR, _XVA, _YTR, _YVA = train_test_split(_X / 16.0, _Y, test_size=0.3, stratify=_Y, random_state=0)
_CLASSES = np.unique(_Y)


def objective(trial: Any) -> float | None:
    """Validation error after ``trial.fidelity`` epochs of ``partial_fit``, reported after every epoch."""
    p = trial.params
    model = MLPClassifier(
        hidden_layer_sizes=(int(p["hidden"]),),
        activation=p["activation"],
        alpha=float(p["alpha"]),
        learning_rate_init=float(p["learning_rate_init"]),
        batch_size=int(p["batch_size"]),
        random_state=0,
    )
    error = None
    for epoch in range(1, int(trial.fidelity) + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(_XTR, _YTR, classes=_CLASSES)
        error = 1.0 - float(model.score(_XVA, _YVA))
        if trial.report(error, epoch):
            return None  # stopped at a rung: the study stores the trial as PRUNED
    return error
