"""The store: schema version, runs written whole, content-addressed artifacts checked before loading."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from mlops_magic.errors import ConflictError, IntegrityError, InvalidInputError, NotFoundError, StoreError
from mlops_magic.store import ModelRecord, Run, Store, schema

pytestmark = pytest.mark.both_stores


def make_run(experiment="exp", **fields) -> Run:
    return Run(run_id=uuid.uuid4().hex, experiment=experiment, name="r", status="finished", start_time=time.time(), **fields)


def test_new_store_records_its_schema_version(tmp_path):
    store = Store(str(tmp_path / "s"))
    with store.db.reading() as conn:
        version = conn.execute(schema.store_info.select().where(schema.store_info.c.key == "schema_version")).one().value
    assert int(version) == schema.SCHEMA_VERSION
    assert (tmp_path / "s" / "store.db").exists()


def test_store_from_a_newer_version_is_refused(tmp_path):
    store = Store(str(tmp_path / "s"))
    with store.db.writing() as conn:
        conn.execute(update(schema.store_info).where(schema.store_info.c.key == "schema_version").values(value="999"))
    store.close()
    before = (tmp_path / "s" / "store.db").read_bytes()
    with pytest.raises(StoreError, match="schema version 999, newer than this mlops_magic understands"):
        Store(str(tmp_path / "s"))
    assert (tmp_path / "s" / "store.db").read_bytes() == before  # refused, not touched


def test_any_sqlalchemy_url_with_its_own_artifact_root(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db' / 'other.db'}", artifact_root=tmp_path / "files")
    run = make_run(metrics={"acc": 0.5})
    store.write_run(run)
    assert store.get_run(run.run_id).metrics == {"acc": 0.5}
    sha256 = store.artifacts.put(b"model bytes")
    assert (tmp_path / "files" / sha256[:2] / sha256[2:]).read_bytes() == b"model bytes"  # files go where asked
    assert not (tmp_path / "db" / "artifacts").exists()


def test_run_round_trip_and_prefix_lookup(store):
    run = make_run(params={"C": "0.5"}, metrics={"accuracy": 0.9}, tags={"owner": "ana"}, source="x = 1", warnings=["w"])
    store.write_run(run)
    back = store.get_run(run.run_id[:6])
    assert (back.params, back.metrics, back.tags, back.source, back.warnings) == (run.params, run.metrics, run.tags, "x = 1", ["w"])


def test_run_lookup_errors(store):
    with pytest.raises(NotFoundError, match="no run with id"):
        store.get_run("abcdef")
    with pytest.raises(InvalidInputError, match="too short"):
        store.get_run("ab")


def test_a_failed_write_leaves_nothing_behind(store):
    run = make_run(metrics={"acc": 0.5})
    store.write_run(run)
    duplicate = make_run(metrics={"acc": 0.7})
    duplicate.run_id = run.run_id  # primary key clash: the whole transaction must roll back
    with pytest.raises(ConflictError, match='refused a write that clashes .*(UNIQUE constraint failed: runs.run_id|unique constraint "runs_pkey")'):
        store.write_run(duplicate)
    assert store.get_run(run.run_id).metrics == {"acc": 0.5}
    assert store.count_runs() == 1


def test_a_run_names_the_models_it_saved_when_asked_for_another(store):
    run = make_run(models=[ModelRecord("clf", "LogisticRegression", "ab" * 32, 10, [], "classification")])
    assert run.model_named("clf").class_name == "LogisticRegression" and run.task == "classification"
    with pytest.raises(NotFoundError, match=r"saved no model named 'reg' \(it saved: clf\)"):
        run.model_named("reg")


def test_runs_frame_uses_mlflow_column_names(store):
    store.write_run(make_run(params={"C": "1"}, metrics={"accuracy": 0.8}, tags={"t": "x"}))
    store.write_run(make_run(experiment="other", metrics={"rmse": 2.0}))
    frame = store.runs_frame("exp")
    assert list(frame.columns[:6]) == ["run_id", "experiment", "name", "status", "start_time", "duration_s"]
    assert {"params.C", "metrics.accuracy", "tags.t"} <= set(frame.columns)
    assert "metrics.rmse" not in frame.columns
    assert frame["metrics.accuracy"].dtype == "float64"


def test_tampered_artifact_is_refused(store):
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    sha, size, trusted = store.artifacts.save_model(model)
    assert "sklearn.tree._tree.Tree" in trusted
    loaded = store.artifacts.load_model(sha, trusted)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))

    path = store.artifacts.path_of(sha)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="was modified"):
        store.artifacts.load_model(sha, trusted)


def test_model_needing_types_not_recorded_is_refused(store):
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    sha, _, _ = store.artifacts.save_model(DecisionTreeClassifier().fit(X, y))
    with pytest.raises(IntegrityError, match="cannot be loaded safely"):
        store.artifacts.load_model(sha, [])


def test_missing_artifact_names_the_problem(store):
    with pytest.raises(NotFoundError, match="missing"):
        store.artifacts.get("ab" * 32)


def test_models_of_one_structure_reuse_the_recorded_types_and_still_load(store):
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from mlops_magic.tracking.writer import snapshot_model

    X, y = load_breast_cancer(return_X_y=True)
    for seed in (0, 1):
        model = RandomForestClassifier(n_estimators=3, random_state=seed).fit(X, y)
        types = snapshot_model("m", model, "classification").types
        assert "sklearn.tree._tree.Tree" in types
        sha, _, trusted = store.artifacts.save_model(model, types)
        assert trusted == ["sklearn.tree._tree.Tree"]
        np.testing.assert_array_equal(store.artifacts.load_model(sha, trusted).predict(X), model.predict(X))


FIXTURES = Path(__file__).parent / "fixtures"
EARLIER_SCHEMAS = ["store-v1-first", "store-v1-profiles", "store-v1-labels"]  # all labelled version 1


def wine_test_inputs():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    frame = load_wine(as_frame=True).frame
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])[1].drop(columns="target")


def stored_revision(store) -> tuple[int, str]:
    with store.db.reading() as conn:
        version = conn.execute(schema.store_info.select().where(schema.store_info.c.key == "schema_version")).one().value
        return int(version), conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()


@pytest.mark.parametrize("fixture", EARLIER_SCHEMAS)
def test_a_store_of_an_earlier_schema_is_migrated_with_everything_in_it(tmp_path, fixture):
    shutil.copytree(FIXTURES / fixture, tmp_path / "s")
    assert_migrated_whole(str(tmp_path / "s"), tmp_path / "s")


def assert_migrated_whole(url: str, folder: Path) -> None:
    """The store at ``url`` (written by an old mlops_magic, its artifacts and ``expected.json`` in
    ``folder``) opens migrated, holds all it held, and takes new writes."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    expected = json.loads((folder / "expected.json").read_text())
    store = Store(url, folder / "artifacts")

    assert stored_revision(store) == (schema.SCHEMA_VERSION, f"{schema.SCHEMA_VERSION:04d}")
    with store.db.reading() as conn:  # the migrated tables are exactly those a new store gets
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    X = wine_test_inputs()
    for run_id, want in expected["runs"].items():
        run = store.get_run(run_id)
        assert (run.name, run.metrics, run.params) == (want["name"], want["metrics"], want["params"])
        assert {role: d.digest for role, d in run.datasets.items()} == want["datasets"]
        assert sorted(run.datasets["train"].profile) == want["profile_columns"]
        assert {m.variable: m.sha256 for m in run.models} == want["models"]
        for record in run.models:  # the sha256 is checked before each load
            model = store.artifacts.load_model(record.sha256, record.trusted_types)
            assert model.predict(X).tolist() == expected["model_predictions"][run_id]
    assert [[v.version, v.run_id, v.aliases] for v in store.model_versions("wine")] == expected["versions"]
    history = store.alias_history_frame("wine")
    assert history[["alias", "from_version", "to_version"]].astype(object).where(history.notna(), None).values.tolist() == expected["history"]
    frame = store.predictions_frame("wine")
    labels = frame["label"].astype(object).where(frame["label"].notna(), None)
    assert {i: {"output": o, "label": label} for i, o, label in zip(frame["prediction_id"], frame["output"], labels)} == expected["predictions"]
    assert [p.metric for p in store.policies("wine")] == ["accuracy"]

    train = store.get_run(next(iter(expected["runs"]))).datasets["train"]
    new = make_run(experiment="wine", metrics={"accuracy": 0.75}, datasets={"train": train})
    store.write_run(new)  # shares the migrated profile of its data
    assert store.get_run(new.run_id).datasets["train"].profile == train.profile
    row = {"time": time.time(), "model": "wine", "version": 1, "variant": None, "shadow": False, "inputs": {"a": 1.0}, "output": 2, "latency_ms": 1.0}
    store.log_predictions([{**row, "prediction_id": "new-1", "confidence": 0.75}])
    store.log_feedback(["new-1", "fixture-19"], [2, 1])
    labelled = store.predictions_frame("wine").set_index("prediction_id")
    assert labelled.loc["new-1", ["confidence", "label"]].tolist() == [0.75, 2]
    assert labelled.loc["fixture-19", "label"] == 1
    store.close()
    assert stored_revision(Store(url, folder / "artifacts")) == (schema.SCHEMA_VERSION, f"{schema.SCHEMA_VERSION:04d}")


def test_a_migration_that_fails_leaves_the_old_store_as_it_was(tmp_path):
    import sqlite3

    shutil.copytree(FIXTURES / "store-v1-first", tmp_path / "s")
    database = tmp_path / "s" / "store.db"
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:  # blocks 0002's copy of the datasets table
        conn.execute("CREATE TABLE _alembic_tmp_datasets (x INTEGER)")
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        before = conn.execute(tables).fetchall()
    with pytest.raises(StoreError, match="migrating the store failed, so it was left as it was: table _alembic_tmp_datasets already exists"):
        Store(str(tmp_path / "s"))
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        assert conn.execute(tables).fetchall() == before  # no alembic_version, data_profiles, ...
        assert conn.execute("SELECT value FROM store_info WHERE key = 'schema_version'").fetchone() == ("1",)
        assert "profile" in [row[1] for row in conn.execute("PRAGMA table_info(datasets)")]
        conn.execute("DROP TABLE _alembic_tmp_datasets")
    assert stored_revision(Store(str(tmp_path / "s"))) == (schema.SCHEMA_VERSION, f"{schema.SCHEMA_VERSION:04d}")


def test_the_schema_version_is_the_head_migration_and_a_new_store_is_stamped_with_it(tmp_path):
    from mlops_magic.store.migrations import head_revision

    assert head_revision() == f"{schema.SCHEMA_VERSION:04d}"
    assert stored_revision(Store(str(tmp_path / "s"))) == (schema.SCHEMA_VERSION, head_revision())


def test_an_up_to_date_store_opens_without_importing_alembic(tmp_path):
    Store(str(tmp_path / "s")).close()
    code = f"import sys; from mlops_magic.store import Store; Store({str(tmp_path / 's')!r}); print('alembic' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def _open_store(location: str, barrier) -> None:
    barrier.wait(timeout=60)  # an opener that died breaks the barrier: the others stop too
    Store(location).close()


@pytest.mark.parametrize("fixture", [None, "store-v1-first"])
def test_processes_opening_a_new_or_old_store_at_once_create_or_migrate_it_once(tmp_path, fixture):
    location = tmp_path / "s"
    if fixture:
        shutil.copytree(FIXTURES / fixture, location)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_store, args=(str(location), barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
        if process.is_alive():
            process.kill()
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    store = Store(str(location))
    assert stored_revision(store) == (schema.SCHEMA_VERSION, f"{schema.SCHEMA_VERSION:04d}")
    with store.db.reading() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM alembic_version").scalar_one() == 1
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM store_info").scalar_one() == 2
    if fixture:
        assert store.count_runs() == 3 and len(store.predictions_frame("wine")) == 20
