"""Shared fixtures: keep torch single-threaded and Optuna quiet so the suite is fast and deterministic."""

from __future__ import annotations

import optuna
import pytest


@pytest.fixture(autouse=True)
def _quiet_optuna():
    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(old)
