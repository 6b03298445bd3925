"""``%%mlops_train`` through a real IPython shell: what a run holds, failures, faults, re-runs."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import numpy as np
import pytest

import mlops_magic as mm
from mlops_magic import api
from mlops_magic.store import database

pytestmark = pytest.mark.both_stores

SETUP = """
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
df = load_wine(as_frame=True).frame
train_df, test_df = train_test_split(df, random_state=0, stratify=df["target"])
X_train, y_train = train_df.drop(columns="target"), train_df["target"]
X_test, y_test = test_df.drop(columns="target"), test_df["target"]
"""

TRAIN = """%%mlops_train -e wine --data train_df --target target --eval test_df --tag owner=ana
model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X_train, y_train)
acc = model.score(X_test, y_test)
print("trained")
acc
"""


@pytest.fixture
def wine(ip):
    assert ip.run_cell(SETUP, store_history=True).success
    return ip


def only_run(experiment="wine"):
    frame = mm.runs(experiment)
    assert len(frame) == 1
    return mm.get_run(frame["run_id"][0])


def test_cell_runs_as_without_the_magic_and_is_recorded(wine, capsys):
    result = wine.run_cell(TRAIN, store_history=True)
    assert result.success
    assert result.result == pytest.approx(wine.user_ns["acc"])  # the last expression is the cell's value
    assert "trained" in capsys.readouterr().out
    run = only_run()
    assert run.status == "finished" and run.experiment == "wine"
    assert run.source.startswith("model = make_pipeline")
    assert run.execution_count == result.execution_count
    assert run.params["logisticregression__C"] == "0.5"
    assert run.tags["owner"] == "ana" and run.tags["model_class"] == "Pipeline" and run.tags["mlops.task"] == "classification"
    assert run.metrics["acc"] == pytest.approx(wine.user_ns["acc"])
    assert {"accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc", "log_loss", "baseline_accuracy"} <= set(run.metrics)
    assert run.metrics["baseline_accuracy"] < run.metrics["accuracy"]


def test_run_keeps_the_model_data_and_environment(wine):
    assert wine.run_cell(TRAIN, store_history=True).success
    run = only_run()
    loaded = mm.load_model(run.run_id)
    X_test = wine.user_ns["X_test"]
    np.testing.assert_array_equal(loaded.predict(X_test), wine.user_ns["model"].predict(X_test))
    train = run.datasets["train"]
    assert (train.variable, train.target, train.n_rows) == ("train_df", "target", len(wine.user_ns["train_df"]))
    assert train.columns["alcohol"] == "float64"
    alcohol = train.profile["alcohol"]
    assert alcohol["kind"] == "numeric" and sum(alcohol["histogram"]["counts"]) == train.n_rows
    assert alcohol["quantiles"]["0.5"] == pytest.approx(wine.user_ns["train_df"]["alcohol"].median())
    sample = mm.get_store().artifacts.load_frame(train.sample_sha256)
    assert list(sample.columns) == list(train.columns) and len(sample) == train.n_rows
    assert run.datasets["eval"].n_rows == len(wine.user_ns["test_df"])
    assert run.environment["python"].count(".") == 2
    assert "scikit-learn" in run.environment["packages"]


def test_upstream_cells_are_found_in_history(wine):
    wine.run_cell("C = 3", store_history=True)
    wine.run_cell("unrelated = 1", store_history=True)
    assert wine.run_cell("%%mlops_train -e wine\nmodel = DecisionTreeClassifier(max_depth=C).fit(X_train, y_train)", store_history=True).success
    upstream = [cell["source"] for cell in only_run().provenance["upstream"]]
    assert "C = 3" in upstream
    assert any("train_test_split" in source for source in upstream)
    assert "unrelated = 1" not in upstream


def test_out_of_order_cells_are_flagged_from_the_notebook(wine, tmp_path):
    notebook = tmp_path / "nb.ipynb"
    body = "model = DecisionTreeClassifier(max_depth=C).fit(X_train, y_train)"
    cells = [{"cell_type": "code", "source": "%%mlops_train -e wine\n" + body}, {"cell_type": "code", "source": "C = 3"}]
    notebook.write_text(json.dumps({"cells": cells}))
    wine.user_ns["__session__"] = str(notebook)
    wine.run_cell("C = 3", store_history=True)
    assert wine.run_cell("%%mlops_train -e wine\n" + body, store_history=True).success
    run = only_run()
    assert run.notebook == str(notebook)
    assert run.provenance["out_of_order"] is True
    assert any("out of order" in w for w in run.warnings)


def test_git_state_is_recorded(wine, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    assert wine.run_cell("%%mlops_train -e wine\nmodel = DecisionTreeClassifier(max_depth=3).fit(X_train, y_train)").success
    git = only_run().environment["git"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert git["commit"] == head and git["dirty"] is False


def test_failing_cell_is_recorded_and_the_exception_reaches_the_user(wine):
    result = wine.run_cell("%%mlops_train -e wine\nx = 1\n1 / 0", store_history=True)
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    run = only_run()
    assert run.status == "failed"
    assert "ZeroDivisionError: division by zero" in run.error
    assert "mlops_magic" not in run.error and "1 / 0" in run.error  # the traceback starts at the user's code
    assert wine.user_ns["x"] == 1  # statements before the failure ran, as without the magic


def test_rerunning_a_cell_makes_a_new_run(wine):
    for _ in range(3):
        assert wine.run_cell(TRAIN, store_history=True).success
    assert len(mm.runs("wine")) == 3


def test_data_passed_to_fit_is_recorded_without_data_option(wine):
    assert wine.run_cell("%%mlops_train -e wine\nmodel = RandomForestClassifier(5, random_state=0).fit(X_train, y_train)").success
    train = only_run().datasets["train"]
    assert train.variable == "X_train" and train.n_rows == len(wine.user_ns["X_train"])


def test_eval_as_x_y_pair_and_log_metric(wine):
    cell = "%%mlops_train -e wine --eval X_test,y_test\nimport mlops_magic as mm\nforest = RandomForestClassifier(5, random_state=0).fit(X_train, y_train)\nmm.log_metric('custom', 0.5)"
    assert wine.run_cell(cell).success
    run = only_run()
    assert run.metrics["custom"] == 0.5
    assert run.metrics["accuracy"] == pytest.approx(wine.user_ns["forest"].score(wine.user_ns["X_test"], wine.user_ns["y_test"]))


def test_unfitted_model_and_changed_data_are_warned(wine):
    assert wine.run_cell("%%mlops_train -e wine --data train_df --target target\nmodel = DecisionTreeClassifier(max_depth=3).fit(X_train, y_train)").success
    wine.run_cell("train_df = train_df.iloc[:50]")
    assert wine.run_cell("%%mlops_train -e wine --data train_df --target target\nspare = LogisticRegression()\nmodel = DecisionTreeClassifier(max_depth=3).fit(X_train, y_train)").success
    newest = mm.get_run(mm.runs("wine")["run_id"][0])
    assert any("'spare'" in w and "did not fit" in w for w in newest.warnings)
    assert any("changed since the last run" in w for w in newest.warnings)


def test_unpicklable_model_is_a_warning_not_an_error(wine):
    cell = "%%mlops_train -e wine\nfrom sklearn.preprocessing import FunctionTransformer\nmodel = make_pipeline(FunctionTransformer(lambda v: v), DecisionTreeClassifier(max_depth=3)).fit(X_train, y_train)"
    result = wine.run_cell(cell)
    assert result.success
    run = only_run()
    assert run.models == [] and any("was not saved" in w for w in run.warnings)


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)  # it holds SQLite's lock
def test_locked_store_does_not_break_the_cell_and_the_run_is_written_later(wine, monkeypatch):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    store = mm.get_store()
    store.close()  # new connections pick up the short timeout
    blocker = sqlite3.connect(store.url.split("///", 1)[1], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        result = wine.run_cell("%%mlops_train -e wine\nmodel = DecisionTreeClassifier(max_depth=3).fit(X_train, y_train)")
        assert result.success and "model" in wine.user_ns
        assert any("is not recorded yet" in m for m in api.current_session().tracker.flush())  # one warning line, run kept
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    run = only_run()  # reading flushes the writer, which retries the failed write
    assert run.status == "finished"


def test_metric_names_with_digits_are_recorded(wine):
    cell = (
        "%%mlops_train -e wine\n"
        "model = LogisticRegression(max_iter=500).fit(X_train, y_train)\n"
        "f1, r2, top5_acc, auc_2, x1 = 0.91, 0.5, 0.99, 0.8, 3.0"
    )
    assert wine.run_cell(cell, store_history=True).success
    metrics = only_run().metrics
    assert {k: metrics[k] for k in ("f1", "r2", "top5_acc", "auc_2")} == {"f1": 0.91, "r2": 0.5, "top5_acc": 0.99, "auc_2": 0.8}
    assert "x1" not in metrics


def test_training_frame_never_overwrites_a_feature_column():
    import pandas as pd

    from mlops_magic.tracking.data import training_frame

    features = pd.DataFrame({"y": [1, 2], "target": [3, 4], "target_1": [5, 6]})
    frame, target = training_frame(features, pd.Series([7, 8], name="y"))
    assert frame[["y", "target", "target_1"]].values.tolist() == [[1, 3, 5], [2, 4, 6]]
    assert target == "target_2" and frame[target].tolist() == [7, 8]


def test_log_metric_refuses_what_is_not_a_finite_number(store):
    from mlops_magic.errors import MLOpsError

    with mm.run("wine") as active:
        with pytest.raises(MLOpsError, match="must be a finite number"):
            mm.log_metric("acc", float("nan"))
        active.log_metric("acc", 0.5)
    assert active.run.metrics == {"acc": 0.5}
    with pytest.raises(MLOpsError, match="no run is being recorded"):
        mm.log_metric("acc", 0.5)
