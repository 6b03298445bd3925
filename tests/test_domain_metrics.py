"""Domain metrics: each way of defining one equals scikit-learn or numpy on the same rows (to 1e-9),
on ``--eval``, on stored runs, in monitoring windows and on slices; their direction decides rankings,
gates and champion/challenger; another process computes a function it never imported; a bad one is
one line and the monitor still renders."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from sklearn import metrics as skm

from mlops_magic import api, cli
from mlops_magic.errors import GateError, InvalidInputError
from mlops_magic.metrics import Catalog
from mlops_magic.monitoring.html import monitor_html

from .monitoring_fixtures import log_stream, register_model, wine_frame

COST = np.array([[0, 1], [50, 0]])  # true class × answer: a missed fraud costs 50, a false alarm 1


def fraud_cost(y_true, y_pred):
    return (50 * ((y_true == 1) & (y_pred == 0)) + 1 * ((y_true == 0) & (y_pred == 1))).mean()


def confident_alcohol(y_true, y_pred, y_proba, X):
    return float(np.mean(y_proba.max(axis=1) * (X["alcohol"] > 13)))


def broken(y_true, y_pred):
    return 1 / 0


def wordy(y_true, y_pred):
    return "fine"


def fraud_frames():
    """Wine as a binary problem (class 1 is the 'fraud'), shuffled: 100 rows to train on, 78 live."""
    frame = wine_frame().sample(frac=1, random_state=0).reset_index(drop=True)
    frame["target"] = (frame["target"] == 1).astype(int)
    return frame.iloc[:100], frame.iloc[100:].reset_index(drop=True)


def logistic(C: float = 0.05):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))


def define_all():
    api.metric("fraud_cost", better="lower")(fraud_cost)
    api.define_metric("cost_m", cost_matrix=COST.tolist())
    api.define_metric("recall_fraud", sklearn="recall", options={"pos_label": 1})
    api.define_metric("f2", sklearn="fbeta", options={"beta": 2})
    api.define_metric("ap", sklearn="average_precision")
    api.metric("confident_alcohol")(confident_alcohol)


def direct(model, frame: pd.DataFrame) -> dict[str, float]:
    """Every defined metric computed here with numpy and scikit-learn on ``frame``."""
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    predicted, proba = model.predict(X), model.predict_proba(X)
    return {
        "fraud_cost": float(np.mean(50 * ((y == 1) & (predicted == 0)) + ((y == 0) & (predicted == 1)))),
        "cost_m": float(COST[y, predicted].mean()),
        "recall_fraud": skm.recall_score(y, predicted, pos_label=1),
        "f2": skm.fbeta_score(y, predicted, beta=2),
        "ap": skm.average_precision_score(y, proba[:, 1]),
        "confident_alcohol": float(np.mean(proba.max(axis=1) * (X["alcohol"] > 13))),
        "recall[1]": skm.recall_score(y, predicted, pos_label=1),
        "precision[0]": skm.precision_score(y, predicted, pos_label=0),
    }


def test_roc_auc_is_left_out_where_a_class_has_no_positives_on_every_scikit_learn():
    """A window or a held-out batch may miss a class: no ROC AUC then (1.3 raised, later versions warn), the rest is scored."""
    catalog = Catalog()
    wanted = [catalog.check("roc_auc"), catalog.check("log_loss"), catalog.check("accuracy")]
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    values, problems = catalog.score(wanted, [0, 1, 0], [0, 1, 0], proba, [0, 1, 2])
    assert "roc_auc" not in values and not problems
    assert values["log_loss"] == pytest.approx(skm.log_loss([0, 1, 0], proba, labels=[0, 1, 2])) and values["accuracy"] == 1.0
    values, _ = catalog.score(wanted, [1, 1], [1, 1], np.array([[0.2, 0.8], [0.4, 0.6]]), [0, 1])
    assert "roc_auc" not in values and values["accuracy"] == 1.0
    values, _ = catalog.score(wanted, [0, 1, 2], [0, 1, 0], proba, [0, 1, 2])
    assert values["roc_auc"] == pytest.approx(skm.roc_auc_score([0, 1, 2], proba, multi_class="ovr", labels=[0, 1, 2]))


def test_every_form_equals_sklearn_and_numpy_on_eval_in_windows_and_on_slices(store):
    define_all()
    train, live = fraud_frames()
    model = logistic()
    version = register_model("fraud", model, train, "target", eval_frame=live)
    run = api.get_run(api.models("fraud").versions["run_id"].iloc[0])
    expected = direct(model, live)
    for name in ("fraud_cost", "cost_m", "recall_fraud", "f2", "ap", "confident_alcohol"):
        assert run.metrics[name] == pytest.approx(expected[name], abs=1e-9), name
    assert not run.warnings

    log_stream(store, "fraud", version, model, live.drop(columns="target"), live["target"], start=time.time() - 200)
    report = api.monitor("fraud", window=len(live), metric="recall[1]", slices=["alcohol > 13"])
    newest = report.windows.iloc[-1]
    assert newest["n_labelled"] == len(live) and newest["n_sample"] == len(live)
    for name in ("fraud_cost", "cost_m", "recall_fraud", "f2", "ap", "confident_alcohol", "recall[1]"):
        assert newest[name] == pytest.approx(expected[name], abs=1e-9), name
    assert np.isfinite(newest["estimated_cost_m"]) and np.isfinite(newest["estimated_recall_fraud"])  # counts: estimated too
    assert "estimated_fraud_cost" not in report.windows  # a function has no estimate
    inside = live[live["alcohol"] > 13]
    sliced = report.slices.iloc[-1]
    assert (sliced["n_predictions"], sliced["n_labelled"], sliced["n_read"]) == (len(inside), len(inside), len(live))
    on_slice = direct(model, inside)
    for name in ("fraud_cost", "cost_m", "recall_fraud", "recall[1]", "confident_alcohol"):
        assert sliced[name] == pytest.approx(on_slice[name], abs=1e-9), name
    html = monitor_html(report)
    assert "recall[1] per slice" in html and f"{len(inside)} of {len(live)} read" in html and "n_sample" in html

    # a stored run, on demand from its eval snapshot: a metric defined after it was tracked, and a per-class one
    api.define_metric("late_cost", cost_matrix=[[0, 2], [10, 0]])
    frame = api.runs("monitoring", sort="late_cost", where="late_cost < 100")
    y, predicted = live["target"].to_numpy(), model.predict(live.drop(columns="target"))
    assert frame["metrics.late_cost"].iloc[0] == pytest.approx(np.array([[0, 2], [10, 0]])[y, predicted].mean(), abs=1e-9)
    promotion = api.promote(run.run_id, name="fraud-2", require=["precision[0] >= 0.5"])
    assert f"precision[0] >= 0.5: run {run.short_id} has precision[0] {expected['precision[0]']:.4g}" in promotion.summary()
    assert api.get_run(run.run_id).metrics["precision[0]"] == pytest.approx(expected["precision[0]"], abs=1e-9)


def dummy_run(constant: int, name: str):
    from sklearn.dummy import DummyClassifier

    train, live = fraud_frames()
    with api.run("fraud", name=name, data=train, target="target", eval=live) as active:
        model = DummyClassifier(strategy="constant", constant=constant).fit(train.drop(columns="target"), train["target"])
        active.track_model(model)
    api.get_store()
    return active.run


def test_the_direction_decides_best_gates_and_champion_challenger(store):
    """Always 'fraud' costs 0.64 a row (the false alarms) at 0.36 accuracy; never 'fraud' costs 17.95
    (the misses) at 0.64 accuracy: lower cost and higher accuracy point at different runs."""
    api.metric("fraud_cost", better="lower")(fraud_cost)
    alarm, silent = dummy_run(1, "always"), dummy_run(0, "never")
    assert alarm.metrics["fraud_cost"] < silent.metrics["fraud_cost"] and alarm.metrics["accuracy"] < silent.metrics["accuracy"]
    assert api.promote("best", experiment="fraud", name="by-accuracy").run_id == silent.run_id
    assert api.promote("best", experiment="fraud", name="fraud-model", alias="production", by="fraud_cost").run_id == alarm.run_id
    assert api.runs("fraud", sort="fraud_cost")["run_id"].iloc[0] == alarm.run_id  # best first: the lowest
    with pytest.raises(GateError, match=r"fraud_cost <= 1: run \w+ has fraud_cost 17\.95"):
        api.promote(silent.run_id, name="fraud-model", require="fraud_cost <= 1")
    with pytest.raises(GateError, match=r"has fraud_cost 17\.95, worse than 0\.641"):
        api.promote(silent.run_id, name="fraud-model", alias="production", by="fraud_cost")
    assert api.models("fraud-model").versions["run_id"].tolist() == [alarm.run_id]  # nothing stored
    assert api.promote(silent.run_id, name="fraud-model", alias="production").alias == "production"  # on accuracy it is better

    api.metric("fraud_cost", better="higher")(fraud_cost)  # the same function, read as a gain
    assert api.promote("best", experiment="fraud", name="gain", by="fraud_cost").run_id == silent.run_id

    from mlops_magic.loop.retrain import decide
    from mlops_magic.store.monitoring import Policy

    policy = Policy(None, "fraud-model", "cost_m", None, 1.0, "200", 0.0, retrain=True, min_improvement=0.1)
    api.define_metric("cost_m", cost_matrix=COST.tolist())
    catalog = Catalog.of(store)
    assert decide(policy, "cost_m", alarm, {"cost_m": 0.4}, {"cost_m": 0.6}, catalog) == (True, [])
    passed, reasons = decide(policy, "cost_m", alarm, {"cost_m": 0.6}, {"cost_m": 0.4}, catalog)
    assert not passed and "an improvement of -0.2 < 0.1" in reasons[0]


def test_the_watcher_process_computes_a_function_metric_it_never_imported(store):
    api.metric("fraud_cost", better="lower")(fraud_cost)
    definition = {d.name: d for d in store.metric_definitions()}["fraud_cost"]
    assert "test_domain_metrics" not in definition.source and definition.source.startswith("def fraud_cost(y_true, y_pred):")
    train, live = fraud_frames()
    model = logistic(C=0.01)
    version = register_model("fraud", model, train, "target", eval_frame=live)
    X = live.drop(columns="target")
    log_stream(store, "fraud", version, model, X, live["target"], start=time.time() - 200)
    api.set_policy("fraud", "fraud_cost", max_value=0.0, window=len(live), retrain=True, min_labelled=10**6)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "mlops_magic.loop.watch", "--store", store.url, "--artifacts", str(store.artifacts.root), "--once", "fraud"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "fraud_cost: too few labels" in done.stdout  # it fired, and min_labelled held the job back
    alert = api.alerts("fraud").iloc[0]
    y, predicted = live["target"].to_numpy(), model.predict(X)
    assert alert["metric"] == "fraud_cost" and alert["value"] == pytest.approx(fraud_cost(y, predicted), abs=1e-9)


def test_a_bad_function_is_one_line_and_the_monitor_and_tracking_go_on(store, ip):
    api.metric("broken", better="lower")(broken)
    api.metric("wordy")(wordy)
    train, live = fraud_frames()
    model = logistic()
    version = register_model("fraud", model, train, "target", eval_frame=live)
    run = api.get_run(api.models("fraud").versions["run_id"].iloc[0])
    assert "broken" not in run.metrics and run.metrics["accuracy"] > 0.8
    assert run.warnings == [
        "not recorded: metric 'broken' raised ZeroDivisionError: division by zero",
        "not recorded: metric 'wordy' returned 'fine', not a number: make it return one float.",
    ]
    log_stream(store, "fraud", version, model, live.drop(columns="target"), live["target"], start=time.time() - 200)
    api.set_policy("fraud", "broken", max_value=1.0, window=30)
    dashboard = ip.run_line_magic("mlops_monitor", "fraud --window 30 --metric broken")
    report = dashboard.report
    assert sorted(report.problems) == ["metric 'broken' raised ZeroDivisionError: division by zero", "metric 'wordy' returned 'fine', not a number: make it return one float."]
    assert report.windows["accuracy"].notna().all() and report.windows["broken"].isna().all()
    assert not report.fired and "metric &#x27;broken&#x27; raised ZeroDivisionError" in dashboard.static_html()


def test_a_policy_on_a_slice_fires_where_the_whole_looks_fine(store):
    api.define_metric("cost_m", cost_matrix=COST.tolist())
    train, live = fraud_frames()
    model = logistic()
    version = register_model("fraud", model, train, "target", eval_frame=live)
    X = live.drop(columns="target")
    inside = (X["alcohol"] > 13.9).to_numpy()
    labels = np.where(inside, 1 - model.predict(X), live["target"])  # the segment goes wrong, the rest stays right
    log_stream(store, "fraud", version, model, X, labels, start=time.time() - 200)
    api.set_policy("fraud", "accuracy", min_value=0.8, window=len(live))
    api.set_policy("fraud", "accuracy", min_value=0.8, window=len(live), slice="alcohol > 13.9")
    report = api.monitor("fraud", window=len(live))
    assert report.windows["accuracy"].iloc[-1] > 0.8
    assert [(a["metric"], a["slice"], a["value"]) for a in report.fired] == [("accuracy", "alcohol > 13.9", 0.0)]
    assert report.new_alerts[0]["message"].startswith("accuracy on slice alcohol > 13.9 0 (realised) is below the minimum 0.8")
    sliced = report.slices.iloc[-1]
    assert sliced["n_predictions"] == inside.sum() and sliced["cost_m"] == pytest.approx(COST[labels[inside], model.predict(X)[inside]].mean(), abs=1e-9)
    assert len(api.backtest("fraud", "accuracy", min_value=0.8, window=len(live), slice="alcohol > 13.9").crossings) == 1
    assert len(api.backtest("fraud", "accuracy", min_value=0.8, window=len(live)).crossings) == 0
    with pytest.raises(InvalidInputError, match="--slice 'altitude > 3' cannot be applied"):
        api.set_policy("fraud", "accuracy", min_value=0.8, slice="altitude > 3")


def test_the_magic_and_the_command_line_define_and_list(store, ip, capsys, tmp_path):
    listing = ip.run_line_magic("mlops_metric", 'cost_m --cost-matrix "[[0, 1], [50, 0]]" --labels 0,1')
    assert listing.changed == "cost_m" and "cost matrix [[0.0, 1.0], [50.0, 0.0]] over labels [0, 1], lower is better" in repr(listing)
    ip.run_line_magic("mlops_metric", "recall_fraud --sklearn recall --pos-label 1")
    assert cli.main(["metric", "f_weighted", "--sklearn", "f1", "--average", "weighted"]) == 0
    assert cli.main(["metric", "worth", "--gain-matrix", "[[1, 0], [0, 5]]"]) == 0
    code = tmp_path / "costs.py"
    code.write_text("import numpy as np\n\n\ndef missed(y_true, y_pred):\n    return float(np.mean((y_true == 1) & (y_pred == 0)))\n")
    assert cli.main(["metric", "missed", "--function", f"{code}:missed", "--better", "lower"]) == 0
    assert "missed (function missed(y_true, y_pred), lower is better)" in capsys.readouterr().out
    assert list(ip.run_line_magic("mlops_metric", "").frame["name"]) == ["cost_m", "f_weighted", "missed", "recall_fraud", "worth"]
    assert Catalog.of(store).get("missed").of_rows([1, 1, 0], [0, 1, 0]) == pytest.approx(1 / 3, abs=1e-12)
    catalog = Catalog.of(store)
    assert catalog.higher_is_better("worth") and not catalog.higher_is_better("cost_m") and catalog.higher_is_better("recall_fraud")
    assert catalog.get("recall_fraud").options == {"pos_label": 1}
    for line, message in (
        ("nope --sklearn no_such_metric", "scikit-learn has no metric 'no_such_metric'"),
        ("bad --sklearn recall --option colour=red", "recall_score does not take these options"),
        ("accuracy --sklearn recall", "metric name 'accuracy' is not free"),
        ('m --cost-matrix "[[0, 1]]"', "must be square"),
        ("m --sklearn recall --cost-matrix [[0]]", "needs exactly one definition"),
    ):
        with pytest.raises(UsageError, match=message):
            ip.run_line_magic("mlops_metric", line)
    with pytest.raises(InvalidInputError, match="reads 'COST', which is not a module"):

        def uses_a_global(y_true, y_pred):
            return COST[y_true, y_pred].mean()

        api.metric("global_cost")(uses_a_global)
    import mlops_magic as mm

    assert list(mm.defined_metrics().frame["name"]) == list(ip.run_line_magic("mlops_metric", "").frame["name"])
    assert ip.run_line_magic("mlops_metric", "worth --drop").dropped
    assert [p.metric for p in store.policies_on_defined_metrics()] == []
