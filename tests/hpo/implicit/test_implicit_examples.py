"""The examples in examples/implicit run end to end in their --quick mode and print their result tables."""

from __future__ import annotations

import subprocess
import sys
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
def test_example_quick_run(script: str, expected: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
    assert "run: python examples/implicit/" in result.stdout
