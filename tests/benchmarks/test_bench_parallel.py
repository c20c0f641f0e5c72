"""Fast checks of benchmarks/bench_parallel.py: one short batch run per variant and the table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("botorch")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds benchmarks/

from benchmarks import bench_parallel as bp  # noqa: E402


def test_batch_run_and_table() -> None:
    runs = [bp.run_one("branin", 0, 3, 16, flag) for flag in (True, False)]
    for r in runs:
        assert r["regret"][0] >= 0.0 and len(r["regret"]) == 1  # checkpoint 16 only
        assert r["spread"] is not None and r["spread"] > 0.0  # batch points are distinct
    table = bp.report(runs)
    assert "believer+incumbent (n=1)" in table and "believer only (n=1)" in table


def test_unknown_problem_is_named() -> None:
    with pytest.raises(ValueError, match="unknown problem 'rosenbrock'"):
        bp._function("rosenbrock")
