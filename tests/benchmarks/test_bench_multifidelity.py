"""Fast checks of benchmarks/bench_multifidelity.py: the resource accounting of the metric, and one short run of each
loop (hpo's ASHA and the Syne Tune ASHA-CQR adapter, when syne-tune is installed) on Augmented Hartmann."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("botorch")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds benchmarks/

from benchmarks import bench_multifidelity as bm  # noqa: E402
from benchmarks import results_io  # noqa: E402


def _run(events: list[dict], budget: int = 90, optimum: float | None = -3.0, reference: float = 0.0) -> dict:
    return {
        "method": "m",
        "problem": "p",
        "seed": 0,
        "budget": budget,
        "max_steps": 9,
        "optimum": optimum,
        "reference": reference,
        "events": events,
    }


def test_best_at_counts_only_full_trainings_finished_within_the_resource() -> None:
    events = [
        {"used": 9, "value": -1.0, "steps": 9, "complete": True},
        {"used": 10, "value": -2.9, "steps": 1, "complete": False},  # pruned: never counts
        {"used": 19, "value": -1.5, "steps": 9, "complete": True},
        {"used": 60, "value": -2.4, "steps": 9, "complete": True},
    ]
    run = _run(events)
    assert bm.best_at(run, 9) == -1.0
    assert bm.best_at(run, 18.9) == -1.0
    assert bm.best_at(run, 19) == -1.5
    assert bm.best_at(run, math.inf) == -2.4
    assert bm.best_at(_run(events[1:2]), math.inf) is None
    # checkpoints 25/50/100 % of 90: 22.5 -> -1.5, 45 -> -1.5, 90 -> -2.4; nr = (best + 3) / 3
    assert bm.regrets(run, {}) == pytest.approx([1.5 / 3, 1.5 / 3, 0.6 / 3])
    assert bm.regrets(_run([]), {}) == [1.0, 1.0, 1.0]


def _check_events(events: list[dict], budget: int, max_steps: int) -> None:
    assert events, "no trial ran"
    used = [e["used"] for e in events]
    assert used == sorted(used) and used[-1] >= budget and used[-2] < budget  # stops at the first crossing
    assert sum(e["steps"] for e in events) == used[-1]  # every step is one unit of resource
    for e in events:
        assert 1 <= e["steps"] <= max_steps
        assert e["complete"] == (e["steps"] == max_steps)


def test_hpo_asha_loop_spends_the_budget_step_by_step() -> None:
    problem = bm.MF_PROBLEMS["mf_aug_hartmann"]
    events = bm.METHODS["asha-random"](problem, 0, 4 * problem.max_steps)
    _check_events(events, 4 * problem.max_steps, problem.max_steps)
    assert any(not e["complete"] for e in events) or len(events) <= 4


@pytest.mark.parametrize(
    "name", ["mf_hgb_breast_cancer", "mf_mlp_diabetes", "mf_sgd_synthetic", "mf_svm_synthetic"]
)
def test_extra_problems_train_step_by_step(name: str) -> None:
    """The problems outside ../shared/bench: one finite value per step, deterministic, and the first step differs
    from the last (the resource matters); the reference (scikit-learn's defaults fully trained, or the median of
    uniform configurations for the SVM) is finite."""
    problem = bm.MF_PROBLEMS[name]
    params = {n: _middle(p) for n, p in problem.space().items()}
    values = list(problem.steps(params))
    assert len(values) == problem.max_steps
    assert all(math.isfinite(v) and v >= 0 for v in values)
    assert values[0] != values[-1]
    assert list(problem.steps(params)) == values
    assert math.isfinite(problem.reference()) and problem.reference() > 0


def _middle(p: object) -> object:
    """A point inside an hpo parameter's range (the geometric middle of a log range)."""
    import hpo

    if isinstance(p, hpo.Categorical):
        return p.choices[0]
    lo, hi = float(p.low), float(p.high)
    mid = math.sqrt(lo * hi) if p.log else (lo + hi) / 2
    return int(round(mid)) if isinstance(p, hpo.Int) else mid


def test_synetune_asha_cqr_adapter() -> None:
    """Syne Tune's ASHACQR through the adapter: a short budget, the same accounting, stopped trials, and the same
    events for the same seed (its bracket draw and searcher are seeded)."""
    pytest.importorskip("syne_tune")
    pytest.importorskip("huggingface_hub")
    problem = bm.MF_PROBLEMS["mf_aug_hartmann"]
    budget = 6 * problem.max_steps
    events = bm.METHODS["synetune-asha-cqr"](problem, 3, budget)
    _check_events(events, budget, problem.max_steps)
    assert any(not e["complete"] for e in events)  # ASHA from step 1 with eta 3 stops someone in 54 steps
    assert bm.METHODS["synetune-asha-cqr"](problem, 3, budget) == events
    assert bm._synetune_space(problem.space()).keys() == problem.space().keys()


def test_merge_runs_later_files_replace_the_same_method_problem_and_seed() -> None:
    a = {"meta": {"sessions": ["first"]}, "runs": [_run([]) | {"seed": 0}, _run([]) | {"seed": 1}]}
    newer = _run([{"used": 9, "value": -2.0, "steps": 9, "complete": True}]) | {"seed": 1}
    other = _run([]) | {"method": "n", "seed": 1}
    b = {"meta": {"sessions": ["second"]}, "runs": [newer, other]}
    runs, meta = results_io.merge_runs([a, b], bm._key)
    assert meta == {"sessions": ["first", "second"]}
    assert len(runs) == 3
    by = {(r["method"], r["seed"]): r for r in runs}
    assert by[("m", 1)] is newer and by[("m", 0)]["events"] == [] and by[("n", 1)] is other


def test_global_thompson_methods_are_built_on_demand() -> None:
    assert bm._thompson_method("asha1-cqr-g0.7") is not None
    assert bm._thompson_method("asha1-cqr-g1.5") is None  # a share is a probability
    assert bm._thompson_method("asha1-cqr-gx") is None
    assert bm._register("asha1-cqr-g0.25") and "asha1-cqr-g0.25" in bm.METHODS
    assert bm._register("asha1-cqr-refine0") and "asha1-cqr-refine0" in bm.METHODS
    assert bm._thompson_method("asha1-cqr-refine-1") is None
    assert not bm._register("no-such-method")
    from acquisition.thompson import QuantileThompson

    assert QuantileThompson.__init__.__kwdefaults__["global_share"] == 0.7
    assert QuantileThompson.__init__.__kwdefaults__["refine_rounds"] == 0


def test_refine_method_overrides_the_rounds_for_its_run_only() -> None:
    """``asha1-cqr-refine3`` runs quantile Thompson sampling with 3 rounds of refinement and leaves the default
    alone."""
    from unittest import mock

    from acquisition.thompson import QuantileThompson

    seen = []

    def fake_run(problem, seed, budget, **kw):
        seen.append(QuantileThompson.__init__.__kwdefaults__["refine_rounds"])
        return []

    with mock.patch.object(bm, "_run_hpo", fake_run):
        bm._thompson_method("asha1-cqr-refine3")(None, 0, 1)
    assert seen == [3]
    assert QuantileThompson.__init__.__kwdefaults__["refine_rounds"] == 0


def test_cqr_ablation_methods_override_the_defaults_for_their_run_only() -> None:
    """``asha1-cqr-s6`` (both session-7 changes off) runs with ``target_transform="none"`` and
    ``local_scale=False`` and leaves the class defaults as they were."""
    from unittest import mock

    from surrogates.cqr import CQRSurrogate

    seen: list[tuple[str, bool]] = []
    original = CQRSurrogate.fit

    def spy(self, X, y):  # type: ignore[no-untyped-def]
        seen.append((self.target_transform, self.local_scale))
        return original(self, X, y)

    problem = bm.MF_PROBLEMS["mf_aug_hartmann"]
    with mock.patch.object(CQRSurrogate, "fit", spy):
        events = bm.METHODS["asha1-cqr-s6"](problem, 0, 13 * problem.max_steps)
    _check_events(events, 13 * problem.max_steps, problem.max_steps)
    assert seen and set(seen) == {("none", False)}  # the model was fitted, always with both changes off
    defaults = CQRSurrogate.__init__.__kwdefaults__
    assert defaults["target_transform"] == "yeo-johnson" and defaults["local_scale"] is True


def test_common_seeds_and_paired_report() -> None:
    """Only (problem, seed) pairs every method ran are kept; the paired table is method minus base, seed by seed."""
    full = [{"used": 9, "value": v, "steps": 9, "complete": True} for v in (-1.5,)]
    runs = [
        _run(full) | {"method": "a", "seed": 0},
        _run(full) | {"method": "a", "seed": 1},
        _run([{"used": 9, "value": -2.1, "steps": 9, "complete": True}]) | {"method": "b", "seed": 0},
        _run([{"used": 9, "value": -2.4, "steps": 9, "complete": True}]) | {"method": "b", "seed": 1},
        _run(full) | {"method": "a", "seed": 2},  # b never ran seed 2
    ]
    kept = bm.common_seeds(runs)
    assert sorted((r["method"], r["seed"]) for r in kept) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    text = bm.paired_report(kept, "a")
    # nr = (best + 3) / 3 at every checkpoint: a 0.5, b 0.3 and 0.2 -> differences -0.2, -0.3: mean -0.25, se 0.05
    row = next(line for line in text.splitlines() if line.startswith("| p | b |"))
    assert row == "| p | b | 2 | -0.250 (0.050) | -0.250 (0.050) | -0.250 (0.050) |"
    assert "| p | a |" not in text  # the base is not compared with itself
    assert "mean over" not in text  # one problem: no mean row


def test_paired_report_mean_over_problems() -> None:
    """The mean row averages the per-problem paired means; its standard error is sqrt(sum se^2) / N."""

    def done(value: float) -> list[dict]:
        return [{"used": 9, "value": value, "steps": 9, "complete": True}]

    runs = []
    # problem p: b - a = -0.2, -0.3 (mean -0.25, se 0.05); problem q: b - a = +0.1, +0.1 (mean +0.1, se 0)
    for problem, a_vals, b_vals in (("p", (-1.5, -1.5), (-2.1, -2.4)), ("q", (-1.5, -1.5), (-1.2, -1.2))):
        for seed in (0, 1):
            runs.append(_run(done(a_vals[seed])) | {"method": "a", "problem": problem, "seed": seed})
            runs.append(_run(done(b_vals[seed])) | {"method": "b", "problem": problem, "seed": seed})
    text = bm.paired_report(runs, "a")
    row = next(line for line in text.splitlines() if line.startswith("| mean over 2 problems |"))
    # mean (-0.25 + 0.1) / 2 = -0.075; se sqrt(0.05^2 + 0^2) / 2 = 0.025
    assert (
        row
        == "| mean over 2 problems | b |  | **-0.075** (0.025) | **-0.075** (0.025) | **-0.075** (0.025) |"
    )


def test_gp_thompson_diagnostic_runs_the_gp_with_quantile_thompson() -> None:
    from unittest import mock

    calls = []
    with mock.patch.object(bm, "_run_hpo", lambda p, s, b, **kw: calls.append(kw) or []):
        bm.METHODS["asha1-gp-thompson"](None, 0, 1)
    assert calls == [{"surrogate": "gp", "brackets": 1, "acquisition": "thompson"}]


def test_cqr_variants_start_from_the_single_fidelity_settings_for_their_run_only() -> None:
    """``asha1-cqr-<variant>`` runs CQR with the session-9 (single-fidelity) settings plus exactly the named options,
    in the classes' defaults and in the scheduler's mixed-fidelity settings alike; all are restored afterwards."""
    from unittest import mock

    from acquisition.thompson import QuantileThompson
    from hpo import scheduler
    from surrogates.cqr import CQRSurrogate

    seen = []

    def fake_run(problem, seed, budget, **kw):
        seen.append(
            (
                CQRSurrogate.__init__.__kwdefaults__["base_quadratic"],
                QuantileThompson.__init__.__kwdefaults__["refine_rounds"],
                dict(scheduler.MIXED_FIDELITY_CQR_OPTIONS),
                dict(scheduler.MIXED_FIDELITY_THOMPSON_OPTIONS),
                kw,
            )
        )
        return []

    kw = {"surrogate": "cqr", "brackets": 1}
    with mock.patch.object(bm, "_run_hpo", fake_run):
        bm._thompson_method("asha1-cqr-quad-refine3")(None, 0, 1)
        bm._thompson_method("asha1-cqr-quad-refine1")(None, 0, 1)
        bm.METHODS["asha1-cqr-quad"](None, 0, 1)
        bm.METHODS["asha1-cqr-s9"](None, 0, 1)
        bm._thompson_method("asha1-cqr-refine2")(None, 0, 1)
    assert seen == [
        (True, 3, {"base_quadratic": True}, {"refine_rounds": 3}, kw),
        (True, 1, {"base_quadratic": True}, {"refine_rounds": 1}, kw),
        (True, 0, {"base_quadratic": True}, {}, kw),
        (False, 0, {}, {}, kw),
        (False, 2, {}, {"refine_rounds": 2}, kw),
    ]
    assert CQRSurrogate.__init__.__kwdefaults__["base_quadratic"] is False
    assert QuantileThompson.__init__.__kwdefaults__["refine_rounds"] == 0
    assert scheduler.MIXED_FIDELITY_CQR_OPTIONS == {"base_quadratic": True}
    assert scheduler.MIXED_FIDELITY_THOMPSON_OPTIONS == {"refine_rounds": 3}


def test_plugin_single_fidelity_settings_method_empties_the_mixed_settings_for_its_run_only() -> None:
    from unittest import mock

    from hpo import scheduler

    seen = []

    def fake_run(problem, seed, budget, *, sampler):
        seen.append(
            (dict(scheduler.MIXED_FIDELITY_CQR_OPTIONS), dict(scheduler.MIXED_FIDELITY_THOMPSON_OPTIONS))
        )
        return []

    with mock.patch.object(bm, "_run_optuna_pruned", fake_run):
        bm.METHODS["hpo-cqr-pruner-s9"](None, 0, 1)
    assert seen == [({}, {})]
    assert scheduler.MIXED_FIDELITY_CQR_OPTIONS == {"base_quadratic": True}


def test_compact_run_reports_the_same_regrets_and_counts() -> None:
    """A compacted run keeps only the completions that improved the best value, so every checkpoint's best value,
    the regrets and the report's trial counts are those of the full run."""
    events = [
        {"used": 9, "value": -1.0, "steps": 9, "complete": True},
        {"used": 10, "value": -2.9, "steps": 1, "complete": False},
        {"used": 19, "value": -0.5, "steps": 9, "complete": True},  # worse: dropped
        {"used": 28, "value": -1.5, "steps": 9, "complete": True},
        {"used": 30, "value": float("nan"), "steps": 2, "complete": False},
        {"used": 60, "value": -2.4, "steps": 9, "complete": True},
        {"used": 90, "value": -2.4, "steps": 9, "complete": True},  # a tie is not an improvement
    ]
    run = _run(events)
    small = bm.compact(run)
    assert [e["used"] for e in small["events"]] == [9, 28, 60]
    assert (small["n_trials"], small["n_pruned"]) == (7, 2)
    for resource in (0, 9, 18, 28, 45, 59, 60, 90, math.inf):
        assert bm.best_at(small, resource) == bm.best_at(run, resource)
    assert bm.regrets(small, {}) == bm.regrets(run, {})
    assert bm.compact(small) == small  # compacting twice changes nothing
    named = {"method": "asha1-gp", "wall_s": 1.0}
    full_text = bm.report([run | named])
    assert bm.report([small | named]) == full_text
    assert "| 7 (2) |" in full_text


def test_report_lists_every_method_of_the_runs_known_ones_first() -> None:
    """A result file may hold runs under a name the benchmark does not define (a screen renamed after the run): the
    tables list them after the benchmark's own methods instead of dropping them."""
    events = [{"used": 9, "value": -1.0, "steps": 9, "complete": True}]
    runs = [
        _run(events) | {"method": m, "wall_s": 1.0} for m in ("zz-renamed-screen", "asha1-gp", "asha1-cqr")
    ]
    lines = [line for line in bm.report(runs).splitlines() if line.startswith("| ") and "nr @" not in line]
    order = [line.split("|")[1].strip() for line in lines[:3]]
    assert order == ["asha1-cqr", "asha1-gp", "zz-renamed-screen"]


def test_store_writes_the_reported_runs_compacted(tmp_path: Path) -> None:
    events = [
        {"used": 9, "value": -1.0, "steps": 9, "complete": True},
        {"used": 19, "value": -0.5, "steps": 9, "complete": True},
    ]
    src = tmp_path / "full.json"
    results_io.save_runs(
        src,
        {"sessions": ["s"]},
        [_run(events) | {"wall_s": 1.0}, _run(events) | {"method": "x", "wall_s": 1.0}],
    )
    out = tmp_path / "stored" / "small.json"
    assert bm.main(["bench", "--report-only", "--out", str(src), "--methods", "m", "--store", str(out)]) == 0
    import json

    stored = json.loads(out.read_text())
    assert stored["meta"] == {"sessions": ["s"]}
    assert [r["method"] for r in stored["runs"]] == ["m"]
    assert stored["runs"][0]["events"] == events[:1] and stored["runs"][0]["n_trials"] == 2
    with pytest.raises(SystemExit):
        bm.main(["bench", "--store", str(out)])  # --store only with --report-only


def test_optuna_peer_runs_repeat_with_hyperband_brackets() -> None:
    """TPE with Optuna's HyperbandPruner: the same seed gives the same events (the pruner's bracket of a trial is a
    hash of the study's name, which the benchmark fixes), and another seed others."""
    problem = bm.MF_PROBLEMS["mf_sgd_synthetic"]
    budget = 4 * problem.max_steps
    first = bm.METHODS["tpe-hyperband"](problem, 0, budget)
    _check_events(first, budget, problem.max_steps)
    assert bm.METHODS["tpe-hyperband"](problem, 0, budget) == first


def test_report_only_filters_problems_and_run_mode_names_an_unknown_problem(tmp_path: Path, capsys) -> None:
    events = [{"used": 9, "value": -1.0, "steps": 9, "complete": True}]
    src = tmp_path / "runs.json"
    runs = [_run(events) | {"method": "asha1-gp", "wall_s": 1.0, "problem": p} for p in ("p", "q")]
    results_io.save_runs(src, {"sessions": []}, runs)
    assert bm.main(["bench", "--report-only", "--out", str(src), "--problems", "q"]) == 0
    text = capsys.readouterr().out
    assert "**q**" in text and "**p**" not in text
    with pytest.raises(SystemExit):
        bm.main(["bench", "--problems", "mf_no_such", "--out", str(tmp_path / "x.json")])
    assert "unknown problem 'mf_no_such'" in capsys.readouterr().err
