"""benchmarks/bench_highdim.py: reading its result files (the runs themselves go through bench_samplers)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds benchmarks/

from benchmarks import bench_highdim as bh  # noqa: E402


def _run(sampler: str, seed: int, value: float) -> dict:
    return {"sampler": sampler, "problem": "bbob_f008_d20", "seed": seed, "budget": 200, "value": value}


def test_load_counts_a_run_found_in_two_files_once_the_first(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"meta": {"sessions": ["s1"]}, "runs": [_run("hpo-gp", 0, 1.0)]}))
    b.write_text(
        json.dumps({"meta": {"sessions": ["s2"]}, "runs": [_run("hpo-gp", 0, 2.0), _run("hpo-gp", 1, 3.0)]})
    )
    runs, sessions = bh._load([a, b])
    assert [(r["seed"], r["value"]) for r in runs] == [(0, 1.0), (1, 3.0)]
    assert sessions == ["s1", "s2"]
    with pytest.raises(FileNotFoundError, match="nope.json"):
        bh._load([a, tmp_path / "nope.json"])


def test_report_of_a_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bh.main(["report", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
    assert bh.main(["report"]) == 2
