"""The only module that touches Optuna storage internals.

Every hpo study *is* an Optuna study in an Optuna storage (SQLite by default, any RDB URL, a journal file, or a
storage object), so ``optuna.load_study``, the ``optuna`` CLI and ``optuna.visualization`` read it unchanged. What
hpo adds lives in attributes Optuna already has:

* study system attribute ``hpo:config``: the search space (Optuna distribution JSON), surrogate, seed and options,
  so ``hpo.load_study`` rebuilds the same study in any process;
* trial system attribute ``constraints:<name>``: constraint values, Optuna 5's own format, so
  ``FrozenTrial.constraints`` and the visualizations' infeasible colouring see them;
* study user attribute ``hpo:declared_infeasible`` (CONFIG), readable by Optuna users.

Heartbeats (RDB storages) mark a crashed worker's trial FAIL after a grace period; the retry callback re-enqueues its
configuration so nothing a user paid for is lost.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback

__all__ = [
    "DEFAULT_STORAGE",
    "resolve_storage",
    "storage_url",
    "write_config",
    "read_config",
    "set_constraints",
    "set_constraints_list",
    "set_trial_system_attr",
    "set_study_user_attr",
    "heartbeat",
    "fail_stale_trials",
    "ask",
    "FIDELITY_KEY",
    "set_trial_fidelity",
    "trial_fidelity",
    "report_intermediate",
]

DEFAULT_STORAGE = "sqlite:///hpo.db"
CONFIG_KEY = "hpo:config"
HEARTBEAT_INTERVAL = 30
GRACE_PERIOD = 120


def resolve_storage(storage: str | BaseStorage | None) -> BaseStorage:
    """An Optuna storage for a URL, a storage object, or None (the SQLite default ``sqlite:///hpo.db``).

    RDB URLs get heartbeats (a crashed worker's trial is failed and its configuration retried) and, for SQLite, a
    generous lock timeout so several worker processes can share one file.

    Raises:
        TypeError: ``storage`` is neither a string nor an Optuna storage.
        ValueError: the URL cannot be opened (the message names it).
    """
    if storage is None:
        storage = DEFAULT_STORAGE
    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, str):
        raise TypeError(f"storage={storage!r}: expected a storage URL string or an optuna storage object")
    if storage.endswith((".log", ".jsonl")) and "://" not in storage:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(storage))
    engine_kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                storage,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=GRACE_PERIOD,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
            )
    except Exception as e:  # sqlalchemy raises many types; the user needs the URL and the cause
        raise ValueError(f"storage={storage!r} cannot be opened: {e}") from e


def storage_url(storage: BaseStorage) -> str | None:
    """The URL of an RDB storage (for worker processes), or None for storages that cannot be reopened by URL."""
    from optuna.storages import JournalStorage
    from optuna.storages._cached_storage import _CachedStorage

    if isinstance(storage, _CachedStorage):
        storage = storage._backend
    if isinstance(storage, RDBStorage):
        return storage.url
    if isinstance(storage, JournalStorage):
        path = getattr(storage._backend, "_file_path", None)
        return str(path) if path else None
    return None


def write_config(study: optuna.Study, config: dict[str, Any]) -> None:
    """Store the hpo configuration (space as Optuna distribution JSON) in the study's system attributes."""
    payload = dict(config)
    payload["space"] = {n: distribution_to_json(d) for n, d in config["space"].items()}
    study._storage.set_study_system_attr(study._study_id, CONFIG_KEY, json.dumps(payload))


def read_config(study: optuna.Study) -> dict[str, Any] | None:
    """The stored hpo configuration, with the space as Optuna distributions, or None for a plain Optuna study."""
    raw = study._storage.get_study_system_attrs(study._study_id).get(CONFIG_KEY)
    if raw is None:
        return None
    payload = json.loads(raw)
    payload["space"] = {n: json_to_distribution(d) for n, d in payload["space"].items()}
    return payload


def set_constraints(study: optuna.Study, trial_number: int, constraints: dict[str, float]) -> None:
    """Store constraint values in Optuna 5's format (trial system attribute ``constraints:<name>``)."""
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, trial_number)
    for name, value in constraints.items():
        study._storage.set_trial_system_attr(trial_id, f"constraints:{name}", float(value))


def set_constraints_list(study: optuna.Study, trial_number: int, values: list[float]) -> None:
    """Store constraint values in Optuna's list format (what ``constraints_func`` samplers write)."""
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, trial_number)
    study._storage.set_trial_system_attr(trial_id, "constraints", [float(v) for v in values])


def set_trial_system_attr(study: optuna.Study, trial_number: int, key: str, value: Any) -> None:
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, trial_number)
    study._storage.set_trial_system_attr(trial_id, key, value)


def set_study_user_attr(study: optuna.Study, key: str, value: Any) -> None:
    study.set_user_attr(key, value)


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail RUNNING trials whose worker stopped sending heartbeats (and re-enqueue them via the retry callback)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if is_heartbeat_enabled(study._storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def ask(study: optuna.Study) -> optuna.Trial:
    """``study.ask()`` without Optuna's warning that heartbeats belong to ``Study.optimize``: hpo's own optimize
    loop runs the heartbeat thread itself (see :func:`heartbeat`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return study.ask()


@contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Send heartbeats for ``trial`` while the block runs (no-op for storages without heartbeats)."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    thread = get_heartbeat_thread(trial._trial_id, study._storage)
    with thread:
        yield


def is_finite_number(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------------- multi-fidelity
#: trial system attribute with a trial's fidelity schedule: ``{"bracket", "min_resource", "max_resource", "min",
#: "eta"}`` (JSON). Written at ``ask``; :mod:`hpo.history` reads it to aggregate rung values, any worker reads it to
#: decide a rung.
FIDELITY_KEY = "hpo:fidelity"


def set_trial_fidelity(study: optuna.Study, trial_number: int, info: dict[str, Any]) -> None:
    """Store a trial's bracket and resource bounds (a JSON-serializable dict) in its system attributes."""
    set_trial_system_attr(study, trial_number, FIDELITY_KEY, dict(info))


def trial_fidelity(trial: optuna.trial.FrozenTrial) -> dict[str, Any] | None:
    """The fidelity schedule an hpo study stored on ``trial``, or None (plain Optuna trial, or no fidelity)."""
    info = trial.system_attrs.get(FIDELITY_KEY)
    return dict(info) if isinstance(info, dict) else None


def report_intermediate(study: optuna.Study, trial_number: int, step: int, value: float) -> None:
    """Store an intermediate value of a running trial by its number."""
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, trial_number)
    study._storage.set_trial_intermediate_value(trial_id, int(step), float(value))
