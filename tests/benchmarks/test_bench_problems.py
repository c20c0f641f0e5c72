"""Fast checks of the benchmark code: every problem evaluates once, and the tables come out of a fake result set."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds benchmarks/

from benchmarks import bench_samplers as bench  # noqa: E402
from benchmarks.problems import PROBLEMS, bbob_instance_id, get_problems  # noqa: E402
from benchmarks.results_io import save_runs  # noqa: E402

pytest.importorskip("cocoex")


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_problem_objective_runs_once(name: str) -> None:
    problem = PROBLEMS[name]
    inst = problem.instance(seed=1)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(inst.objective, n_trials=1)
    value = study.trials[0].value
    assert value is not None and math.isfinite(value)
    assert math.isfinite(inst.reference)
    assert problem.budget >= 4
    if inst.optimum is not None:  # BBOB: the optimum is below everything, the random median above it
        assert inst.optimum <= value and inst.optimum < inst.reference
    else:
        assert problem.family == "ml" and 0.0 <= value <= 1.0


def test_bbob_instance_follows_seed() -> None:
    assert [bbob_instance_id(s) for s in range(4)] == [1, 2, 3, 1]
    p = PROBLEMS["bbob_f015_d02"]
    assert p.instance(0).label != p.instance(1).label
    assert p.instance(0).optimum == p.instance(3).optimum


def test_problem_selection() -> None:
    public = get_problems("public")
    assert {p.name for p in public} >= {"bbob_f001_d20", "bbob_f015_d02", "bbob_f021_d05", "ml_svc_digits"}
    assert all(p.public for p in public) and not any(p.public for p in get_problems("heldout"))
    assert [p.name for p in get_problems("ml_svc_digits,ml_svc_digits")] == ["ml_svc_digits"]
    with pytest.raises(ValueError, match="unknown problem"):
        get_problems("nope")


def _fake_run(sampler: str, problem: str, seed: int, values: list[float], overhead_ms: float, **kw) -> dict:
    n = len(values)
    return {
        "sampler": sampler,
        "problem": problem,
        "family": kw.get("family", "bbob"),
        "public": kw.get("public", True),
        "seed": seed,
        "budget": n,
        "instance": problem,
        "optimum": kw.get("optimum", 0.0),
        "reference": kw.get("reference", 10.0),
        "values": values,
        "trial_wall_ms": [overhead_ms + 1.0] * n,
        "trial_cpu_ms": [overhead_ms + 0.5] * n,
        "obj_wall_ms": [1.0] * n,
        "obj_cpu_ms": [0.5] * n,
        "run_wall_s": 0.0,
        "error": None,
    }


def test_regret_and_overhead_tables_on_fake_results() -> None:
    runs = []
    for seed in (0, 1):
        # 100-trial BBOB-like problem: "a" reaches regret 0.1 at the end, "b" stays at 0.5
        runs.append(_fake_run("a", "bbob_f021_d05", seed, [5.0] * 50 + [1.0] * 50, overhead_ms=10.0))
        runs.append(_fake_run("b", "bbob_f021_d05", seed, [5.0] * 100, overhead_ms=20.0))
        # ML-like problem without a known optimum: the best value any run found (0.1) is the optimum
        ml = {"family": "ml", "public": False, "optimum": None, "reference": 0.3}
        runs.append(_fake_run("a", "ml_svc_digits", seed, [0.3, 0.2, 0.2, 0.2], overhead_ms=1.0, **ml))
        runs.append(_fake_run("b", "ml_svc_digits", seed, [0.3, 0.3, 0.1, 0.1], overhead_ms=2.0, **ml))

    assert bench.ml_optima(runs) == {"ml_svc_digits": 0.1}
    assert bench.run_regrets(runs[0], {}) == pytest.approx([0.5, 0.5, 0.1])
    assert bench.run_regrets(runs[3], {"ml_svc_digits": 0.1}) == pytest.approx([1.0, 1.0, 0.0])

    text, nums = bench.regret_table(runs, ["a", "b"], ["bbob_f021_d05", "ml_svc_digits"])
    assert nums["a"]["nr"][-1] == pytest.approx((0.1 + 0.5) / 2)
    assert nums["b"]["nr"][-1] == pytest.approx((0.5 + 0.0) / 2)
    assert nums["a"]["rank"] == pytest.approx(1.5) and nums["b"]["rank"] == pytest.approx(1.5)
    assert text.startswith("| sampler |")

    oh_text, oh = bench.overhead_table(runs, ["a", "b"])
    assert oh["a"]["wall@50"] == pytest.approx(10.0) and oh["b"]["cpu@100"] == pytest.approx(20.0)
    assert "(2)" in oh_text  # two runs reached trial 100

    out = bench.report(runs, {"sessions": ["run test | command: python benchmarks/bench_samplers.py"]})
    assert "Per problem" in out and "held-out" in out and "Overhead per suggestion" in out


def test_normalized_regret_edges() -> None:
    assert bench.normalized_regret(None, 0.0, 1.0) == 1.0
    assert bench.normalized_regret(-1.0, 0.0, 1.0) == 0.0
    assert bench.normalized_regret(2.0, 0.0, 1.0) == 1.0
    assert bench.normalized_regret(0.25, 0.0, 1.0) == 0.25
    assert bench.normalized_regret(0.2, 0.2, 0.2) == 0.0  # nobody beat the reference: reaching it is 0
    assert bench.normalized_regret(0.3, 0.25, 0.2) == 1.0


def test_cli_report_only_roundtrip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [_fake_run(s, "bbob_f015_d02", 0, [3.0, 2.0, 1.0, 1.0], overhead_ms=1.0) for s in ("a", "b")]
    out = tmp_path / "r.json"
    save_runs(out, {"sessions": ["header"]}, runs)
    assert bench.main(["bench_samplers.py", "--report-only", "--out", str(out)]) == 0
    assert "bbob_f015_d02" in capsys.readouterr().out
    unpaired = [*runs, _fake_run("a", "bbob_f015_d02", 1, [1.0] * 4, overhead_ms=1.0)]
    assert bench.paired(unpaired) == runs


def test_report_only_merges_filters_and_stores_compact_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--merge``: a later file's run of the same sampler, problem, seed and budget replaces the earlier one;
    ``--store``: the reported runs, times rounded, values exact, print the same tables as the full runs."""
    old = _fake_run("a", "bbob_f015_d02", 0, [3.0, 2.0, 1.0, 1.0], overhead_ms=1.0)
    new = _fake_run("a", "bbob_f015_d02", 0, [3.0, 0.5, 0.5, 0.25], overhead_ms=1.0 / 3)
    other = _fake_run("b", "bbob_f015_d02", 0, [4.0, 4.0, 4.0, 4.0], overhead_ms=2.0)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    save_runs(first, {"sessions": ["one"]}, [old, other])
    save_runs(second, {"sessions": ["two"]}, [new])
    stored = tmp_path / "stored" / "s.json"
    argv = ["b.py", "--report-only", "--out", str(first), "--merge", str(second), "--samplers", "a"]
    assert bench.main([*argv, "--store", str(stored)]) == 0
    printed = capsys.readouterr().out
    import json

    data = json.loads(stored.read_text())
    assert data["meta"] == {"sessions": ["one", "two"]}
    assert len(stored.read_text().splitlines()) == 4  # meta, '"runs": [', one line per run, ']}'
    (run,) = data["runs"]
    assert run["sampler"] == "a" and run["values"] == new["values"]
    assert run["trial_wall_ms"] == [1.333] * 4  # 1/3 + 1 ms rounded to 0.001 ms
    assert "seeds per sampler: a 0\n" in printed  # b filtered out
    assert bench.main(["b.py", "--report-only", "--out", str(stored)]) == 0
    assert capsys.readouterr().out == printed  # the stored runs print the same tables
    with pytest.raises(SystemExit):
        bench.main(["b.py", "--out", str(first), "--store", str(stored)])  # --store only with --report-only
    with pytest.raises(SystemExit):
        bench.main(["b.py", "--report-only", "--out", str(first), "--merge", str(tmp_path / "missing.json")])
    assert "missing.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["b.py", "--report-only", "--out", str(first), "--problems", "no_such_problem"])
    assert "unknown problem 'no_such_problem'" in capsys.readouterr().err
