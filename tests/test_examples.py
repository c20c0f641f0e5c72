"""The top-level examples run end to end in their --quick mode (examples/implicit: tests/hpo/implicit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("constrained_ask_tell.py", ["trials feasible; declared infeasible: False", "best feasible cost:"]),
        ("goucb_highdim.py", ["after  20 trials: best", "CPU per suggestion over the last 10:"]),
    ],
)
def test_example_quick_run(script: str, expected: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=EXAMPLES.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for line in expected:
        assert line in result.stdout
