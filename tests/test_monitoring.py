"""Live monitoring on a real store: windowed metrics equal scikit-learn's on the same rows, CBPE
estimates track realised accuracy, policies fire exactly at their thresholds, health figures equal
numpy's, and the CLI check exits non-zero on an alert."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_magic import api, cli
from mlops_magic.errors import InvalidInputError, NotFoundError
from mlops_magic.monitoring.monitor import monitor_model
from tests.monitoring_fixtures import answered_confidence, diabetes_frame, log_stream, register_model, wine_frame


def flipped(labels, n_wrong: int) -> np.ndarray:
    """``labels`` with the first ``n_wrong`` changed to another class (wine has classes 0, 1, 2)."""
    out = np.asarray(labels).copy()
    out[:n_wrong] = (out[:n_wrong] + 1) % 3
    return out


def logged_rows(name: str) -> pd.DataFrame:
    """The prediction log with its feedback labels, read with plain SQL (independent of the code under test)."""
    with api.get_store().db.reading() as conn:
        placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"  # the driver's own: sqlite3's, psycopg's
        frame = pd.read_sql(
            f"SELECT time, version, variant, inputs, output, label FROM predictions WHERE model = {placeholder} AND NOT shadow",
            conn.connection.driver_connection,
            params=(name,),
        )
    frame["output"] = [json.loads(v) for v in frame["output"]]
    frame["label"] = pd.Series([json.loads(v) if isinstance(v, str) else None for v in frame["label"]], dtype=object)
    inputs = pd.DataFrame([json.loads(v) for v in frame.pop("inputs")])
    return pd.concat([frame, inputs], axis=1)


def window_of_rows(name: str, count: int) -> pd.DataFrame:
    """The log with each row's count window (0 = oldest shown; windows counted back from the newest)."""
    frame = logged_rows(name).sort_values("time", ascending=False).reset_index(drop=True)
    frame["win"] = np.arange(len(frame)) // count
    frame["window"] = frame["win"].max() - frame["win"]
    return frame


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_windowed_classification_metrics_equal_sklearn(store, wine):
    model, version, live = wine
    X, y = live.drop(columns="target"), live["target"].to_numpy()
    now = time.time()
    log_stream(store, "wine", version, model, X, flipped(y, 9), start=now - 500, label_share=0.7, seed=1)
    report = api.monitor("wine", window=25)
    rows = window_of_rows("wine", 25)
    assert len(report.windows) == rows["window"].nunique() == 4
    for _, window in report.windows.iterrows():
        inside = rows[(rows["window"] == window["window"]) & rows["label"].notna()]
        truth, predicted = list(inside["label"]), list(inside["output"])
        assert window["n_predictions"] == (rows["window"] == window["window"]).sum()
        assert window["n_labelled"] == len(inside)
        assert window["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted), abs=1e-12)
        for name, score in (("precision_macro", skm.precision_score), ("recall_macro", skm.recall_score), ("f1_macro", skm.f1_score)):
            assert window[name] == pytest.approx(score(truth, predicted, average="macro", zero_division=0), abs=1e-12), name
        proba = model.predict_proba(inside[list(X.columns)])
        if len(set(truth)) == 3:
            assert window["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, proba, multi_class="ovr", labels=[0, 1, 2]), abs=1e-12)


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_windowed_regression_metrics_equal_sklearn_over_time_windows(store):
    frame = diabetes_frame().sample(frac=1, random_state=0).reset_index(drop=True)
    train, live = frame.iloc[:250], frame.iloc[250:].reset_index(drop=True)
    model = Ridge(alpha=0.5)
    version = register_model("diabetes", model, train, "target")
    end = time.time()
    log_stream(store, "diabetes", version, model, live.drop(columns="target"), live["target"], start=end - 191.5, label_share=0.8)
    report = monitor_model(api.get_store(), "diabetes", window="1min", until=end, record=False)
    assert report.task == "regression" and len(report.windows) == 4
    log = logged_rows("diabetes")
    for _, window in report.windows.iterrows():
        inside = log[(log["time"] > window["start"].timestamp()) & (log["time"] <= window["end"].timestamp()) & log["label"].notna()]
        truth, predicted = inside["label"].astype(float), inside["output"].astype(float)
        assert window["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(truth, predicted)), rel=1e-9)
        assert window["mae"] == pytest.approx(skm.mean_absolute_error(truth, predicted), rel=1e-9)
        assert window["r2"] == pytest.approx(skm.r2_score(truth, predicted), rel=1e-9, abs=1e-9)
    assert list(report.windows["window"]) == [0, 1, 2, 3]
    assert report.metric == "rmse" and report.latest("rmse") == report.windows["rmse"].iloc[-1]


def test_cbpe_estimate_tracks_realised_accuracy_of_a_calibrated_model(store):
    X, y = make_classification(n_samples=6000, n_features=8, n_informative=5, class_sep=0.8, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(target=y)
    train, calibration, live = frame.iloc[:2000], frame.iloc[2000:3000], frame.iloc[3000:5000].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000)
    version = register_model("synthetic", model, train, "target", eval_frame=calibration)
    ids = log_stream(store, "synthetic", version, model, live.drop(columns="target"), live["target"], start=time.time() - 100, step=0.01, label_share=0.0)
    unlabelled = api.monitor("synthetic", window=1000)
    assert unlabelled.windows["n_labelled"].sum() == 0
    assert "accuracy" not in unlabelled.windows or unlabelled.windows["accuracy"].isna().all()
    predicted = model.predict(live.drop(columns="target"))
    for w, (_, window) in enumerate(unlabelled.windows.iterrows()):
        realised = skm.accuracy_score(live["target"].iloc[w * 1000 : (w + 1) * 1000], predicted[w * 1000 : (w + 1) * 1000])
        assert window["estimated_accuracy"] == pytest.approx(realised, abs=0.03)
        assert window["estimated_f1_macro"] == pytest.approx(skm.f1_score(live["target"].iloc[w * 1000 : (w + 1) * 1000], predicted[w * 1000 : (w + 1) * 1000], average="macro"), abs=0.04)
    assert unlabelled.latest("accuracy") == unlabelled.windows["estimated_accuracy"].iloc[-1]
    api.get_store().log_feedback(ids, live["target"].tolist())
    labelled = api.monitor("synthetic", window=1000)
    assert labelled.windows["accuracy"].notna().all() and labelled.windows["estimated_accuracy"].notna().all()
    assert labelled.latest("accuracy") == labelled.windows["accuracy"].iloc[-1]


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_policy_fires_exactly_when_the_threshold_is_crossed(store, wine):
    model, version, live = wine
    X = live.drop(columns="target").iloc[:60]
    predicted = model.predict(X)
    start = time.time() - 300
    # three windows of 20, oldest first: 0, 2 and 3 wrong answers -> accuracy 1.0, 0.9, 0.85
    for i, wrong in enumerate((0, 2, 3)):
        log_stream(store, "wine", version, model, X.iloc[i * 20 : (i + 1) * 20], flipped(predicted[i * 20 : (i + 1) * 20], wrong), start=start + i * 50)
    at_bound = api.monitor("wine", window=20, metric="accuracy", min_value=0.85)
    assert list(at_bound.windows["accuracy"]) == pytest.approx([1.0, 0.9, 0.85])
    assert [a for a in at_bound.fired if a["kind"] == "threshold"] == [] and at_bound.verdict != "degraded"
    above = api.monitor("wine", window=20, metric="accuracy", min_value=0.86)
    threshold = [a for a in above.fired if a["kind"] == "threshold"]
    assert len(threshold) == 1 and threshold[0]["value"] == pytest.approx(0.85) and threshold[0]["threshold"] == 0.86
    assert above.verdict == "degraded" and len(api.get_store().policies("wine")) == 1
    recorded = api.alerts("wine")
    assert (recorded["kind"] == "threshold").sum() == 1 and "below the minimum 0.86" in recorded.loc[recorded["kind"] == "threshold", "message"].iloc[0]
    again = api.monitor("wine", window=20)
    assert any(a["kind"] == "threshold" for a in again.fired) and not any(a["kind"] == "threshold" for a in again.new_alerts)
    assert (api.alerts("wine")["kind"] == "threshold").sum() == 1
    replay = api.backtest("wine", "accuracy", min_value=0.95, window=20)
    assert replay.windows_checked == 3 and list(replay.crossings["value"]) == pytest.approx([0.9, 0.85])
    assert "would have fired 2 alert(s) in 3 past windows" in replay.summary()
    assert [p.min_value for p in api.get_store().policies("wine")] == [0.86]  # the backtest stored nothing
    upper = api.set_policy("wine", "error_rate", max_value=0.01, window=20)
    assert upper.max_value == 0.01
    assert any(a["metric"] == "error_rate" for a in api.monitor("wine", window=20).fired)  # every 20th request is a 500


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_health_per_window_equals_numpy(store, wine):
    model, version, live = wine
    log_stream(store, "wine", version, model, live.drop(columns="target"), live["target"], start=time.time() - 200)
    report = api.monitor("wine", window=30, record=False)
    with api.get_store().db.reading() as conn:
        requests = pd.read_sql("SELECT time, status_code, latency_ms FROM requests_log WHERE model = 'wine'", conn.connection.driver_connection)
    # log_stream logs one request per prediction at the same time: a request's window is its prediction's
    requests = requests.merge(window_of_rows("wine", 30)[["time", "window"]], on="time")
    assert len(report.health) == len(report.windows) == 3
    for _, window in report.health.iterrows():
        inside = requests[requests["window"] == window["window"]]
        assert window["requests"] == len(inside) and window["errors"] == (inside["status_code"] >= 400).sum()
        assert window["latency_p50"] == pytest.approx(np.percentile(inside["latency_ms"], 50))
        assert window["latency_p95"] == pytest.approx(np.percentile(inside["latency_ms"], 95))
        assert window["latency_p99"] == pytest.approx(np.percentile(inside["latency_ms"], 99))
        assert window["error_rate"] == pytest.approx((inside["status_code"] >= 400).mean())
    assert report.health["requests"].sum() == len(requests) == 78


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_metrics_per_version_and_variant(store, wine):
    from sklearn.tree import DecisionTreeClassifier

    model, version, live = wine
    train = wine_frame().sample(frac=1, random_state=0).iloc[:100]
    stump = DecisionTreeClassifier(max_depth=1, random_state=0)  # another run: it can tell two classes apart at most
    second = register_model("wine", stump, train, "target")
    X, y = live.drop(columns="target"), live["target"].to_numpy()
    start = time.time() - 100
    log_stream(store, "wine", version, model, X.iloc[:40], flipped(y[:40], 4), start=start, variant="production")
    log_stream(store, "wine", second, stump, X.iloc[40:60], y[40:60], start=start + 0.5, variant="staging")
    report = api.monitor("wine", window=100, record=False)
    variants = report.by_variant.set_index("variant")
    production = skm.accuracy_score(flipped(y[:40], 4), model.predict(X.iloc[:40]))
    staging = skm.accuracy_score(y[40:60], stump.predict(X.iloc[40:60]))
    assert second != version and set(report.by_variant["version"]) == {version, second}
    assert variants.loc["production", "version"] == version and variants.loc["staging", "version"] == second
    assert variants.loc["production", "accuracy"] == pytest.approx(production)
    assert variants.loc["staging", "accuracy"] == pytest.approx(staging)
    assert staging < production - 0.2  # the stump is worse, and the figures show it
    assert list(variants.loc[["production", "staging"], "n_predictions"]) == [40, 20]
    assert variants.loc["staging", "estimated_accuracy"] == pytest.approx(
        np.mean(answered_confidence(stump, X.iloc[40:60], stump.predict(X.iloc[40:60]))), abs=1e-9
    )  # no eval data behind the stump: its estimate is its mean confidence


def test_unknown_model_and_bad_options_are_named(store, wine):
    with pytest.raises(NotFoundError, match="no registered model 'nope'"):
        api.monitor("nope")
    with pytest.raises(InvalidInputError, match="window 'soon' is not understood"):
        api.monitor("wine", window="soon")
    with pytest.raises(InvalidInputError, match="metric 'speed' cannot be monitored"):
        api.monitor("wine", metric="speed", min_value=1)
    with pytest.raises(InvalidInputError, match="needs a threshold"):
        api.set_policy("wine", "accuracy")


def test_cli_check_exits_non_zero_on_an_alert(store, wine, capsys):
    model, version, live = wine
    X = live.drop(columns="target").iloc[:40]
    log_stream(store, "wine", version, model, X, model.predict(X), start=time.time() - 100)
    assert cli.main(["monitor", "policy", "wine", "--metric", "accuracy", "--min", "0.9", "--window", "20"]) == 0
    assert cli.main(["monitor", "check", "wine"]) == 0
    log_stream(store, "wine", version, model, X.iloc[:20], flipped(model.predict(X.iloc[:20]), 5), start=time.time() - 25)
    assert cli.main(["monitor", "check", "wine"]) == 1
    out = capsys.readouterr().out
    assert "ALERT [threshold] accuracy 0.75" in out
    assert cli.main(["monitor", "check", "nope"]) == 2


def test_policy_checks_the_newest_realised_window_and_a_newer_estimate(store, wine):
    model, version, live = wine
    X = live.drop(columns="target").iloc[:60]
    predicted = model.predict(X)
    start = time.time() - 300
    log_stream(store, "wine", version, model, X.iloc[:20], predicted[:20], start=start)
    log_stream(store, "wine", version, model, X.iloc[20:40], flipped(predicted[20:40], 5), start=start + 50)
    log_stream(store, "wine", version, model, X.iloc[40:60], predicted[40:60], start=start + 100, label_share=0.0)
    report = api.monitor("wine", window=20, metric="accuracy", min_value=0.8)
    assert list(report.windows["accuracy"].round(2)[:2]) == [1.0, 0.75] and report.windows["accuracy"].isna().iloc[-1]
    assert report.windows["estimated_accuracy"].iloc[-1] > 0.8
    fired = [a for a in report.fired if a["kind"] == "threshold"]
    assert len(fired) == 1 and fired[0]["value"] == pytest.approx(0.75) and "(realised)" in fired[0]["message"]
    assert report.verdict == "degraded"
    # an upper bound that only the newest window's estimate crosses fires on the estimate
    upper = api.monitor("wine", window=20, metric="accuracy", max_value=0.9)
    fired = [a for a in upper.fired if a["kind"] == "threshold"]
    assert len(fired) == 1 and "(estimated) is above the maximum 0.9" in fired[0]["message"]


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_request_log_is_sampled_above_the_cap_and_counts_scaled(store):
    from mlops_magic.monitoring.health import health_windows

    now = time.time()
    failed = np.random.default_rng(0).random(1000) < 0.25
    store.log_requests([{"time": now - 100 + i * 0.1, "model": "m", "version": 1, "status_code": 503 if failed[i] else 200, "latency_ms": float(i % 50), "n_rows": 1} for i in range(1000)])
    everything, step = store.request_rows("m", since=now - 200)
    assert step == 1 and len(everything) == 1000
    sampled, step = store.request_rows("m", since=now - 200, cap=100)
    assert step == 10 and len(sampled) == 100
    health = health_windows(sampled, [(0, now - 200, now)], step)
    every_tenth = failed[9::10]  # request ids start at 1: the sample holds ids 10, 20, ...
    assert health["requests"].iloc[0] == 1000 and health["errors"].iloc[0] == 10 * every_tenth.sum() and health["sampled"].all()
    assert health["error_rate"].iloc[0] == pytest.approx(every_tenth.mean()) and abs(every_tenth.mean() - failed.mean()) < 0.1


def test_a_policy_is_checked_on_its_own_window_only(ip, wine):
    model, version, live = wine
    X = live.drop(columns="target").iloc[:60]
    predicted = model.predict(X)
    labels = np.concatenate([predicted[:50], flipped(predicted[50:], 10)])  # the newest 10 answers wrong
    log_stream(api.get_store(), "wine", version, model, X, labels, start=time.time() - 100)
    api.set_policy("wine", "accuracy", min_value=0.9, window=200)
    view = ip.run_line_magic("mlops_monitor", "wine --window 20")
    assert list(view.report.windows["accuracy"]) == [1.0, 1.0, 0.5] and view.report.threshold_min is None
    threshold = api.alerts("wine").query("kind == 'threshold'")
    assert not [a for a in view.report.fired if a["kind"] == "threshold"] and not len(threshold)
    view = ip.run_line_magic("mlops_monitor", "wine --window 200")
    assert view.report.threshold_min == 0.9 and view.report.verdict == "degraded"
    threshold = api.alerts("wine").query("kind == 'threshold'")
    assert len(threshold) == 1 and threshold["window"].iloc[0]["window"] == "200"
    assert threshold["value"].iloc[0] == pytest.approx(50 / 60)


def test_cli_check_exits_1_only_when_a_policy_is_crossed_on_its_own_window(store, wine, capsys):
    model, version, live = wine
    X = pd.concat([live.drop(columns="target").iloc[20:60], live.drop(columns="target").iloc[:20]])  # newest rows like the training data: no drift
    predicted = model.predict(X)
    start = time.time() - 200
    log_stream(store, "wine", version, model, X, np.concatenate([predicted[:40], flipped(predicted[40:], 5)]), start=start)
    assert cli.main(["monitor", "policy", "wine", "--metric", "accuracy", "--min", "0.9", "--window", "200"]) == 0
    assert cli.main(["monitor", "policy", "wine", "--metric", "error_rate", "--max", "0.5", "--window", "20"]) == 0
    # accuracy is 0.75 over the newest 20 (the other policy's window) and 55/60 over its own: no alert
    assert cli.main(["monitor", "check", "wine"]) == 0
    assert "ALERT" not in capsys.readouterr().out
    log_stream(store, "wine", version, model, X.iloc[:20], flipped(predicted[:20], 10), start=start + 100)  # 65/80 over 200
    assert cli.main(["monitor", "check", "wine"]) == 1
    out = capsys.readouterr().out
    assert "ALERT [threshold] accuracy 0.8125" in out and out.count("ALERT") == 1


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_windows_count_answered_predictions_and_show_the_shadow_on_the_same_rows(store, wine):
    from sklearn.tree import DecisionTreeClassifier

    from mlops_magic.widgets.monitor import MonitorDashboard

    model, version, live = wine
    train = wine_frame().sample(frac=1, random_state=0).iloc[:100]
    stump = DecisionTreeClassifier(max_depth=1, random_state=0)
    challenger = register_model("wine", stump, train, "target", eval_frame=live)
    X, y = live.drop(columns="target").iloc[:60], live["target"].to_numpy()[:60]
    start = time.time() - 100
    ids = log_stream(store, "wine", version, model, X, y, start=start, variant="production")
    log_stream(store, "wine", challenger, stump, X, y, start=start, variant="staging", shadow_of=ids)  # labels on <id>.s too
    report = api.monitor("wine", window=20, record=False)
    assert report.n_predictions == 60 and list(report.windows["n_predictions"]) == [20, 20, 20]
    newest = report.by_variant[report.by_variant["window"] == 2].set_index("shadow")
    assert list(newest["version"]) == [version, challenger] and list(newest["n_predictions"]) == [20, 20]
    rows = slice(40, 60)
    assert newest.loc[False, "accuracy"] == pytest.approx(skm.accuracy_score(y[rows], model.predict(X.iloc[rows])))
    assert newest.loc[True, "accuracy"] == pytest.approx(skm.accuracy_score(y[rows], stump.predict(X.iloc[rows])))
    assert newest.loc[True, "accuracy"] < newest.loc[False, "accuracy"]
    assert report.windows["accuracy"].iloc[-1] == newest.loc[False, "accuracy"]  # the shadow stays out of the served figures
    assert newest[["estimated_accuracy", "estimated_f1_macro"]].notna().all().all()
    assert newest.loc[True, "estimated_accuracy"] < newest.loc[False, "estimated_accuracy"]
    dashboard = MonitorDashboard(report)
    for html in (dashboard.variants.value, dashboard._repr_html_(), report._repr_html_()):
        assert "shadow" in html and "estimated_accuracy" in html and "staging" in html


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
def test_a_shadow_row_is_in_the_time_window_of_the_prediction_it_shadows(store, wine):
    model, version, live = wine
    X, y = live.drop(columns="target").iloc[:60], live["target"].to_numpy()[:60]
    start = time.time() - 100
    ids = log_stream(store, "wine", version, model, X, y, start=start)
    log_stream(store, "wine", version, model, X, y, start=start + 0.9, shadow_of=ids)  # each 0.9 s after its prediction
    report = monitor_model(api.get_store(), "wine", window="10s", until=start + 60.5, record=False)
    sizes = report.by_variant.pivot_table(index="window", columns="shadow", values="n_predictions")
    assert list(report.windows["n_predictions"]) == [1, 10, 10, 10, 10, 10, 9]
    assert list(sizes[True]) == list(sizes[False]) == list(report.windows["n_predictions"])


@pytest.mark.both_stores  # its SQL aggregates, on PostgreSQL too
@pytest.mark.parametrize("logged", [True, False], ids=["confidence logged", "old rows: from the sample"])
def test_the_estimate_covers_exactly_the_rows_of_each_count_window(store, logged):
    from sklearn.linear_model import LogisticRegression as Logistic

    frame = wine_frame().sample(frac=1, random_state=1).reset_index(drop=True)
    model = make_pipeline(StandardScaler(), Logistic(C=0.05, max_iter=1000))
    version = register_model("raw", model, frame.iloc[:100], "target")  # no eval data: the estimate is the mean confidence
    X = frame.drop(columns="target").iloc[100:130]
    ids = log_stream(store, "raw", version, model, X, frame["target"].iloc[100:130], start=time.time() - 10, step=0.0, label_share=0.0, confidence=logged)
    assert ids == sorted(ids)  # one request: every row at one time, in arrival order by id
    confidence = np.array(answered_confidence(model, X, model.predict(X)))
    report = api.monitor("raw", window=10, record=False)
    assert list(report.windows["n_predictions"]) == [10, 10, 10]
    for w in range(3):
        assert report.windows["estimated_accuracy"].iloc[w] == pytest.approx(confidence[w * 10 : (w + 1) * 10].mean(), abs=1e-12)


def test_cbpe_follows_accuracy_that_moves_with_confidence_and_calibration_helps(store):
    from sklearn.naive_bayes import GaussianNB

    X, y = make_classification(n_samples=7000, n_features=8, n_informative=3, n_redundant=4, class_sep=0.7, flip_y=0.02, random_state=5)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(target=y)
    train, calibration, live = frame.iloc[:1500], frame.iloc[1500:4500], frame.iloc[4500:].reset_index(drop=True)
    model = GaussianNB()  # redundant features make naive Bayes overconfident
    calibrated = register_model("calibrated", model, train, "target", eval_frame=calibration)
    raw = register_model("raw", model, train, "target")
    features = live.drop(columns="target")
    order = np.argsort(-model.predict_proba(features).max(axis=1))
    # three windows of 400, oldest first: the most confident rows, middling ones, the ones nearest the boundary
    stream = live.iloc[np.concatenate([order[:400], order[1000:1400], order[-400:]])].reset_index(drop=True)
    predicted = model.predict(stream.drop(columns="target"))
    realised = np.array([skm.accuracy_score(stream["target"][w * 400 : (w + 1) * 400], predicted[w * 400 : (w + 1) * 400]) for w in range(3)])
    assert realised[0] - realised[2] > 0.2  # a constant estimate cannot pass
    errors = {}
    for name, version in (("calibrated", calibrated), ("raw", raw)):
        log_stream(store, name, version, model, stream.drop(columns="target"), stream["target"], start=time.time() - 2000, label_share=0.0)
        estimated = api.monitor(name, window=400, record=False).windows["estimated_accuracy"].to_numpy()
        errors[name] = np.abs(estimated - realised)
        assert estimated[0] > estimated[1] > estimated[2], name  # the estimate follows the fall
    assert errors["calibrated"].max() < 0.07  # calibrated per answered class: 0.062 here (0.045 pooled over classes)
    assert errors["calibrated"].sum() < errors["raw"].sum() / 2


def test_rows_logged_without_a_confidence_are_estimated_from_the_sample(store):
    X, y = make_classification(n_samples=3000, n_features=8, n_informative=5, class_sep=0.8, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(target=y)
    train, calibration, live = frame.iloc[:1000], frame.iloc[1000:2000], frame.iloc[2000:].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000)
    for name, confidence in (("logged", True), ("old", False)):
        version = register_model(name, model, train, "target", eval_frame=calibration)
        log_stream(store, name, version, model, live.drop(columns="target"), live["target"], start=time.time() - 2000, label_share=0.0, confidence=confidence)
    logged = api.monitor("logged", window=500, record=False).windows["estimated_accuracy"]
    old = api.monitor("old", window=500, record=False).windows["estimated_accuracy"]
    assert old.notna().all() and np.abs(old.to_numpy() - logged.to_numpy()).max() < 0.03


def test_a_version_without_predict_proba_keeps_the_others_estimates(store, wine):
    from sklearn.linear_model import RidgeClassifier

    model, version, live = wine
    train = wine_frame().sample(frac=1, random_state=0).iloc[:100]
    ridge = RidgeClassifier()
    other = register_model("wine", ridge, train, "target")
    assert not hasattr(ridge, "predict_proba")
    X, y = live.drop(columns="target"), live["target"].to_numpy()
    start = time.time() - 100
    log_stream(store, "wine", version, model, X.iloc[:30], y[:30], start=start, variant="a", label_share=0.0)
    log_stream(store, "wine", other, ridge, X.iloc[30:60], y[30:60], start=start + 0.5, variant="b", label_share=0.0)
    report = api.monitor("wine", window=20, record=False)
    assert report.windows["estimated_accuracy"].notna().all()
    variants = report.by_variant.groupby("version")["estimated_accuracy"]
    assert variants.apply(lambda v: v.notna().all())[version] and variants.apply(lambda v: v.isna().all())[other]


def test_monitoring_end_to_end_through_a_real_serving_process(store):
    """/invocations -> the writer process -> the store -> /feedback -> mm.monitor, with a shadow beside the champion."""
    import requests
    from sklearn.tree import DecisionTreeClassifier

    frame = wine_frame().sample(frac=1, random_state=0).reset_index(drop=True)
    train, live = frame.iloc[:100], frame.iloc[100:].reset_index(drop=True)
    champion = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    challenger = DecisionTreeClassifier(max_depth=1, random_state=0)
    register_model("wine", champion, train, "target", eval_frame=live, alias="production")
    register_model("wine", challenger, train, "target", eval_frame=live, alias="staging")
    X, y = live.drop(columns="target").iloc[:50], live["target"].iloc[:50]
    status = api.serve("wine@production", shadow="staging", workers=1)
    try:
        with requests.Session() as session:
            ids, predictions = [], []
            for rows in (slice(0, 20), slice(20, 50)):
                split = X.iloc[rows].to_dict("split")
                answer = session.post(f"{status.url}/invocations", json={"dataframe_split": {"columns": split["columns"], "data": split["data"]}}, timeout=30)
                assert answer.status_code == 200, answer.text
                ids += answer.json()["ids"]
                predictions += answer.json()["predictions"]
            labels = flipped(y.to_numpy(), 6).tolist()  # six of the first answers wrong
            sent = session.post(f"{status.url}/feedback", json={"ids": ids[:40], "labels": labels[:40]}, timeout=30)
            assert sent.status_code == 200, sent.text
    finally:
        api.stop("wine")  # the shadow's rows are written before it returns
    assert predictions == champion.predict(X).tolist()
    with api.get_store().db.reading() as conn:  # each row carries its confidence: the estimates are aggregates
        assert conn.exec_driver_sql("SELECT count(*), count(confidence) FROM predictions").one() == (100, 100)
    report = api.monitor("wine", window=50, record=False)
    assert report.n_predictions == 50 and list(report.windows["n_predictions"]) == [50] and report.n_labelled == 40
    assert report.windows["accuracy"].iloc[0] == pytest.approx(skm.accuracy_score(labels[:40], predictions[:40]), abs=1e-12)
    assert 0 < report.windows["estimated_accuracy"].iloc[0] <= 1
    sides = report.by_variant.set_index("shadow")
    assert list(sides["variant"]) == ["production", "staging"] and list(sides["n_predictions"]) == [50, 50] and list(sides["n_labelled"]) == [40, 40]
    assert sides.loc[True, "accuracy"] == pytest.approx(skm.accuracy_score(labels[:40], challenger.predict(X.iloc[:40])), abs=1e-12)
    assert sides[["estimated_accuracy", "estimated_f1_macro"]].notna().all().all()
