"""The ask/tell study: hpo's Python API over an Optuna study.

A :class:`Study` wraps an ``optuna.Study`` whose sampler is :class:`integrations.optuna.HPOSampler` with the
declared search space, so the three entry points (this API, the Optuna plugin, the CLI) share one proposal path and
one storage format. Every trial is an Optuna trial: ``optuna.load_study`` on the same storage sees params,
distributions, values, intermediate values, states and constraint values.

Robustness rules (design.md §6):

* an objective that raises, or returns NaN/inf, marks its trial FAIL and the study goes on;
* Ctrl-C marks the running trial FAIL and re-raises; a crashed worker's trial is failed by heartbeat and its
  configuration retried; running the same ``optimize``/``hpo run`` again resumes from the storage;
* ``n_workers > 1`` runs worker processes that share the storage; each trial is created in the storage before its
  configuration is proposed, so no trial is lost or duplicated.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo import storage as _storage
from hpo.fidelity import Fidelity
from hpo.space import Categorical, Float, Int, SearchSpace

__all__ = ["Study", "Trial", "create_study", "load_study"]

_log = logging.getLogger("hpo")

_STATES = {
    "complete": TrialState.COMPLETE,
    "fail": TrialState.FAIL,
    "pruned": TrialState.PRUNED,
}


@dataclass
class Trial:
    """A running trial handed out by :meth:`Study.ask`.

    With a fidelity the trial trains step by step from step 1 up to ``fidelity`` and calls :meth:`report` after
    each step (or every few steps); when ``report`` returns True the trial stops there and is told "pruned"
    (``Study.optimize`` does that itself).

    Attributes:
        number: the Optuna trial number.
        params: the configuration to evaluate.
        fidelity: the most resource this trial may use, or None without multi-fidelity.
        bracket: the Hyperband bracket (multi-fidelity only): the trial is not stopped below ``min_resource``.
        min_resource: the first rung at which this trial can be stopped (multi-fidelity only).
        stopped: True once :meth:`report` has told this trial to stop.
    """

    number: int
    params: dict[str, Any]
    fidelity: float | None = None
    bracket: int | None = None
    min_resource: int | None = None
    stopped: bool = False
    _study: Study | None = field(default=None, repr=False)
    _optuna_trial: optuna.Trial | None = field(default=None, repr=False)

    def report(self, value: float, step: int) -> bool:
        """Report an intermediate ``value`` after ``step`` units of resource; True means stop now."""
        if self._study is None:
            raise RuntimeError(f"trial {self.number} is not attached to a study")
        return self._study.report(self, value, step)

    def should_stop(self) -> bool:
        """Whether an earlier :meth:`report` told this trial to stop."""
        return self.stopped


def _directions(direction: str | None, directions: Sequence[str] | None) -> list[str]:
    if direction is not None and directions is not None:
        raise ValueError("give either direction= or directions=, not both")
    dirs = list(directions) if directions is not None else [direction or "minimize"]
    if not dirs:
        raise ValueError("directions=[] must name at least one objective")
    for d in dirs:
        if not isinstance(d, str) or d.lower() not in ("minimize", "maximize"):
            raise ValueError(f"direction={d!r} must be 'minimize' or 'maximize'")
    return [d.lower() for d in dirs]


class Study:
    """An hpo study; build it with :func:`create_study` or :func:`load_study`.

    Attributes:
        space: the :class:`hpo.space.SearchSpace`.
        surrogate: the surrogate's name.
        seed: the seed every proposal derives from (stored with the study).
        fidelity: the :class:`hpo.fidelity.Fidelity` of a multi-fidelity study, or None.
    """

    def __init__(self, optuna_study: optuna.Study, config: dict[str, Any]) -> None:
        from integrations.optuna import HPOSampler

        self._optuna = optuna_study
        self._config = config
        self.space = SearchSpace(config["space"])
        self.surrogate: str = config["surrogate"]
        self.seed: int = int(config["seed"])
        self.fidelity: Fidelity | None = Fidelity.coerce(config.get("fidelity"))
        self._sampler = HPOSampler(
            self.surrogate,
            seed=self.seed,
            acquisition=config.get("acquisition", "auto"),
            n_startup_trials=config.get("n_startup_trials"),
            search_space=self.space.to_optuna(),
            config_beta=float(config.get("config_beta", 4.0)),
            config_feasible_every=int(config.get("config_feasible_every", 1)),
        )
        self._optuna.sampler = self._sampler

    # ------------------------------------------------------------------ properties
    @property
    def optuna_study(self) -> optuna.Study:
        """The underlying Optuna study (same storage, same trials)."""
        return self._optuna

    @property
    def study_name(self) -> str:
        return self._optuna.study_name

    @property
    def directions(self) -> list[str]:
        return ["maximize" if d == StudyDirection.MAXIMIZE else "minimize" for d in self._optuna.directions]

    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials, as Optuna ``FrozenTrial`` objects."""
        return self._optuna.get_trials(deepcopy=False)

    @property
    def declared_infeasible(self) -> bool:
        """True once the constrained problem has been declared infeasible (CONFIG)."""
        return bool(self._optuna.user_attrs.get("hpo:declared_infeasible", False))

    def _ranked(self) -> list[FrozenTrial]:
        """COMPLETE trials, best first: feasible ones before infeasible ones, then by value."""
        if len(self._optuna.directions) > 1:
            raise RuntimeError("best_trial is for single-objective studies; use optuna_study.best_trials")
        sign = -1.0 if self._optuna.direction == StudyDirection.MAXIMIZE else 1.0
        done = [
            t
            for t in self._optuna.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)
        ]

        def key(t: FrozenTrial) -> tuple[int, float, int]:
            feasible = all(v <= 0.0 for v in t.constraints.values())
            return (0 if feasible else 1, sign * float(t.value), t.number)

        return sorted(done, key=key)

    @property
    def best_trial(self) -> FrozenTrial:
        """The best feasible COMPLETE trial (the best one overall when a study has no constraints).

        Raises:
            ValueError: no trial is complete, or none is feasible (the message says which).
        """
        ranked = self._ranked()
        if not ranked:
            raise ValueError(f"study {self.study_name!r} has no complete trial yet")
        best = ranked[0]
        if any(v > 0.0 for v in best.constraints.values()):
            raise ValueError(
                f"study {self.study_name!r} has no feasible trial among {len(ranked)} complete ones"
            )
        return best

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        return float(self.best_trial.value)

    def best_trials_table(self, k: int = 5) -> list[FrozenTrial]:
        """Up to ``k`` COMPLETE trials, best first (feasible first)."""
        return self._ranked()[:k]

    # ------------------------------------------------------------------ ask / tell
    def enqueue(self, params: Mapping[str, Any]) -> None:
        """Evaluate ``params`` next (validated against the space)."""
        self._optuna.enqueue_trial(self.space.validate(params), skip_if_exists=False)

    def ask(self) -> Trial:
        """Create a trial in the storage and propose its configuration.

        With a fidelity, the trial's bracket (a pure function of the study seed and the trial number) and resource
        bounds are stored in its system attributes before its configuration is proposed, so every worker and the
        History -> Dataset step can read them.
        """
        ot = _storage.ask(self._optuna)
        bracket = min_resource = None
        if self.fidelity is not None:
            from hpo.fidelity import assign_bracket

            bracket = assign_bracket(self.fidelity, self.seed, ot.number)
            min_resource = self.fidelity.bracket_min_resource(bracket)
            _storage.set_trial_fidelity(
                self._optuna,
                ot.number,
                {
                    "bracket": bracket,
                    "min_resource": min_resource,
                    "max_resource": self.fidelity.max,
                    "min": self.fidelity.min,
                    "eta": self.fidelity.eta,
                },
            )
        params: dict[str, Any] = {}
        for name, p in self.space.params.items():
            if isinstance(p, Float):
                params[name] = ot.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
            elif isinstance(p, Int):
                params[name] = ot.suggest_int(name, p.low, p.high, log=p.log, step=p.step)
            elif isinstance(p, Categorical):
                params[name] = ot.suggest_categorical(name, list(p.choices))
        return Trial(
            number=ot.number,
            params=params,
            fidelity=None if self.fidelity is None else self.fidelity.max,
            bracket=bracket,
            min_resource=min_resource,
            _study=self,
            _optuna_trial=ot,
        )

    def report(self, trial: Trial | int, value: float, step: int) -> bool:
        """Store an intermediate value; returns True when the trial should stop (multi-fidelity only).

        With a fidelity, a report whose ``step`` reaches a rung of the trial's bracket for the first time ranks the
        trial against every value recorded at that rung so far (see :mod:`hpo.fidelity`); True means it is not in
        the top ``1/eta`` and should stop now: end training and ``tell(trial, state="pruned")`` (``optimize`` does
        this itself). The decision is a pure function of the stored intermediate values, so any worker computes the
        same one. Once True for a :class:`Trial` handle, later reports through it keep returning True.

        Raises:
            ValueError: a negative or non-integer step, or a non-finite value.
        """
        number = trial.number if isinstance(trial, Trial) else int(trial)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step={step!r} must be an integer >= 0")
        if not _storage.is_finite_number(value):
            raise ValueError(f"value={value!r} for trial {number} at step {step} must be a finite number")
        _storage.report_intermediate(self._optuna, number, step, float(value))
        if self.fidelity is None:
            return False
        if isinstance(trial, Trial) and trial.stopped:
            return True
        stop = self._rung_decision(number, step)
        if stop and isinstance(trial, Trial):
            trial.stopped = True
        return stop

    def _rung_decision(self, number: int, step: int) -> bool:
        """ASHA's stop rule for trial ``number`` after its report at ``step``, from the stored trials."""
        from hpo.fidelity import assign_bracket, stop_decision

        assert self.fidelity is not None
        sign = -1.0 if self._optuna.direction == StudyDirection.MAXIMIZE else 1.0
        own: dict[int, float] = {}
        others: list[dict[int, float]] = []
        bracket = None
        for t in self._optuna.get_trials(deepcopy=False):
            if t.state in (TrialState.FAIL, TrialState.WAITING) or not t.intermediate_values:
                continue
            values = {int(s): sign * float(v) for s, v in t.intermediate_values.items()}
            if t.number == number:
                own = values
                info = _storage.trial_fidelity(t)
                bracket = None if info is None else int(info["bracket"])
            else:
                others.append(values)
        if bracket is None:  # a trial created outside ask(): the bracket is a function of (seed, number)
            bracket = assign_bracket(self.fidelity, self.seed, number)
        return stop_decision(self.fidelity, bracket=bracket, own=own, step=step, others=others)

    def tell(
        self,
        trial: Trial | int,
        value: float | Sequence[float] | None = None,
        *,
        constraints: Mapping[str, float] | None = None,
        state: str | TrialState | None = None,
    ) -> FrozenTrial:
        """Finish a trial.

        Args:
            trial: the :class:`Trial` from :meth:`ask`, or its number.
            value: the objective value (a sequence for several objectives). NaN or inf marks the trial FAIL.
            constraints: ``{name: value}``; the trial is feasible iff every value is ``<= 0``.
            state: "complete" (default when a value is given), "fail" or "pruned".

        Raises:
            ValueError: an unknown state, a missing value for a complete trial, or a constraint value that is not a
                number.
        """
        number = trial.number if isinstance(trial, Trial) else int(trial)
        st = self._parse_state(state, value)
        if st != TrialState.FAIL:
            self._check_constraint_names(number, constraints, required=st == TrialState.COMPLETE)
        if constraints:
            cons = {}
            for k, v in constraints.items():
                try:
                    cons[str(k)] = float(v)
                except (TypeError, ValueError):
                    raise ValueError(f"constraints[{k!r}]={v!r} for trial {number} is not a number") from None
            if any(math.isnan(v) for v in cons.values()):
                _log.warning("trial %d: constraint value NaN in %r; the trial is marked FAIL", number, cons)
                st = TrialState.FAIL
                cons = {k: v for k, v in cons.items() if not math.isnan(v)}
            _storage.set_constraints(self._optuna, number, cons)
        if st == TrialState.COMPLETE:
            values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
            if not all(_storage.is_finite_number(v) for v in values):
                _log.warning("trial %d returned %r; non-finite values are stored as FAIL", number, value)
                _storage.set_trial_system_attr(
                    self._optuna, number, "hpo:fail_reason", f"non-finite value {value!r}"
                )
                return self._optuna.tell(number, state=TrialState.FAIL)
            return self._optuna.tell(number, [float(v) for v in values])
        return self._optuna.tell(number, state=st)

    def _check_constraint_names(
        self, number: int, constraints: Mapping[str, float] | None, required: bool
    ) -> None:
        """Constraint names must match the study's declared ones (declared at creation, or by the first tell that
        gives constraints), so no constraint value is ever silently missing or misspelled."""
        names = {str(k) for k in (constraints or {})}
        declared = self._config.get("constraints")
        if declared is None:
            if names:
                self._config["constraints"] = sorted(names)
                _storage.write_config(self._optuna, self._config)
            return
        unknown = names - set(declared)
        if unknown:
            raise ValueError(
                f"constraints {sorted(unknown)!r} for trial {number} are not declared; the study's constraints are"
                f" {list(declared)!r}"
            )
        missing = set(declared) - names
        if missing and required:
            raise ValueError(f"trial {number}: constraint value(s) missing for {sorted(missing)!r}")

    @staticmethod
    def _parse_state(state: str | TrialState | None, value: Any) -> TrialState:
        if state is None:
            if value is None:
                raise ValueError("tell() needs a value, or state='fail' / 'pruned'")
            return TrialState.COMPLETE
        if isinstance(state, TrialState):
            st = state
        elif isinstance(state, str) and state.lower() in _STATES:
            st = _STATES[state.lower()]
        else:
            raise ValueError(f"state={state!r} must be one of {list(_STATES)!r}")
        if st == TrialState.COMPLETE and value is None:
            raise ValueError("state='complete' needs a value")
        return st

    # ------------------------------------------------------------------ optimize
    def optimize(
        self,
        objective: Callable[[dict[str, Any]], Any],
        n_trials: int | None = None,
        timeout: float | None = None,
        n_workers: int = 1,
        show_progress_bar: bool = True,
    ) -> None:
        """Run ``objective`` on proposed configurations until ``n_trials`` more trials ran or ``timeout`` passed.

        Args:
            objective: ``objective(params) -> float | {"value": v, "constraints": {...}}``.
            n_trials: how many trials this call runs (all workers together); None with a timeout runs until it.
            timeout: seconds after which no new trial starts.
            n_workers: worker processes sharing the storage (the objective must be picklable, the storage a URL).
            show_progress_bar: show a tqdm bar with the best value so far.

        Raises:
            ValueError: neither ``n_trials`` nor ``timeout``, bad counts, or ``n_workers > 1`` with an in-memory
                storage.
        """
        if n_trials is None and timeout is None:
            raise ValueError("optimize() needs n_trials or timeout")
        if n_trials is not None and (isinstance(n_trials, bool) or int(n_trials) < 0):
            raise ValueError(f"n_trials={n_trials!r} must be an integer >= 0")
        if timeout is not None and not (float(timeout) > 0):
            raise ValueError(f"timeout={timeout!r} must be > 0 seconds")
        if isinstance(n_workers, bool) or int(n_workers) < 1:
            raise ValueError(f"n_workers={n_workers!r} must be an integer >= 1")
        _storage.fail_stale_trials(self._optuna)
        if int(n_workers) > 1:
            self._optimize_parallel(objective, n_trials, timeout, int(n_workers), show_progress_bar)
            return
        bar = _progress(n_trials, timeout, show_progress_bar)
        start = time.monotonic()
        done = 0
        try:
            while (n_trials is None or done < n_trials) and (
                timeout is None or time.monotonic() - start < timeout
            ):
                self._run_one(objective)
                done += 1
                if bar is not None:
                    bar.update(1)
                    self._bar_postfix(bar)
        finally:
            if bar is not None:
                bar.close()

    def _bar_postfix(self, bar: Any) -> None:
        try:
            bar.set_postfix_str(f"best={self.best_value:.6g}")
        except (ValueError, RuntimeError):
            pass

    def _fail_orphans(self, pids: list[int]) -> None:
        """Mark FAIL the RUNNING trials owned by worker processes that were stopped (``hpo:worker_pid``)."""
        if not pids:
            return
        for t in self._optuna.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.system_attrs.get("hpo:worker_pid") in pids:
                _storage.set_trial_system_attr(
                    self._optuna, t.number, "hpo:fail_reason", "worker stopped (Ctrl-C)"
                )
                self._optuna.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)

    def _run_one(self, objective: Callable[[dict[str, Any]], Any]) -> FrozenTrial:
        trial = self.ask()
        _storage.set_trial_system_attr(self._optuna, trial.number, "hpo:worker_pid", os.getpid())
        try:
            with _storage.heartbeat(self._optuna, trial._optuna_trial):
                out = objective(trial if self._config.get("fidelity") else dict(trial.params))
        except KeyboardInterrupt:
            self.tell(trial, state="fail")
            raise
        except Exception as e:  # the study goes on; the trial keeps the reason
            _log.warning("trial %d failed: %s: %s", trial.number, type(e).__name__, e)
            _storage.set_trial_system_attr(
                self._optuna,
                trial.number,
                "hpo:fail_reason",
                "".join(traceback.format_exception_only(e)).strip(),
            )
            return self.tell(trial, state="fail")
        value, constraints = _unpack(out, trial.number)
        if trial.stopped:  # multi-fidelity: stopped at a rung -> PRUNED, its reported values are what counts
            try:
                return self.tell(trial, state="pruned", constraints=constraints)
            except ValueError as e:
                _log.warning("trial %d: %s; stored as pruned without constraints", trial.number, e)
                return self.tell(trial, state="pruned")
        if value is None:
            return self.tell(trial, state="fail")
        try:
            return self.tell(trial, value, constraints=constraints)
        except ValueError as e:  # e.g. a missing or undeclared constraint: the trial fails, the study goes on
            _log.warning("trial %d failed: %s", trial.number, e)
            _storage.set_trial_system_attr(self._optuna, trial.number, "hpo:fail_reason", str(e))
            return self.tell(trial, state="fail")

    def _optimize_parallel(
        self, objective: Callable, n_trials: int | None, timeout: float | None, n_workers: int, show: bool
    ) -> None:
        url = _storage.storage_url(self._optuna._storage)
        if url is None:
            raise ValueError(
                f"n_workers={n_workers} needs a storage that worker processes can open (an RDB URL or a journal file),"
                " not an in-memory storage"
            )
        import pickle

        try:
            pickle.dumps(objective)
        except Exception as e:
            raise ValueError(
                f"n_workers={n_workers} runs the objective in worker processes, so it must be picklable (a module-level"
                f" function): {e}"
            ) from e
        shares = [None] * n_workers if n_trials is None else [n_trials // n_workers] * n_workers
        if n_trials is not None:
            for i in range(n_trials % n_workers):
                shares[i] += 1
        ctx = mp.get_context("spawn")
        before = len(self._optuna.get_trials(deepcopy=False))
        procs = [
            ctx.Process(target=_worker, args=(url, self.study_name, objective, share, timeout), daemon=False)
            for share in shares
            if share != 0
        ]
        for p in procs:
            p.start()
        bar = _progress(n_trials, timeout, show)
        try:
            while any(p.is_alive() for p in procs):
                time.sleep(0.5)
                if bar is not None:
                    finished = [
                        t for t in self._optuna.get_trials(deepcopy=False)[before:] if t.state.is_finished()
                    ]
                    bar.n = len(finished)
                    self._bar_postfix(bar)
                    bar.refresh()
        except KeyboardInterrupt:
            # Ctrl-C reaches the workers too (same process group): give them time to fail their running trial
            # themselves, then stop the rest and fail whatever trial a stopped worker still held.
            for p in procs:
                p.join(timeout=15)
            stopped = [p.pid for p in procs if p.is_alive()]
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join()
            self._fail_orphans(stopped)
            raise
        finally:
            for p in procs:
                p.join()
            if bar is not None:
                bar.close()
        bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
        if bad:
            raise RuntimeError(f"{len(bad)} worker process(es) exited with codes {bad}; see their log above")


def _worker(
    url: str, study_name: str, objective: Callable, n_trials: int | None, timeout: float | None
) -> None:
    study = load_study(study_name=study_name, storage=url)
    study.optimize(objective, n_trials=n_trials, timeout=timeout, n_workers=1, show_progress_bar=False)


def _unpack(out: Any, number: int) -> tuple[Any, dict[str, float] | None]:
    """Split an objective's return value into (value, constraints)."""
    if isinstance(out, Mapping):
        unknown = set(out) - {"value", "values", "constraints"}
        if unknown or not ({"value", "values"} & set(out)):
            _log.warning(
                "trial %d: objective returned a dict with keys %r; expected {'value': v, 'constraints': {...}}",
                number,
                sorted(out),
            )
            return None, None
        value = out.get("value", out.get("values"))
        cons = out.get("constraints")
        if cons is not None and not isinstance(cons, Mapping):
            _log.warning("trial %d: constraints=%r must be a dict name -> value", number, cons)
            return None, None
        return value, dict(cons) if cons else None
    return out, None


def _progress(n_trials: int | None, timeout: float | None, show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n_trials, desc="trials", unit="trial", dynamic_ncols=True)


def _constraint_names(names: Sequence[str] | None) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"constraints={names!r} must be a list of non-empty names")
    if len(set(names)) != len(list(names)):
        raise ValueError(f"constraints={names!r} has repeated names")
    return list(names)


def _positive_float(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name}={value!r} must be a finite number >= 0")
    return v


def create_study(
    *,
    space: Mapping[str, Any],
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    storage: str | BaseStorage | None = None,
    study_name: str | None = None,
    load_if_exists: bool = False,
    surrogate: str = "gp",
    fidelity: Any = None,
    seed: int | None = None,
    acquisition: str = "auto",
    n_startup_trials: int | None = None,
    constraints: Sequence[str] | None = None,
    config_beta: float = 4.0,
    config_feasible_every: int = 1,
) -> Study:
    """Create (or, with ``load_if_exists``, reopen) a study in an Optuna storage.

    Args:
        space: ``{name: hpo.Float | hpo.Int | hpo.Categorical | optuna distribution}``.
        direction: "minimize" (default) or "maximize"; or ``directions`` for several objectives.
        storage: a storage URL or an Optuna storage; None uses ``sqlite:///hpo.db``.
        study_name: the study's name (None: a generated one).
        load_if_exists: reopen an existing study of that name instead of failing; its stored space must match.
        surrogate: "gp" (default), "cqr" (conformalized quantile regression, docs/cqr_multifidelity.md) or "goucb"
            (neural network with GO-UCB exploration for many dimensions, docs/goucb.md).
        fidelity: ``hpo.Fidelity(min, max, eta=3)`` (or a dict with those keys) for multi-fidelity scheduling:
            the objective then gets a :class:`Trial` and reports per step; stopping-type asynchronous successive
            halving decides who stops (plain ASHA by default, Hyperband brackets with ``brackets=None``; see
            :mod:`hpo.fidelity`). Single-objective studies only.
        seed: seed of every proposal; None draws one, stored with the study so all workers and resumes share it.
        acquisition: "auto" (the surrogate's own; LogEI for the GP), "logei" or "ucb".
        n_startup_trials: trials from the Sobol design before the surrogate takes over; None: the surrogate's
            default (10; GO-UCB's grows with the dimension).
        constraints: names of the constraints the objective reports (feasible iff every value ``<= 0``); the
            first ``tell`` with constraints declares them when this is None. Every later trial must report exactly
            these names. Constrained studies are optimized with CONFIG (papers.md §1).
        config_beta: CONFIG's squared confidence multiplier for the constraints (default 4: 2 sigma).
        config_feasible_every: every k-th trial of a constrained study (default 1: every trial) first tries a
            feasible-side step, taken when it promises a real improvement of the best feasible value (or while
            nothing is feasible), else CONFIG's optimistic step runs (0: pure CONFIG); see docs/constrained.md.

    Raises:
        ValueError: a bad option (named in the message), or ``load_if_exists`` with a different stored space.
    """
    import numpy as np

    from hpo.scheduler import Proposer

    sp = SearchSpace(space)
    dirs = _directions(direction, directions)
    Proposer(
        surrogate=surrogate,
        acquisition=acquisition,
        n_startup_trials=n_startup_trials,
        config_feasible_every=config_feasible_every,
    )  # validates options
    fid = Fidelity.coerce(fidelity)
    if fid is not None and len(dirs) > 1:
        raise ValueError(f"fidelity={fid!r} with directions={dirs!r}: multi-fidelity needs one objective")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed={seed!r} must be an integer or None")
    resolved_seed = int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is None else int(seed)
    st = _storage.resolve_storage(storage)
    ostudy = optuna.create_study(
        storage=st, study_name=study_name, directions=dirs, load_if_exists=load_if_exists
    )
    stored = _storage.read_config(ostudy)
    config = {
        "space": sp.to_optuna(),
        "surrogate": surrogate,
        "seed": resolved_seed,
        "acquisition": acquisition,
        "n_startup_trials": None if n_startup_trials is None else int(n_startup_trials),
        "fidelity": None if fid is None else fid.to_dict(),
        "constraints": _constraint_names(constraints),
        "config_beta": _positive_float("config_beta", config_beta),
        "config_feasible_every": int(config_feasible_every),
    }
    if stored is not None:
        if SearchSpace(stored["space"]) != sp:
            raise ValueError(
                f"study {ostudy.study_name!r} already exists with space {stored['space']!r}, not {sp.to_optuna()!r}"
            )
        if seed is None:
            config["seed"] = stored["seed"]
        if fid is None:
            config["fidelity"] = stored.get("fidelity")
        elif stored.get("fidelity") not in (None, config["fidelity"]):
            raise ValueError(
                f"study {ostudy.study_name!r} already exists with fidelity {stored['fidelity']!r}, not"
                f" {config['fidelity']!r}"
            )
        if constraints is None:
            config["constraints"] = stored.get("constraints")
        elif stored.get("constraints") not in (None, config["constraints"]):
            raise ValueError(
                f"study {ostudy.study_name!r} already exists with constraints {stored['constraints']!r}, not"
                f" {config['constraints']!r}"
            )
    _storage.write_config(ostudy, config)
    return Study(ostudy, config)


def load_study(*, study_name: str, storage: str | BaseStorage | None = None) -> Study:
    """Reopen an hpo study (its space, surrogate and seed come from the storage).

    Raises:
        KeyError: no study of that name in the storage.
        ValueError: the study exists but was not created by hpo (no stored space).
    """
    st = _storage.resolve_storage(storage)
    ostudy = optuna.load_study(study_name=study_name, storage=st)
    config = _storage.read_config(ostudy)
    if config is None:
        raise ValueError(
            f"study {study_name!r} was not created by hpo (no search space stored); use hpo.create_study(space=...,"
            " load_if_exists=True) to adopt it"
        )
    return Study(ostudy, config)
