"""The ``hpo`` command line: run a study described by a YAML file, show it, plot it.

::

    hpo run STUDY.yaml [--storage URL] [--study-name NAME] [--n-trials N] [--n-workers K] [--timeout S]
    hpo show [--storage URL] [--study-name NAME] [--top K] [--json]
    hpo plot [--storage URL] [--study-name NAME] -o FILE.html|FILE.png

Why it is shaped this way:

* **Validate first, write later.** The whole YAML file (every key, every bound, the objective's import) is checked
  before the storage is opened, so a typo never leaves a half-created study or an empty ``hpo.db`` behind. Each
  problem is reported once, as ``hpo: error: <key path>: <value> ...``, with exit code 2 (argparse's usage code).
  Bounds are checked by :mod:`hpo.space` itself; this module only adds the key path.
* **The budget is a total.** ``budget.n_trials`` is the number of finished trials the study should end with, so
  running the same command after an interruption runs only the remainder: the storage, not this process, knows
  how far the study got.
* **Only the API touches the study.** Everything goes through :func:`hpo.create_study` / :func:`hpo.load_study`
  (or plain Optuna for ``show``/``plot`` of studies hpo did not create), so the CLI, the Python API and the
  Optuna plugin cannot drift apart. Options the API does not support yet (``fidelity``) fail with the API's own
  message.

The YAML schema is documented in ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import logging
import math
import os
import re
import shlex
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from hpo.study import Study

__all__ = ["CLIError", "StudyConfig", "load_config", "main"]

DEFAULT_STORAGE = (
    "sqlite:///hpo.db"  # same as hpo.storage.DEFAULT_STORAGE; not imported, to keep start-up light
)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

_log = logging.getLogger("hpo")

_TOP_KEYS = (
    "objective",
    "space",
    "direction",
    "directions",
    "surrogate",
    "acquisition",
    "seed",
    "n_startup_trials",
    "fidelity",
    "constraints",
    "budget",
    "storage",
    "study_name",
)
_BUDGET_KEYS = ("n_trials", "timeout", "n_workers")
_FIDELITY_KEYS = ("min", "max", "eta", "brackets")
_PARAM_KEYS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}
_DIRECTIONS = ("minimize", "maximize")
_FINISHED = ("COMPLETE", "PRUNED", "FAIL")  # trial states that count towards budget.n_trials
_OBJECTIVE_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class CLIError(Exception):
    """A problem the user can fix; printed as ``hpo: error: <message>`` and turned into ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------------------------------- YAML loading
class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with two fixes that matter for search spaces.

    * ``1e-5`` is a float (YAML 1.1 reads it as the *string* "1e-5" because it lacks a dot, the most common way to
      write a log-scale bound);
    * a repeated key is an error instead of silently keeping the last value (two ``lr:`` entries in a space are
      always a mistake).
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise CLIError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# ---------------------------------------------------------------------------------------------------- validation
@dataclass
class StudyConfig:
    """A validated STUDY.yaml, after command-line overrides. Bounds and names are already checked."""

    path: Path
    objective: str
    space: dict[str, Any]
    directions: list[str]
    surrogate: str = "gp"
    acquisition: str = "auto"
    seed: int | None = None
    n_startup_trials: int | None = None
    fidelity: Any = None
    constraints: list[str] = field(default_factory=list)
    n_trials: int | None = None
    timeout: float | None = None
    n_workers: int = 1
    storage: str = DEFAULT_STORAGE
    study_name: str = ""


def _suggest(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(allowed)})"


def _check_keys(
    data: Mapping[str, Any], allowed: Sequence[str], where: str, nested: Mapping[str, str] | None = None
) -> None:
    """Reject the first unknown key, suggesting the closest allowed one; ``nested`` maps keys that belong to a
    sub-section (``n_trials`` -> ``budget``), so a key written one level too high gets pointed to its place."""
    nested = nested or {}
    for key in data:
        if key in allowed:
            continue
        if key in nested:
            raise CLIError(f"unknown key {key!r} {where} (it belongs under {nested[key]}:)")
        close = difflib.get_close_matches(str(key), [*allowed, *nested], n=1)
        if close and close[0] in nested:
            hint = f" (did you mean {close[0]!r} under {nested[close[0]]}:?)"
        else:
            hint = _suggest(key, allowed)
        raise CLIError(f"unknown key {key!r} {where}{hint}")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CLIError(f"{path}: {value!r} must be a mapping (key: value lines)")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, path: str, minimum: int) -> int:
    if not _is_int(value):
        raise CLIError(f"{path}: {value!r} must be an integer")
    if value < minimum:
        raise CLIError(f"{path}: {value!r} must be >= {minimum}")
    return int(value)


def _positive(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CLIError(f"{path}: {value!r} must be a finite number")
    if value <= 0:
        raise CLIError(f"{path}: {value!r} must be > 0")
    return float(value)


def _string(value: Any, path: str, choices: Sequence[str] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise CLIError(f"{path}: {value!r} must be a non-empty string")
    if choices is not None and value not in choices:
        raise CLIError(f"{path}: {value!r} must be one of {list(choices)!r}{_suggest(value, choices)}")
    return value


def _param(name: str, spec: Any) -> Any:
    """One ``space`` entry -> ``hpo.Float | hpo.Int | hpo.Categorical``; errors name ``space.<name>.<key>``."""
    from hpo.space import Categorical, Float, Int

    path = f"space.{name}"
    spec = _mapping(spec, path)
    if "type" not in spec:
        raise CLIError(f"{path}: missing key 'type' (one of: {', '.join(_PARAM_KEYS)})")
    kind = _string(spec["type"], f"{path}.type", list(_PARAM_KEYS))
    _check_keys(spec, _PARAM_KEYS[kind], f"in {path}")
    try:
        if kind == "categorical":
            if "choices" not in spec:
                raise CLIError(f"{path}: missing key 'choices' for type: categorical")
            if not isinstance(spec["choices"], list):
                raise CLIError(f"{path}.choices: {spec['choices']!r} must be a list")
            return Categorical(spec["choices"])
        for key in ("low", "high"):
            if key not in spec:
                raise CLIError(f"{path}: missing key {key!r} for type: {kind}")
        for key in ("low", "high", "step"):
            value = spec.get(key)
            if isinstance(value, bool) or isinstance(value, str):  # YAML's yes/no, quoted numbers
                raise CLIError(f"{path}.{key}: {value!r} must be a number")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise CLIError(f"{path}.log: {log!r} must be true or false")
        if kind == "float":
            return Float(spec["low"], spec["high"], log=log, step=spec.get("step"))
        return Int(spec["low"], spec["high"], log=log, step=1 if spec.get("step") is None else spec["step"])
    except (ValueError, TypeError) as e:
        # hpo.space names the offending argument first ("low must be > 0 ..."): add it to the key path
        msg = str(e)
        m = re.search(r"(?:\):\s*|^)(low|high|step|log)\b", msg)
        key = "choices" if kind == "categorical" else m.group(1) if m else None
        raise CLIError(f"{path}.{key}: {msg}" if key else f"{path}: {msg}") from None


def _directions(data: Mapping[str, Any]) -> list[str]:
    if "direction" in data and "directions" in data:
        raise CLIError("give either 'direction' or 'directions', not both")
    if "directions" in data:
        dirs = data["directions"]
        if not isinstance(dirs, list) or not dirs:
            raise CLIError(f"directions: {dirs!r} must be a non-empty list of 'minimize' / 'maximize'")
        return [_string(d, f"directions[{i}]", _DIRECTIONS) for i, d in enumerate(dirs)]
    return [_string(data.get("direction", "minimize"), "direction", _DIRECTIONS)]


def _constraints(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise CLIError(f"constraints: {value!r} must be a list of constraint names")
    names = [_string(v, f"constraints[{i}]") for i, v in enumerate(value)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CLIError(f"constraints: {twice[0]!r} is listed twice")
    return names


def _fidelity(value: Any) -> Any:
    """``{min, max, eta, brackets}`` -> ``hpo.Fidelity``, whose own checks name the bad argument."""
    import hpo

    spec = _mapping(value, "fidelity")
    _check_keys(spec, _FIDELITY_KEYS, "in fidelity")
    for key in ("min", "max"):
        if key not in spec:
            raise CLIError(f"fidelity: missing key {key!r}")
    try:
        return hpo.Fidelity(**spec)
    except (ValueError, TypeError) as e:
        msg = str(e)
        m = re.search(r"Fidelity\((min|max|eta|brackets)=", msg)
        raise CLIError(f"fidelity.{m.group(1)}: {msg}" if m else f"fidelity: {msg}") from None


def _options(surrogate: Any, acquisition: Any, n_startup_trials: Any) -> None:
    """Check the proposer options with the scheduler's own validation (the registries know the names);
    ``n_startup_trials: null`` (the default) leaves the Sobol design's length to the surrogate."""
    from hpo.scheduler import Proposer

    surrogate = _string(surrogate, "surrogate")
    acquisition = _string(acquisition, "acquisition")
    if n_startup_trials is not None:
        _int(n_startup_trials, "n_startup_trials", 1)
    for key, kwargs in (
        ("surrogate", {"surrogate": surrogate}),
        ("acquisition", {"surrogate": surrogate, "acquisition": acquisition}),
    ):
        try:
            Proposer(**kwargs)
        except ValueError as e:
            raise CLIError(f"{key}: {e}") from None


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """Read and validate STUDY.yaml; ``overrides`` (command-line flags, None = not given) win over the file.

    Nothing is imported from the objective's module and nothing is written here; see :func:`import_objective`.

    Raises:
        CLIError: the first problem found, naming its key path and value.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise CLIError(f"cannot read {str(p)!r}: {e.strerror or e}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise CLIError(f"{p}: not valid YAML: {e}") from None
    except CLIError as e:
        raise CLIError(f"{p}: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise CLIError(f"{p}: the top level must be a mapping (key: value lines), not {type(data).__name__}")
    _check_keys(data, _TOP_KEYS, "at the top level", {k: "budget" for k in _BUDGET_KEYS})
    for key in ("objective", "space"):
        if key not in data:
            raise CLIError(f"missing key {key!r} at the top level of {p}")
    objective = _string(data["objective"], "objective")
    if not _OBJECTIVE_SPEC.match(objective):
        raise CLIError(f"objective: {objective!r} must look like 'package.module:function'")
    space_spec = _mapping(data["space"], "space")
    if not space_spec:
        raise CLIError("space: at least one parameter is required")
    space = {str(name): _param(str(name), spec) for name, spec in space_spec.items()}
    cfg = StudyConfig(path=p, objective=objective, space=space, directions=_directions(data))
    _options(
        data.get("surrogate", cfg.surrogate),
        data.get("acquisition", cfg.acquisition),
        data.get("n_startup_trials", cfg.n_startup_trials),
    )
    cfg.surrogate = data.get("surrogate", cfg.surrogate)
    cfg.acquisition = data.get("acquisition", cfg.acquisition)
    cfg.n_startup_trials = data.get("n_startup_trials", cfg.n_startup_trials)
    if data.get("seed") is not None:
        cfg.seed = _int(data["seed"], "seed", 0)
    if data.get("fidelity") is not None:
        cfg.fidelity = _fidelity(data["fidelity"])
    if data.get("constraints") is not None:
        cfg.constraints = _constraints(data["constraints"])
    budget = _mapping(data.get("budget") or {}, "budget")
    _check_keys(budget, _BUDGET_KEYS, "in budget")
    if budget.get("n_trials") is not None:
        cfg.n_trials = _int(budget["n_trials"], "budget.n_trials", 1)
    if budget.get("timeout") is not None:
        cfg.timeout = _positive(budget["timeout"], "budget.timeout")
    if budget.get("n_workers") is not None:
        cfg.n_workers = _int(budget["n_workers"], "budget.n_workers", 1)
    cfg.storage = _string(data.get("storage", cfg.storage), "storage")
    cfg.study_name = _string(data.get("study_name", p.stem), "study_name")
    for key, value in (overrides or {}).items():
        if value is not None:
            setattr(cfg, key, value)
    if cfg.n_trials is None and cfg.timeout is None:
        raise CLIError(
            "budget: give n_trials or timeout (in the file's budget: or as --n-trials / --timeout)"
        )
    return cfg


# ---------------------------------------------------------------------------------------------------- objective
def _search_path(yaml_dir: Path) -> list[str]:
    """The folders an objective module is looked up in, in order: the YAML file's folder, then the cwd."""
    out: list[str] = []
    for d in (yaml_dir.resolve(), Path.cwd().resolve()):
        if str(d) not in out:
            out.append(str(d))
    return out


def import_objective(spec: str, yaml_dir: Path) -> Callable[..., Any]:
    """Import ``package.module:function`` with the YAML file's folder and the cwd in front of ``sys.path``.

    Raises:
        CLIError: the module is missing or fails to import, the attribute is missing, or it is not callable.
    """
    module_name, _, attr = spec.partition(":")
    dirs = _search_path(yaml_dir)
    for d in reversed(dirs):
        if d in sys.path:
            sys.path.remove(d)
        sys.path.insert(0, d)
    importlib.invalidate_caches()  # a module written after the last import (tests, generated code)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise CLIError(
                f"objective: module {module_name!r} not found (looked in {', '.join(dirs)} and on sys.path)"
            ) from None
        raise CLIError(f"objective: importing {module_name!r} failed: {type(e).__name__}: {e}") from None
    except Exception as e:  # the user's module raised while importing: show what, not our traceback
        raise CLIError(f"objective: importing {module_name!r} failed: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            where = getattr(module, "__file__", module_name)
            raise CLIError(f"objective: {module_name!r} ({where}) has no attribute {part!r}{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CLIError(f"objective: {spec!r} is a {type(obj).__name__} ({obj!r:.60}), not a callable")
    return obj


class WorkerObjective:
    """The user's objective as the CLI hands it to :meth:`hpo.Study.optimize`.

    Picklable (the function by reference, found through the search path), so ``n_workers > 1`` can ship it to
    spawned workers; unpickling it in a worker also sets up that worker's logging like the parent's, so a worker
    reports failed trials as the same one-line warnings and keeps Optuna's per-trial INFO lines quiet.
    """

    def __init__(self, function: Callable[..., Any], verbose: bool = False) -> None:
        self.function = function
        self.verbose = verbose

    def __call__(self, arg: Any) -> Any:
        return self.function(arg)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        _configure_logging(self.verbose)
        if not self.verbose:
            warnings.showwarning = _show_warning  # a worker process: nothing to restore afterwards


# ---------------------------------------------------------------------------------------------------- logging
class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (pytest's capsys and redirections swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"hpo: {record.levelname.lower()}: {record.getMessage()}"


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Python warnings (e.g. CONFIG's "declared infeasible") as one ``hpo: warning:`` line, without the source
    line a user cannot act on."""
    print(f"hpo: warning: {message}", file=sys.stderr)


def _configure_logging(verbose: bool) -> None:
    """``hpo`` warnings (failed trials) as one line each on stderr; Optuna's per-trial INFO lines off unless
    ``--verbose``: the progress bar and the final table say the same more compactly."""
    logger = logging.getLogger("hpo")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)


# ---------------------------------------------------------------------------------------------------- storage access
def _check_storage_exists(url: str) -> None:
    """``show``/``plot`` only read: refuse a SQLite or journal file that does not exist instead of creating it."""
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        db = make_url(url).database
        if db and db != ":memory:" and not Path(db).exists():
            raise CLIError(f"storage {url!r}: no such file {db!r} (run 'hpo run STUDY.yaml' first?)")
    elif "://" not in url and not Path(url).exists():
        raise CLIError(f"storage {url!r}: no such file")


def _open_storage(url: str) -> Any:
    from hpo.storage import resolve_storage

    _check_storage_exists(url)
    try:
        return resolve_storage(url)
    except ValueError as e:
        raise CLIError(str(e)) from None


def _pick_study_name(storage: Any, url: str, name: str | None) -> str:
    """``name``, or the only study in the storage; otherwise list the studies (exit 2)."""
    import optuna

    names = optuna.get_all_study_names(storage)
    if name is not None:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listing = ", ".join(repr(n) for n in names) or "none"
            raise CLIError(f"no study named {name!r} in {url}{hint}; its studies: {listing}")
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise CLIError(f"storage {url} holds no study")
    listing = "\n".join(f"  {n}" for n in names)
    raise CLIError(f"storage {url} holds {len(names)} studies; pick one with --study-name:\n{listing}")


def _load(url: str, name: str | None) -> tuple[optuna.Study, Study | None]:
    """The Optuna study and, when hpo created it, the hpo :class:`~hpo.study.Study` around it."""
    import optuna

    from hpo import storage as hpo_storage
    from hpo.study import load_study

    storage = _open_storage(url)
    study_name = _pick_study_name(storage, url, name)
    ostudy = optuna.load_study(study_name=study_name, storage=storage)
    if hpo_storage.read_config(ostudy) is None:
        return ostudy, None
    try:
        study = load_study(study_name=study_name, storage=storage)
    except (
        ValueError,
        TypeError,
        KeyError,
    ) as e:  # e.g. a config this version cannot rebuild: still readable
        _log.warning("study %r: reading it as a plain Optuna study (%s)", study_name, e)
        return ostudy, None
    return study.optuna_study, study


# ---------------------------------------------------------------------------------------------------- ranking
def _feasible(t: FrozenTrial) -> bool:
    return all(v <= 0.0 for v in t.constraints.values())


def _best_trials(ostudy: optuna.Study, study: Study | None, k: int) -> list[FrozenTrial]:
    """Up to ``k`` COMPLETE trials, best first, feasible before infeasible.

    hpo studies use the API's own ranking; plain Optuna studies get the same order from their trials; several
    objectives give the Pareto front (Optuna's ``best_trials``, feasible trials only)."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    if len(ostudy.directions) > 1:
        return sorted(ostudy.best_trials, key=lambda t: t.number)[:k]
    if study is not None:
        return study.best_trials_table(k)
    sign = -1.0 if ostudy.direction == StudyDirection.MAXIMIZE else 1.0
    done = [
        t
        for t in ostudy.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value)
    ]
    return sorted(done, key=lambda t: (not _feasible(t), sign * t.value, t.number))[:k]


def _state_counts(ostudy: optuna.Study) -> dict[str, int]:
    counts = Counter(t.state.name for t in ostudy.get_trials(deepcopy=False))
    return dict(sorted(counts.items()))


def _n_finished(ostudy: optuna.Study) -> int:
    return sum(1 for t in ostudy.get_trials(deepcopy=False) if t.state.name in _FINISHED)


def _has_constraints(ostudy: optuna.Study, declared: Sequence[str] = ()) -> bool:
    return bool(declared) or any(t.constraints for t in ostudy.get_trials(deepcopy=False))


def _declared_infeasible(ostudy: optuna.Study, study: Study | None) -> bool:
    if study is not None:
        return study.declared_infeasible
    return bool(ostudy.user_attrs.get("hpo:declared_infeasible", False))


def _finite(v: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    return v if not isinstance(v, float) or math.isfinite(v) else None


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


# ---------------------------------------------------------------------------------------------------- output
def _console() -> Any:
    from rich.console import Console

    # not a terminal (pipes, CI logs): wide enough that a params column does not wrap mid-name
    # markup off: study names, URLs and parameter values are printed as they are, brackets included
    return Console(highlight=False, markup=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)


def _print_best(ostudy: optuna.Study, study: Study | None, k: int, declared: Sequence[str] = ()) -> None:
    """The best-trials table and the study's state counts, or a sentence saying why there is nothing to rank."""
    from rich.table import Table
    from rich.text import Text

    console = _console()
    best = _best_trials(ostudy, study, k)
    constrained = _has_constraints(ostudy, declared)
    multi = len(ostudy.directions) > 1
    if _declared_infeasible(ostudy, study):
        console.print(
            Text.assemble(
                ("declared infeasible", "bold red"), ": CONFIG found no configuration meeting the constraints"
            )
        )
    if not best:
        console.print(f"study {ostudy.study_name!r} has no complete trial yet")
    elif constrained and not _feasible(best[0]):
        console.print(
            Text.assemble(
                ("no feasible trial", "bold red"), " among the complete ones; least infeasible first:"
            )
        )
    if best:
        title = "Pareto-optimal trials" if multi else f"best {len(best)} trial(s)"
        table = Table(title=f"{title} of study {ostudy.study_name!r}", title_justify="left")
        table.add_column("trial", justify="right")
        table.add_column("values" if multi else "value", justify="right")
        table.add_column("params", overflow="fold")
        table.add_column("state", overflow="fold")
        for t in best:
            state = t.state.name
            if t.constraints:
                cons = ", ".join(f"{n}={_fmt(v)}" for n, v in t.constraints.items())
                state += f", {'feasible' if _feasible(t) else 'infeasible'} ({cons})"
            value = ", ".join(_fmt(v) for v in t.values) if multi else _fmt(t.value)
            params = ", ".join(f"{n}={_fmt(v)}" for n, v in t.params.items())
            table.add_row(str(t.number), value, params, state)
        console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in _state_counts(ostudy).items()) or "none"
    console.print(f"trials: {counts}")


def _study_json(ostudy: optuna.Study, study: Study | None, url: str, k: int) -> dict[str, Any]:
    best = _best_trials(ostudy, study, k)
    constrained = _has_constraints(ostudy)
    return {
        "study_name": ostudy.study_name,
        "storage": url,
        "created_by_hpo": study is not None,
        "directions": [d.name.lower() for d in ostudy.directions],
        "n_trials": len(ostudy.get_trials(deepcopy=False)),
        "states": _state_counts(ostudy),
        "has_constraints": constrained,
        "feasible_found": bool(best) and _feasible(best[0]) if constrained else None,
        "declared_infeasible": _declared_infeasible(ostudy, study),
        "best_trials": [
            {
                "number": t.number,
                "value": _finite(t.value) if len(ostudy.directions) == 1 else None,
                "values": [_finite(v) for v in t.values],
                "params": t.params,
                "state": t.state.name,
                "feasible": _feasible(t),
                "constraints": {n: _finite(v) for n, v in t.constraints.items()},
                "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
            }
            for t in best
        ],
    }


def _study_cmd(command: str, url: str, name: str) -> str:
    """A copy-pastable ``hpo show`` / ``hpo plot`` command line for a study."""
    return f"hpo {command} --storage {shlex.quote(url)} --study-name {shlex.quote(name)}"


# ---------------------------------------------------------------------------------------------------- commands
def _cmd_run(args: argparse.Namespace) -> int:
    overrides = {
        "storage": args.storage,
        "study_name": args.study_name,
        "n_trials": args.n_trials,
        "n_workers": args.n_workers,
        "timeout": args.timeout,
        "seed": args.seed,
    }
    cfg = load_config(args.study, overrides)
    function = import_objective(cfg.objective, cfg.path.parent)
    if cfg.n_workers > 1:
        import pickle

        try:  # checked here, before the study exists, rather than by optimize() after it was created
            pickle.dumps(function)
        except Exception as e:
            raise CLIError(
                f"objective: {cfg.objective!r} cannot be sent to worker processes (n_workers={cfg.n_workers}):"
                f" {type(e).__name__}: {e}; use a module-level function"
            ) from None
        # spawned workers unpickle the objective by module name: let them (and their own children) find it
        dirs = _search_path(cfg.path.parent)
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(dirs + ([old] if old else []))

    import hpo

    direction_kw: dict[str, Any] = (
        {"direction": cfg.directions[0]} if len(cfg.directions) == 1 else {"directions": cfg.directions}
    )
    try:
        study: Study = hpo.create_study(
            space=cfg.space,
            **direction_kw,
            storage=cfg.storage,
            study_name=cfg.study_name,
            load_if_exists=True,
            surrogate=cfg.surrogate,
            fidelity=cfg.fidelity,
            seed=cfg.seed,
            acquisition=cfg.acquisition,
            n_startup_trials=cfg.n_startup_trials,
            constraints=cfg.constraints,  # the file is the whole declaration: none declared means none allowed
        )
    except (ValueError, TypeError, KeyError) as e:
        raise CLIError(str(e).strip("\"'")) from None
    stored = study.directions
    if stored != cfg.directions:
        raise CLIError(
            f"direction: the study {cfg.study_name!r} in {cfg.storage} already exists with directions {stored!r},"
            f" not {cfg.directions!r}; use another study_name"
        )
    console = _console()
    done = _n_finished(study.optuna_study)
    n_trials = None if cfg.n_trials is None else max(cfg.n_trials - done, 0)
    if done:
        target = f" of {cfg.n_trials}" if cfg.n_trials is not None else ""
        console.print(
            f"resuming study {cfg.study_name!r} in {cfg.storage}: {done}{target} trials finished"
            + (f", running {n_trials} more" if n_trials else "")
        )
    else:
        what = f"{cfg.n_trials} trials" if cfg.n_trials is not None else "trials"
        limit = f" for at most {cfg.timeout:g} s" if cfg.timeout is not None else ""
        console.print(f"study {cfg.study_name!r} in {cfg.storage}: running {what}{limit}")
    if n_trials == 0:
        console.print(
            f"the study already has {done} finished trials (budget.n_trials={cfg.n_trials}); nothing to run."
            " Raise --n-trials to run more."
        )
    else:
        objective = WorkerObjective(function, verbose=args.verbose)
        try:
            study.optimize(
                objective,
                n_trials=n_trials,
                timeout=cfg.timeout,
                n_workers=cfg.n_workers,
                show_progress_bar=not args.no_progress,
            )
        except KeyboardInterrupt:
            counts = _state_counts(study.optuna_study)
            finished = sum(counts.get(s, 0) for s in _FINISHED)
            running = counts.get("RUNNING", 0)
            note = (
                f" {running} trial(s) left RUNNING by stopped workers are failed and retried once the storage's"
                " heartbeat grace period has passed."
                if running
                else ""
            )
            print(
                f"\ninterrupted: study {cfg.study_name!r} is saved in {cfg.storage} ({finished} finished trials).{note}\n"
                f"Run the same command again to resume: hpo {shlex.join(args.argv)}",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except (ValueError, RuntimeError) as e:
            raise CLIError(str(e), exit_code=1) from None
    _print_best(study.optuna_study, study, 5, cfg.constraints)
    console.print(f"storage: {cfg.storage}  study: {cfg.study_name}")
    console.print(f"view it:  {_study_cmd('show', cfg.storage, cfg.study_name)}")
    console.print(f"plot it:  {_study_cmd('plot', cfg.storage, cfg.study_name)} -o history.html")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    ostudy, study = _load(args.storage, args.study_name)
    if args.json:
        print(json.dumps(_study_json(ostudy, study, args.storage, args.top), indent=2))
        return 0
    _print_best(ostudy, study, args.top)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    out = Path(args.output)
    ext = out.suffix.lower()
    if ext not in (".html", ".png"):
        raise CLIError(
            f"-o {str(out)!r}: the file must end in .html (interactive, plotly) or .png (matplotlib)"
        )
    if not out.parent.is_dir():
        raise CLIError(f"-o {str(out)!r}: no such folder {str(out.parent)!r}")
    ostudy, _ = _load(args.storage, args.study_name)
    if not any(t.state.name == "COMPLETE" for t in ostudy.get_trials(deepcopy=False)):
        raise CLIError(f"study {ostudy.study_name!r} has no complete trial to plot", exit_code=1)
    has_intermediate = any(t.intermediate_values for t in ostudy.get_trials(deepcopy=False))
    multi = len(ostudy.directions) > 1
    if multi and len(ostudy.directions) > 3:
        raise CLIError(
            f"study {ostudy.study_name!r} has {len(ostudy.directions)} objectives; plots show 2 or 3"
        )
    optuna_logger = logging.getLogger("optuna")
    level = optuna_logger.level
    optuna_logger.setLevel(logging.ERROR)  # "There are no feasible trials." is already in the plot's legend
    try:
        plot = _plot_html if ext == ".html" else _plot_png
        written = plot(ostudy, out, multi, has_intermediate)
    except ImportError as e:
        raise CLIError(
            f"plotting to {ext} needs {e.name or 'a plotting library'}: pip install 'hpo[plot]'"
        ) from None
    finally:
        optuna_logger.setLevel(level)
    for path in written:
        print(f"wrote {path}")
    return 0


def _plot_html(ostudy: optuna.Study, out: Path, multi: bool, has_intermediate: bool) -> list[Path]:
    """Optimization history (infeasible trials coloured by Optuna) and, with reported steps, the intermediate
    values, as one self-contained page (plotly.js embedded once, so it opens offline)."""
    import plotly  # noqa: F401 - a clear ImportError before optuna's own
    from optuna import visualization as vis

    figures = [vis.plot_pareto_front(ostudy) if multi else vis.plot_optimization_history(ostudy)]
    if has_intermediate:
        figures.append(vis.plot_intermediate_values(ostudy))
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)]
    import html

    title = html.escape(f"hpo study {ostudy.study_name}")
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    out.write_text(page, encoding="utf-8")
    return [out]


def _plot_png(ostudy: optuna.Study, out: Path, multi: bool, has_intermediate: bool) -> list[Path]:
    """The same figures with matplotlib; the intermediate values go to ``<name>-intermediate.png`` next to it."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    written = []
    ax = vis.plot_pareto_front(ostudy) if multi else vis.plot_optimization_history(ostudy)
    if not multi and _has_constraints(ostudy):  # plotly's legend names them; matplotlib's only greys them out
        ax.set_title(f"{ax.get_title()} (grey: infeasible trials)")
    ax.figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    written.append(out)
    if has_intermediate:
        ax = vis.plot_intermediate_values(ostudy)
        side = out.with_name(f"{out.stem}-intermediate{out.suffix}")
        ax.figure.savefig(side, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
        written.append(side)
    return written


# ---------------------------------------------------------------------------------------------------- parser
def _int_at_least(lowest: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``lowest``, with a message naming the text."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {lowest}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonnegative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``hpo`` argument parser (sub-commands run, show, plot)."""
    from hpo import __version__

    parser = argparse.ArgumentParser(
        prog="hpo",
        description="Bayesian hyperparameter optimization on Optuna storages.",
        epilog="The STUDY.yaml schema is described in docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"hpo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,show,plot}")

    run = sub.add_parser("run", help="run (or resume) the study described by a YAML file")
    run.add_argument("study", metavar="STUDY.yaml", help="the study file (see docs/cli.md)")
    run.add_argument("--storage", metavar="URL", help="Optuna storage URL (overrides storage:)")
    run.add_argument("--study-name", metavar="NAME", help="study name (overrides study_name:)")
    run.add_argument(
        "--n-trials",
        type=_positive_int,
        metavar="N",
        help="the study's total of finished trials (overrides budget.n_trials)",
    )
    run.add_argument(
        "--n-workers", type=_positive_int, metavar="K", help="worker processes (overrides budget.n_workers)"
    )
    run.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help="start no trial after S seconds (overrides budget.timeout)",
    )
    run.add_argument(
        "--seed", type=_nonnegative_int, metavar="S", help="seed of all proposals (overrides seed:)"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--verbose", action="store_true", help="also print Optuna's per-trial log lines")
    run.set_defaults(handler=_cmd_run)

    def study_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--storage", metavar="URL", default=DEFAULT_STORAGE, help=f"default: {DEFAULT_STORAGE}"
        )
        p.add_argument("--study-name", metavar="NAME", help="default: the only study in the storage")

    show = sub.add_parser("show", help="best trials of a study, and its trial counts")
    study_args(show)
    show.add_argument("--top", type=_positive_int, default=5, metavar="K", help="how many trials (default 5)")
    show.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    show.set_defaults(handler=_cmd_show)

    plot = sub.add_parser("plot", help="optimization history (+ intermediate values) as .html or .png")
    study_args(plot)
    plot.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.html (plotly) or FILE.png")
    plot.set_defaults(handler=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo`` console script; returns the exit code instead of exiting (testable in-process).

    Exit codes: 0 success, 1 a failure while running, 2 a usage or configuration error (nothing was written),
    130 interrupted with Ctrl-C (the study is saved; run the same command to resume).
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed usage / help
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    args.argv = argv  # to print the exact command that resumes an interrupted run
    try:
        with warnings.catch_warnings():  # restores the filters and showwarning for in-process callers
            from optuna.exceptions import ExperimentalWarning

            warnings.simplefilter("ignore", ExperimentalWarning)
            verbose = getattr(args, "verbose", False)
            _configure_logging(verbose)
            if not verbose:
                warnings.showwarning = _show_warning
            return int(args.handler(args))
    except CLIError as e:
        print(f"hpo: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `hpo show --json | head`: the reader left; not an error worth a traceback
        try:  # as the Python docs advise: point stdout at devnull so the exit-time flush does not raise again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
