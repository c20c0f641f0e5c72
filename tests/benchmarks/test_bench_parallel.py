"""Fast checks of benchmarks/bench_parallel.py: one short batch run per variant and the table."""

from __future__ import annotations

import json
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


def test_report_prints_a_stored_file(tmp_path, capsys) -> None:
    """``--report FILE`` prints the table of an ``--out`` file without running; a missing file is a CLI error."""
    runs = [
        {"problem": "branin", "seed": s, "pending_incumbent": flag, "regret": [r, r / 2], "spread": 0.2}
        for s, r in ((0, 1.0), (1, 3.0))
        for flag in (True, False)
    ]
    path = tmp_path / "parallel.json"
    path.write_text(json.dumps({"argv": ["bench_parallel.py", "--seeds", "0,1"], "runs": runs}))
    bp.main(["--report", str(path)])
    out = capsys.readouterr().out
    assert "bench_parallel.py --seeds 0,1" in out
    assert "| branin | believer+incumbent (n=2) | 2.0000 | 1.0000 | 0.200 |" in out
    with pytest.raises(SystemExit):
        bp.main(["--report", str(tmp_path / "missing.json")])
    assert "missing.json' does not exist" in capsys.readouterr().err
