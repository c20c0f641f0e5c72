"""The top-level examples run end to end in their --quick mode (examples/implicit: tests/hpo/implicit)."""

from __future__ import annotations

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
def test_example_quick_run(run_example, script: str, expected: list[str]) -> None:
    stdout = run_example(EXAMPLES / script, "--quick")
    for line in expected:
        assert line in stdout
