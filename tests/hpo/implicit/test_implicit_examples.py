"""The examples in examples/implicit run end to end in their --quick mode and print their result tables."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "implicit"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("feature_penalties.py", "| logistic (cancer + noise) | 60 / 200 | per-feature"),
        ("mlp_weight_decay.py", "| per-weight (1,126,410 decays"),
        ("dataset_distillation.py", "distilled images"),
    ],
)
def test_example_quick_run(run_example, script: str, expected: str) -> None:
    stdout = run_example(EXAMPLES / script, "--quick")
    assert expected in stdout
    assert "run: python examples/implicit/" in stdout
