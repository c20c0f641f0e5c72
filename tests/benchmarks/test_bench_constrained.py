"""Fast checks of benchmarks/bench_constrained.py: one cheap run, the metrics, and the tables on fake results."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("botorch")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds benchmarks/

from benchmarks import bench_constrained as bc  # noqa: E402


def test_problem_selection() -> None:
    public = bc.get_problems("public")
    assert [p.name for p in public] == [
        "con_constrainedgramacy",
        "con_constrainedhartmann",
        "con_pressurevessel",
    ]
    assert not any(p.public for p in bc.get_problems("heldout"))
    assert len(bc.get_problems("heldout")) >= 2
    assert [p.name for p in bc.get_problems("PressureVessel,con_pressurevessel")] == ["con_pressurevessel"]
    with pytest.raises(ValueError, match="unknown problem"):
        bc.get_problems("nope")


def test_constraint_values_are_negative_slack() -> None:
    p = bc.PROBLEMS["con_constrainedgramacy"]
    f, g = bc.evaluate(p, [[0.1954, 0.4044], [1.0, 1.0]])
    assert f.shape == (2,) and g.shape == (2, 2)
    assert f[0] == pytest.approx(0.5998)
    assert (g[1] > 0).any()  # (1, 1) violates x1^2 + x2^2 <= 1.5


def test_reference_is_cached(tmp_path: Path) -> None:
    p = bc.PROBLEMS["con_constrainedgramacy"]
    cache = tmp_path / "refs.json"
    ref = bc.reference(p, cache)
    assert ref["opt"] < ref["ref"] and ref["n_feasible"] > 1000
    stored = json.loads(cache.read_text())
    key = next(iter(stored))
    stored[key]["ref"] = 123.0
    cache.write_text(json.dumps(stored))
    assert bc.reference(p, cache)["ref"] == 123.0  # read back, not recomputed


def test_one_cheap_run_records_constraints() -> None:
    p = bc.PROBLEMS["con_constrainedgramacy"]
    run = bc.run_one("random", p, seed=0, budget=6)
    assert run["n_done"] == 6 and not run["timed_out"] and run["error"] is None
    assert len(run["values"]) == 6 and all(len(g) == 2 for g in run["constraints"])
    assert run["declared_infeasible"] is False
    regs = bc.checkpoint_regrets(run, {"opt": 0.5998, "ref": 1.25})
    assert len(regs) == 3 and all(0.0 <= r <= 1.0 for r in regs)
    assert regs[0] >= regs[1] >= regs[2]


def test_hpo_variant_sets_betas() -> None:
    assert bc.parse_variant("hpo-gp") == {}
    assert bc.parse_variant("hpo-gp:b4:o1") == {"config_beta": 4.0, "config_objective_beta": 1.0}
    assert bc.parse_variant("gp") is None
    assert bc.parse_variant("hpo-gp:f0:p2:nw") == {
        "config_feasible_every": 0,
        "config_feasible_beta": 2.0,
        "config_warp": False,
    }
    assert bc.parse_variant("hpo-gp:nff:w0") == {"config_feasible_first": False, "config_widen": 0}
    assert bc.parse_variant("hpo-gp:nst:m0.05") == {
        "config_feasible_streak": False,
        "config_feasible_margin": 0.05,
    }
    assert bc.parse_variant("hpo-gp:ow:cei") == {
        "config_objective_warp": True,
        "config_feasible_rule": "cei",
    }
    assert bc.parse_variant("hpo-gp:now:bnd") == {
        "config_objective_warp": False,
        "config_feasible_rule": "bounds",
    }
    sampler = bc.make_sampler("hpo-gp:f3", 0)
    assert sampler._proposer.config_feasible_every == 3
    s = bc.make_sampler("hpo-gp:b4:o1", 0)
    assert s._proposer.config_beta == 4.0 and s._proposer.config_objective_beta == 1.0
    with pytest.raises(ValueError):
        bc.make_sampler("nope", 0)


def _fake(sampler: str, problem: str, seed: int, values, cons, budget=4, public=True, **kw) -> dict:
    return {
        "sampler": sampler,
        "problem": problem,
        "public": public,
        "seed": seed,
        "budget": budget,
        "n_done": len(values),
        "timed_out": len(values) < budget,
        "error": None,
        "values": values,
        "constraints": cons,
        "overhead_s": [0.01] * len(values),
        "wall_s": 1.0,
        "declared_infeasible": kw.get("declared", False),
        "gp_constraint_fits": 3 if sampler == "gp" else None,
    }


def test_metrics_on_a_fake_run() -> None:
    run = _fake("x", "con_a", 0, [5.0, 1.0, 3.0, 2.0], [[1.0, -1.0], [0.5, 0.2], [-1.0, 0.0], [-0.1, -0.1]])
    assert (
        bc.best_feasible(run, 1) is None
        and bc.best_feasible(run, 3) == 3.0
        and bc.best_feasible(run, 4) == 2.0
    )
    assert bc.feasible_share(run) == 0.5
    assert bc.violation(run) == pytest.approx(1.7)
    ref = {"opt": 0.0, "ref": 4.0}
    assert bc.checkpoint_regrets(run, ref) == [1.0, 1.0, 0.5]  # checkpoints 1, 2, 4 of a budget of 4
    assert bc.normalized_regret(-1.0, 0.0, 4.0) == 0.0 and bc.normalized_regret(9.0, 0.0, 4.0) == 1.0
    cut = _fake("botorch", "con_a", 0, [5.0, 1.0], [[1.0, -1.0], [-0.5, -0.2]])
    assert bc.checkpoint_regrets(cut, ref) == [1.0, 0.25, None]


def test_report_tables_from_fake_results() -> None:
    feas, infeas = [-1.0], [1.0]
    runs = []
    for seed in (0, 1):
        runs.append(_fake("gp", "con_a", seed, [3.0, 2.0, 2.0, 2.0], [infeas, feas, feas, feas]))
        runs.append(_fake("hpo-gp", "con_a", seed, [3.0, 1.0, 1.0, 1.0], [feas, feas, feas, feas]))
        runs.append(_fake("gp", "con_b", seed, [3.0] * 4, [feas] * 4, public=False))
        runs.append(_fake("hpo-gp", "con_b", seed, [3.0] * 4, [infeas] * 4, public=False, declared=seed == 1))
    runs.append(_fake("botorch", "con_a", 0, [3.0], [feas]))
    refs = {
        "con_a": {"opt": 0.0, "ref": 4.0, "dim": 2, "n_constraints": 1},
        "con_b": {"opt": 0.0, "ref": 4.0, "dim": 3, "n_constraints": 1},
    }
    meta = {"date": "D", "cores": 2, "versions": {"optuna": "5.0.0"}, "command": "python x.py"}
    text = bc.report(runs, refs, meta)
    assert "Command: `python x.py`" in text and "optuna 5.0.0" in text
    summary = next(line for line in text.splitlines() if line.startswith("| hpo-gp |"))
    cells = [c.strip() for c in summary.strip("|").split("|")]
    assert cells[3] == f"{(0.25 + 1.0) / 2:.3f}"  # final nr, mean over problems x seeds
    assert cells[7] == "1 / 0 / 1"  # better than gp on con_a, worse on con_b
    assert "**0.250±0.000 (n=2)**" in text  # best on con_a
    assert "timeout (n=1)" in text
    assert "set on 1 of 4 hpo runs" in text
    assert "in 4 of 4 runs" in text
    assert "0% / 0/2 / 4" in text  # hpo-gp on con_b: no feasible trial, violation 4 per run
    assert not math.isnan(float(cells[1]))


def test_report_only_merge_keeps_the_out_files_run_and_names_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import botorch

    name = "con_constrainedgramacy"
    refs = tmp_path / "refs.json"  # a cached reference, so the test computes none
    key = f"{name}|botorch={botorch.__version__}|n={bc.REF_POINTS}|seed=0"
    refs.write_text(json.dumps({key: {"opt": 0.0, "ref": 4.0, "dim": 2, "n_constraints": 2}}))
    feas = [-1.0, -1.0]
    out, extra = tmp_path / "out.json", tmp_path / "extra.json"
    out.write_text(json.dumps({"meta": {}, "runs": [_fake("gp", name, 0, [1.0] * 4, [feas] * 4)]}))
    extra.write_text(
        json.dumps(
            {
                "meta": {},
                "runs": [
                    _fake("gp", name, 0, [3.0] * 4, [feas] * 4),
                    _fake("gp", name, 1, [2.0] * 4, [feas] * 4),
                ],
            }
        )
    )
    assert bc.main(["--report-only", "--out", str(out), "--merge", str(extra), "--refs", str(refs)]) == 0
    text = capsys.readouterr().out
    # seed 0 from --out (nr 0.25), seed 1 from --merge (nr 0.5): mean 0.375; the merged file's seed 0 is not used
    assert "0.375±0.177 (n=2)" in text
    with pytest.raises(SystemExit) as exc:
        bc.main(
            ["--report-only", "--out", str(out), "--merge", str(tmp_path / "gone.json"), "--refs", str(refs)]
        )
    assert exc.value.code == 2
    assert "gone.json" in capsys.readouterr().err
