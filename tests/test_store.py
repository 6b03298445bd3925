"""The store: schema version, runs written whole, content-addressed artifacts checked before loading."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from sqlalchemy import update

from mlops_magic.errors import IntegrityError, InvalidInputError, NotFoundError, StoreError
from mlops_magic.store import Run, Store, schema


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
    with pytest.raises(StoreError, match="newer than this mlops_magic"):
        Store(str(tmp_path / "s"))


def test_any_sqlalchemy_url_with_its_own_artifact_root(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db' / 'other.db'}", artifact_root=tmp_path / "files")
    run = make_run(metrics={"acc": 0.5})
    store.write_run(run)
    assert store.get_run(run.run_id).metrics == {"acc": 0.5}
    assert store.artifacts.root == tmp_path / "files"


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
    with pytest.raises(Exception):
        store.write_run(duplicate)
    assert store.get_run(run.run_id).metrics == {"acc": 0.5}
    assert store.count_runs() == 1


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


def test_an_older_store_is_migrated_when_opened(tmp_path, monkeypatch):
    location = str(tmp_path / "s")
    run = make_run(metrics={"acc": 0.5})
    store = Store(location)
    store.write_run(run)
    store.close()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, schema.SCHEMA_VERSION - 1, ["ALTER TABLE runs ADD COLUMN migrated_note TEXT"])
    upgraded = Store(location)
    with upgraded.db.reading() as conn:
        version = conn.execute(schema.store_info.select().where(schema.store_info.c.key == "schema_version")).one().value
        columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(runs)")]
    assert int(version) == schema.SCHEMA_VERSION and "migrated_note" in columns
    assert upgraded.get_run(run.run_id).metrics == {"acc": 0.5}  # nothing stored is lost
