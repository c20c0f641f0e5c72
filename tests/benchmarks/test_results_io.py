"""benchmarks/results_io.py: the result files every benchmark writes, merges and commits."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds benchmarks/

from benchmarks.results_io import keep_runs, merge_runs, read_files, read_merged, save_runs  # noqa: E402


def _key(run: dict) -> tuple[str, int]:
    return (run["method"], run["seed"])


def test_save_runs_one_run_per_line_reads_back_the_same(tmp_path: Path) -> None:
    runs = [{"method": "a", "seed": 0, "values": [1.5, 2.0]}, {"method": "b", "seed": 1, "values": []}]
    meta = {"sessions": ["run 1"]}
    path = tmp_path / "deep" / "stored.json"  # missing folders are made
    save_runs(path, meta, runs, one_run_per_line=True)
    text = path.read_text()
    assert json.loads(text) == {"meta": meta, "runs": runs}
    assert text.splitlines()[2:4] == [
        json.dumps(r, separators=(",", ":")) + "," * (i == 0) for i, r in enumerate(runs)
    ]
    save_runs(path, meta, runs[:1])  # the indented form replaces the file; no temporary file is left behind
    assert json.loads(path.read_text())["runs"] == runs[:1]
    assert [p.name for p in path.parent.iterdir()] == ["stored.json"]


def test_merge_runs_a_later_file_replaces_the_same_key_and_keeps_every_session() -> None:
    first = {
        "meta": {"sessions": ["one"]},
        "runs": [{"method": "a", "seed": 0, "v": 1}, {"method": "a", "seed": 1, "v": 2}],
    }
    second = {"meta": {"sessions": ["two"]}, "runs": [{"method": "a", "seed": 1, "v": 3}]}
    runs, meta = merge_runs([first, second], _key)
    assert meta == {"sessions": ["one", "two"]}
    assert sorted((r["seed"], r["v"]) for r in runs) == [(0, 1), (1, 3)]
    runs, _ = merge_runs([second, first], _key)  # the order of the files decides
    assert sorted((r["seed"], r["v"]) for r in runs) == [(0, 1), (1, 2)]


def test_merge_runs_keep_first_keeps_the_first_files_run_in_first_seen_order() -> None:
    first = {"meta": {}, "runs": [{"method": "a", "seed": 1, "v": 1}]}
    second = {"meta": {}, "runs": [{"method": "a", "seed": 0, "v": 2}, {"method": "a", "seed": 1, "v": 3}]}
    runs, meta = merge_runs([first, second], _key, keep="first")
    assert [(r["seed"], r["v"]) for r in runs] == [(1, 1), (0, 2)]
    assert meta == {"sessions": []}
    with pytest.raises(ValueError, match="keep='middle'"):
        merge_runs([first], _key, keep="middle")


def test_read_merged_takes_a_comma_separated_list_and_names_a_missing_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save_runs(a, {"sessions": []}, [{"method": "m", "seed": 0, "v": 1}])
    save_runs(b, {"sessions": []}, [{"method": "m", "seed": 0, "v": 2}])
    runs, _ = read_merged(a, f"{b},", _key)  # an empty item (a trailing comma) is ignored
    assert [r["v"] for r in runs] == [2]
    assert [r["v"] for r in read_merged(a, [], _key)[0]] == [1]
    with pytest.raises(FileNotFoundError, match="missing.json"):
        read_merged(a, str(tmp_path / "missing.json"), _key)
    assert [r["v"] for r in read_merged(a, [b], _key, keep="first")[0]] == [1]
    assert [f["runs"][0]["v"] for f in read_files(a, [b])] == [1, 2]
    assert len(read_files(a)) == 1


def test_keep_runs_filters_on_a_comma_separated_option() -> None:
    runs = [{"method": m, "seed": s} for m in ("a", "b") for s in (0, 1)]
    assert keep_runs(runs, "method", "b, c") == runs[2:]
    assert keep_runs(runs, "seed", "1", int) == [runs[1], runs[3]]
    assert keep_runs(runs, "seed", None, int) == runs and keep_runs(runs, "method", "") == runs
