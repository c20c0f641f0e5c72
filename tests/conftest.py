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


@pytest.fixture
def run_example():
    """``run_example(path, *args) -> stdout`` of ``python path *args`` from the repository root; a non-zero exit fails
    the test with the script's stderr (examples are scripts, so they are tested the way a user runs them)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def run(path: Path, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(path), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=root,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    return run
