from __future__ import annotations

import os
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hpo
from hpo import storage as st

sys.path.insert(0, str(Path(__file__).parent))
import _objectives  # noqa: E402


def test_default_storage_is_sqlite_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = hpo.create_study(space={"x": hpo.Float(0, 1)}, study_name="d")
    s.tell(s.ask(), 1.0)
    assert (tmp_path / "hpo.db").exists()
    assert len(optuna.load_study(study_name="d", storage="sqlite:///hpo.db").trials) == 1


def test_storage_objects_and_journal_files_are_accepted(tmp_path):
    mem = optuna.storages.InMemoryStorage()
    s = hpo.create_study(space={"x": hpo.Float(0, 1)}, storage=mem, study_name="m")
    s.tell(s.ask(), 1.0)
    assert hpo.load_study(study_name="m", storage=mem).best_value == 1.0
    path = str(tmp_path / "j.log")
    s = hpo.create_study(space={"x": hpo.Float(0, 1)}, storage=path, study_name="j")
    s.tell(s.ask(), 2.0)
    assert st.storage_url(s.optuna_study._storage) == path
    assert hpo.load_study(study_name="j", storage=path).best_value == 2.0


def test_bad_storage_is_named():
    with pytest.raises(TypeError, match="storage=42"):
        st.resolve_storage(42)
    with pytest.raises(ValueError, match="nosuchdb://x"):
        st.resolve_storage("nosuchdb://x")


def test_config_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    s = hpo.create_study(space={"k": hpo.Int(1, 9, step=2), "c": hpo.Categorical([None, 1.5, "z"])}, storage=url,
                         study_name="c", seed=4, n_startup_trials=7)
    cfg = st.read_config(s.optuna_study)
    assert cfg["seed"] == 4 and cfg["n_startup_trials"] == 7 and cfg["surrogate"] == "gp"
    assert hpo.load_study(study_name="c", storage=url).space == s.space


@pytest.mark.postgres
@pytest.mark.skipif("HPO_TEST_POSTGRES_URL" not in os.environ, reason="HPO_TEST_POSTGRES_URL not set (CI starts PostgreSQL)")
def test_two_workers_on_postgresql_lose_nothing():
    url = os.environ["HPO_TEST_POSTGRES_URL"]
    name = f"pg-{os.getpid()}"
    s = hpo.create_study(space={"x": hpo.Float(0, 1), "y": hpo.Float(0, 1)}, storage=url, study_name=name, seed=0,
                         n_startup_trials=3)
    s.optimize(_objectives.quadratic, n_trials=8, n_workers=2, show_progress_bar=False)
    trials = optuna.load_study(study_name=name, storage=url).trials
    assert sorted(t.number for t in trials) == list(range(8))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    optuna.delete_study(study_name=name, storage=url)
