"""Tests of the ``hpo`` command line (hpo/cli.py), run in-process through ``main(argv)``.

Every study lives in ``tmp_path``; the toy objectives are written there as modules with unique names (the CLI
imports them, and ``sys.modules`` is shared by all tests). ``n_startup_trials`` is set above ``n_trials`` so the
proposals come from the Sobol design and the tests stay fast; the model-based path is tested elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from hpo.cli import main

TOY = """
def objective(params):
    return (params["x"] - 1.0) ** 2 + params["n"] + (0.5 if params["act"] == "tanh" else 0.0)

def constrained(params):
    return {"value": params["x"] ** 2, "constraints": {"c": 0.5 - params["x"]}}

def wrong_name(params):
    return {"value": params["x"] ** 2, "constraints": {"cc": 0.5 - params["x"]}}

CALLS = []

def interrupted(params):
    CALLS.append(params)
    if len(CALLS) == 3:
        raise KeyboardInterrupt
    return params["x"]

def by_epoch(trial):
    value = 10.0
    for epoch in range(1, trial.fidelity + 1):
        value = (trial.params["x"] - 1.0) ** 2 + 1.0 / epoch
        if trial.report(value, epoch):
            break
    return value

NOT_CALLABLE = 3
"""


def _study_yaml(module: str, storage: str, function: str = "objective", extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        objective: {module}:{function}
        space:
          x:   {{type: float, low: -2.0, high: 2.0}}
          n:   {{type: int, low: 1, high: 8, log: true}}
          act: {{type: categorical, choices: [relu, tanh]}}
        direction: minimize
        seed: 0
        n_startup_trials: 100
        budget:
          n_trials: 12
        storage: {storage}
        study_name: toy
        """
    ) + textwrap.dedent(extra)


class Project:
    """A folder with a toy objective module and a study file in it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.module = f"toy_{uuid.uuid4().hex[:10]}"
        (folder / f"{self.module}.py").write_text(TOY)
        self.db = folder / "study.db"
        self.storage = f"sqlite:///{self.db}"

    def write(self, text: str | None = None, name: str = "study.yaml", **kw: str) -> Path:
        path = self.folder / name
        path.write_text(_study_yaml(self.module, self.storage, **kw) if text is None else text)
        return path

    def trials(self, name: str = "toy") -> list[optuna.trial.FrozenTrial]:
        return optuna.load_study(study_name=name, storage=self.storage).get_trials()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures the ``hpo`` logger and Optuna's verbosity as a CLI process should; undo it per test."""
    verbosity = optuna.logging.get_verbosity()
    logger = logging.getLogger("hpo")
    level, handlers = logger.level, list(logger.handlers)
    yield
    optuna.logging.set_verbosity(verbosity)
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CLI prepends the study's folder
    return Project(tmp_path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One completed 12-trial study, shared by the read-only show/plot tests."""
    p = Project(tmp_path_factory.mktemp("finished"))
    saved = list(sys.path)
    try:
        assert main(["run", str(p.write()), "--no-progress"]) == 0
    finally:
        sys.path[:] = saved
    return p


# ---------------------------------------------------------------------------------------------------- run
def test_run_stores_trials_optuna_can_read(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(project.write()), "--no-progress"]) == 0
    trials = project.trials()
    assert len(trials) == 12
    assert all(t.state.name == "COMPLETE" for t in trials)
    out = capsys.readouterr().out
    assert "best 5 trial(s) of study 'toy'" in out
    assert f"hpo show --storage {project.storage} --study-name toy" in out
    assert "12 COMPLETE" in out


def test_n_trials_is_the_total_so_a_rerun_resumes(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(project.write())
    assert main(["run", path, "--no-progress", "--n-trials", "5"]) == 0
    assert len(project.trials()) == 5
    capsys.readouterr()
    assert main(["run", path, "--no-progress", "--n-trials", "5"]) == 0
    assert len(project.trials()) == 5
    assert "nothing to run" in capsys.readouterr().out
    assert main(["run", path, "--no-progress"]) == 0  # the file's n_trials: 12
    assert len(project.trials()) == 12
    assert "5 of 12 trials finished, running 7 more" in capsys.readouterr().out


def test_ctrl_c_saves_and_says_how_to_resume(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(project.write(function="interrupted"))
    assert main(["run", path, "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "is saved in" in err and f"hpo run {path}" in err
    states = [t.state.name for t in project.trials()]
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    assert main(["run", path, "--no-progress"]) == 0
    assert len(project.trials()) == 12


def test_yaml_in_another_folder_from_another_cwd(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = Project(project.folder / "studies" / "toy")
    path = elsewhere.write(_study_yaml(elsewhere.module, "sqlite:///here.db"))
    cwd = project.folder / "somewhere" / "else"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    assert main(["run", os.path.relpath(path, cwd), "--no-progress", "--n-trials", "3"]) == 0
    assert (cwd / "here.db").exists()  # a relative SQLite path is relative to the cwd, as in SQLAlchemy
    assert len(optuna.load_study(study_name="toy", storage="sqlite:///here.db").trials) == 3


def test_declared_constraints_are_stored(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    path = project.write(function="constrained", extra="constraints: [c]\n")
    assert main(["run", str(path), "--no-progress", "--n-trials", "6"]) == 0
    trials = project.trials()
    assert all(t.state.name == "COMPLETE" and set(t.constraints) == {"c"} for t in trials)
    out = capsys.readouterr().out
    assert "feasible (c=" in out


@pytest.mark.parametrize(
    ("function", "extra", "expected"),
    [
        ("wrong_name", "constraints: [c]\n", "constraints ['cc'] for trial 0 are not declared"),
        ("constrained", "", "constraints ['c'] for trial 0 are not declared"),  # the file declares none
        ("objective", "constraints: [c]\n", "constraint value(s) missing for ['c']"),
    ],
)
def test_constraint_names_must_match_the_declaration(
    project: Project, capsys: pytest.CaptureFixture[str], function: str, extra: str, expected: str
) -> None:
    path = project.write(function=function, extra=extra)
    assert main(["run", str(path), "--no-progress", "--n-trials", "2"]) == 0
    assert [t.state.name for t in project.trials()] == ["FAIL", "FAIL"]
    err = capsys.readouterr().err
    assert "hpo: warning: trial 0 failed" in err and expected in err, err


def test_fidelity_passes_a_trial_handle_and_plots_intermediate_values(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project.write(function="by_epoch", extra="fidelity: {min: 1, max: 9, eta: 3}\n")
    assert main(["run", str(path), "--no-progress"]) == 0
    trials = project.trials()
    assert len(trials) == 12 and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    assert all(t.intermediate_values for t in trials)
    assert main(["plot", "--storage", project.storage, "-o", "mf.html"]) == 0
    assert Path("mf.html").read_text().count("Plotly.newPlot") == 2


# ---------------------------------------------------------------------------------------------------- errors
_BAD = [
    ("n_trial: 3\n", "unknown key 'n_trial' at the top level (did you mean 'n_trials' under budget:?)", None),
    ("timeout: 3\n", "unknown key 'timeout' at the top level (it belongs under budget:)", None),
    ("studyname: x\n", "unknown key 'studyname' at the top level (did you mean 'study_name'?)", None),
    ("budget: {n_trial: 3}\n", "unknown key 'n_trial' in budget (did you mean 'n_trials'?)", "budget"),
    ("budget: {n_trials: ten}\n", "budget.n_trials: 'ten' must be an integer", "budget"),
    ("budget: {timeout: -1}\n", "budget.timeout: -1 must be > 0", "budget"),
    ("direction: up\n", "direction: 'up' must be one of ['minimize', 'maximize']", "direction"),
    ("surrogate: gpp\n", "surrogate: surrogate='gpp' is not one of", None),
    ("fidelity: {min: 1, max: 27, etaa: 3}\n", "unknown key 'etaa' in fidelity (did you mean 'eta'?)", None),
    (
        "fidelity: {min: 1, max: 27, eta: 1}\n",
        "fidelity.eta: Fidelity(eta=1): eta must be an integer >= 2",
        None,
    ),
    ("constraints: mem\n", "constraints: 'mem' must be a list of constraint names", None),
]


@pytest.mark.parametrize(("extra", "expected", "replaces"), _BAD)
def test_bad_top_level_and_nested_keys(
    project: Project, capsys: pytest.CaptureFixture[str], extra: str, expected: str, replaces: str | None
) -> None:
    text = _study_yaml(project.module, project.storage)
    if replaces is not None:  # drop the file's own entry so the bad one is the only one
        lines = text.splitlines(keepends=True)
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{replaces}:"))
        end = start + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        text = "".join(lines[:start] + lines[end:])
    assert main(["run", str(project.write(text + extra))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hpo: error: ") and expected in err, err
    assert not project.db.exists()  # validation happens before anything is written


@pytest.mark.parametrize(
    ("x_spec", "expected"),
    [
        ("{type: float, low: 2.0, high: -2.0}", "space.x.low: Float(low=2.0, high=-2.0): low must be < high"),
        ("{type: float, low: 0, high: 1e-1, log: true}", "space.x.low: Float(low=0, high=0.1, log=True)"),
        ("{type: float, low: abc, high: 1}", "space.x.low: 'abc' must be a number"),
        ("{type: float, low: 0, high: 1, log: maybe}", "space.x.log: 'maybe' must be true or false"),
        ("{type: int, low: 0.5, high: 3}", "space.x.low: Int(low=0.5): low must be an integer"),
        ("{type: flaot, low: 0, high: 1}", "space.x.type: 'flaot' must be one of"),
        ("{type: float, lo: 0, high: 1}", "unknown key 'lo' in space.x (did you mean 'low'?)"),
        ("{type: float, high: 1}", "space.x: missing key 'low' for type: float"),
        ("{type: categorical, choices: []}", "space.x.choices: Categorical(choices=[])"),
        ("[0, 1]", "space.x: [0, 1] must be a mapping"),
    ],
)
def test_bad_space_entries(
    project: Project, capsys: pytest.CaptureFixture[str], x_spec: str, expected: str
) -> None:
    text = _study_yaml(project.module, project.storage).replace("{type: float, low: -2.0, high: 2.0}", x_spec)
    assert main(["run", str(project.write(text))]) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert not project.db.exists()


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        ("no_such_module_xyz:objective", "objective: module 'no_such_module_xyz' not found (looked in"),
        ("{module}:objectiv", "has no attribute 'objectiv' (did you mean 'objective'?)"),
        ("{module}:NOT_CALLABLE", "objective: '{module}:NOT_CALLABLE' is a int (3), not a callable"),
        ("{module}", "objective: '{module}' must look like 'package.module:function'"),
    ],
)
def test_bad_objective(
    project: Project, capsys: pytest.CaptureFixture[str], objective: str, expected: str
) -> None:
    text = _study_yaml(project.module, project.storage).replace(
        f"objective: {project.module}:objective", f"objective: {objective.format(module=project.module)}"
    )
    assert main(["run", str(project.write(text))]) == 2
    assert expected.format(module=project.module) in capsys.readouterr().err
    assert not project.db.exists()


def test_duplicate_key_and_missing_budget(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    text = _study_yaml(project.module, project.storage)
    assert main(["run", str(project.write(text + "seed: 1\n"))]) == 2
    assert "duplicate key 'seed'" in capsys.readouterr().err
    no_budget = text.replace("budget:\n  n_trials: 12\n", "")
    assert main(["run", str(project.write(no_budget))]) == 2
    assert "budget: give n_trials or timeout" in capsys.readouterr().err
    assert not project.db.exists()


def test_an_existing_study_with_another_direction_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(project.write()), "--no-progress", "--n-trials", "2"]) == 0
    flipped = _study_yaml(project.module, project.storage).replace(
        "direction: minimize", "direction: maximize"
    )
    assert main(["run", str(project.write(flipped)), "--no-progress"]) == 2
    assert "already exists with directions ['minimize']" in capsys.readouterr().err
    assert len(project.trials()) == 2


# ---------------------------------------------------------------------------------------------------- show / plot
def test_show_text_and_json(finished: Project, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["show", "--storage", finished.storage, "--study-name", "toy", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "best 3 trial(s) of study 'toy'" in out and "trials: 12 COMPLETE" in out
    assert main(["show", "--storage", finished.storage, "--json"]) == 0  # the only study: no name needed
    data = json.loads(capsys.readouterr().out)
    assert data["study_name"] == "toy" and data["states"] == {"COMPLETE": 12}
    values = [t["value"] for t in data["best_trials"]]
    assert len(values) == 5 and values == sorted(values)
    best = min(finished.trials(), key=lambda t: t.value)
    assert data["best_trials"][0]["number"] == best.number
    assert data["best_trials"][0]["params"] == best.params


def test_show_lists_studies_when_the_name_is_ambiguous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'two.db'}"
    for name in ("a", "b"):
        optuna.create_study(storage=storage, study_name=name)
    assert main(["show", "--storage", storage]) == 2
    err = capsys.readouterr().err
    assert "holds 2 studies" in err and "  a\n" in err and "  b\n" in err
    assert main(["show", "--storage", storage, "--study-name", "c"]) == 2
    assert "no study named 'c'" in capsys.readouterr().err
    missing = tmp_path / "missing.db"
    assert main(["show", "--storage", f"sqlite:///{missing}"]) == 2
    assert not missing.exists()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plain Optuna study (no hpo config) with intermediate values and only infeasible trials."""
    storage = f"sqlite:///{tmp_path_factory.mktemp('plain') / 'plain.db'}"
    study = optuna.create_study(storage=storage, study_name="plain", sampler=optuna.samplers.RandomSampler(0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(3):
            trial.report(x / (step + 1), step)
        trial.set_constraint("c", 1.0 + x)
        return x

    study.optimize(objective, n_trials=4)
    return storage


def test_show_plain_optuna_study_without_feasible_trial(
    plain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--storage", plain]) == 0
    out = capsys.readouterr().out
    assert "no feasible trial" in out and "infeasible (c=" in out
    assert main(["show", "--storage", plain, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created_by_hpo"] is False and data["feasible_found"] is False


def test_show_says_declared_infeasible(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(project.write()), "--no-progress", "--n-trials", "2"]) == 0
    optuna.load_study(study_name="toy", storage=project.storage).set_user_attr(
        "hpo:declared_infeasible", True
    )
    capsys.readouterr()
    assert main(["show", "--storage", project.storage]) == 0
    assert "declared infeasible" in capsys.readouterr().out


def test_plot_html_and_png(finished: Project, plain: str, tmp_path: Path) -> None:
    html, png = tmp_path / "h.html", tmp_path / "h.png"
    assert main(["plot", "--storage", finished.storage, "--study-name", "toy", "-o", str(html)]) == 0
    assert main(["plot", "--storage", finished.storage, "-o", str(png)]) == 0
    assert html.read_text().count("Plotly.newPlot") == 1
    assert png.read_bytes().startswith(b"\x89PNG")
    # with intermediate values: a second figure in the page, a second .png next to the first
    assert main(["plot", "--storage", plain, "-o", str(tmp_path / "p.html")]) == 0
    assert (tmp_path / "p.html").read_text().count("Plotly.newPlot") == 2
    assert main(["plot", "--storage", plain, "-o", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p-intermediate.png").exists()


def test_plot_rejects_other_extensions(finished: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "--storage", finished.storage, "-o", "x.jpg"]) == 2
    assert "must end in .html" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- console script
def test_console_script_with_two_workers_from_another_cwd(tmp_path: Path) -> None:
    """The installed ``hpo`` script; spawned workers must import the objective from the YAML's folder."""
    script = Path(sys.executable).parent / "hpo"
    if not script.exists():
        pytest.skip("the hpo console script is not installed next to this interpreter")
    p = Project(tmp_path / "study")
    path = p.write()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [str(script), "run", str(path), "--n-trials", "4", "--n-workers", "2", "--no-progress"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert [t.state.name for t in p.trials()] == ["COMPLETE"] * 4
    assert "hpo show --storage" in res.stdout
