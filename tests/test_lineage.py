"""Lineage: each change records its event in its own transaction (versions, alias moves, alerts), a real
serving process records its swaps once, nothing is recorded for a refused or rolled-back change, and
the monitor dashboard shows the chain as a timeline with swaps on the performance chart."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from mlops_magic import api, cli
from mlops_magic.errors import ConflictError, GateError, NotFoundError
from mlops_magic.html import BAD, GOOD, MUTED
from mlops_magic.monitoring.html import swap_times, timeline_html
from tests.monitoring_fixtures import log_stream

from .serving_support import forest, logistic, train, wine_frames

COLUMNS = ["time", "event", "model", "version", "run_id", "alert_id", "policy_id", "job_id", "detail"]


def alert(message: str = "accuracy 0.5 < 0.8", window_end: float = 1.0, **fields) -> dict:
    return {"model": "wine", "kind": "threshold", "metric": "accuracy", "value": 0.5, "threshold": 0.8, "window": {"end": window_end}, "message": message, **fields}


@pytest.fixture
def runs(store):
    frames = wine_frames()
    weak, _ = train(logistic(C=0.01), frames=frames)
    strong, _ = train(forest(), frames=frames)
    return weak.run_id, strong.run_id


def test_promotions_record_each_new_version_and_alias_move_with_run_and_forced_flag(runs):
    weak, strong = runs
    api.promote(weak, name="wine", alias="production")
    api.promote(strong, name="wine", alias="production")
    api.promote(weak, name="wine", alias="production", force=True)  # v1 again, past the champion gate
    api.promote(weak, name="wine", alias="production", force=True)  # already there: nothing moves

    events = api.lineage("wine")
    assert list(events.columns) == COLUMNS
    assert events[["event", "version", "run_id"]].values.tolist() == [
        ["model_version.created", 1, weak], ["model_version_alias.created", 1, weak],
        ["model_version.created", 2, strong], ["model_version_alias.created", 2, strong],
        ["model_version_alias.created", 1, weak],
    ]  # fmt: skip
    moves = [(d["alias"], d["from_version"], d["forced"]) for d in events["detail"][events["event"] == "model_version_alias.created"]]
    assert moves == [("production", None, False), ("production", 1, False), ("production", 2, True)]
    assert events["time"].is_monotonic_increasing and str(events["time"].dt.tz) == "UTC"
    assert events["version"].dtype == "Int64" and events["alert_id"].isna().all()


def test_a_refused_or_rolled_back_change_records_no_event_and_queues_no_webhook(runs, store):
    weak, strong = runs
    api.add_webhook("http://127.0.0.1:9/hook")
    api.promote(strong, name="wine", alias="production")
    before = len(api.lineage("wine"))
    with pytest.raises(GateError):
        api.promote(weak, name="wine", alias="production")  # worse than the champion: refused
    with pytest.raises(RuntimeError), store.registry_write("wine") as registry:
        registry.add_version(weak, "model")
        registry.set_alias("staging", 2, user="test")
        raise RuntimeError("something failed before the commit")
    assert len(api.lineage("wine")) == before == 2
    assert [v.version for v in store.model_versions("wine")] == [1]
    assert store.deliveries_frame()["event_id"].tolist() == store.events_frame("wine")["event_id"].tolist()  # the committed two


def test_an_alert_records_alert_fired_in_its_transaction_once(runs, store):
    api.promote(runs[0], name="wine", alias="production")
    fresh = store.add_alerts([alert(policy_id=3)])
    assert len(fresh) == 1 and fresh[0]["alert_id"] >= 1
    assert store.add_alerts([alert(policy_id=3)]) == []  # the same window again: no second alert, no second event
    with pytest.raises(ConflictError):
        store.add_alerts([alert("another window", window_end=2.0), {"model": "wine", "kind": "threshold", "window": {"end": 3.0}}])  # no message
    fired = api.lineage("wine").query("event == 'alert.fired'")
    assert fired[["alert_id", "policy_id"]].values.tolist() == [[fresh[0]["alert_id"], 3]]
    assert fired["detail"].iloc[0]["message"] == "accuracy 0.5 < 0.8" and fired["detail"].iloc[0]["window"] == {"end": 1.0}
    assert len(store.alerts_frame("wine")) == 1


def test_the_serving_process_records_one_swap_per_alias_move_with_both_versions(runs):
    weak, strong = runs
    api.promote(weak, name="wine", alias="production")
    status = api.serve("wine@production", workers=2)
    try:
        api.promote(strong, name="wine", alias="production")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "deployment.swapped" not in set(api.lineage("wine")["event"]):
            time.sleep(0.1)
        time.sleep(1.0)  # the other worker swaps too, and must not record it again
    finally:
        api.stop("wine")
    assert status.status == "running"
    swaps = api.lineage("wine").query("event == 'deployment.swapped'")
    assert len(swaps) == 1
    assert (swaps["version"].iloc[0], swaps["run_id"].iloc[0]) == (2, strong)
    assert swaps["detail"].iloc[0] == {"from_version": 1, "to_version": 2, "variant": "production", "shadow": False}


def test_lineage_of_an_unknown_model_names_the_fix_and_the_cli_prints_the_events(runs, capsys):
    with pytest.raises(NotFoundError, match="no registered model 'nope'"):
        api.lineage("nope")
    api.promote(runs[0], name="wine", alias="production")
    assert cli.main(["lineage", "wine"]) == 0
    out = capsys.readouterr().out
    assert out.index("model_version.created") < out.index("model_version_alias.created")
    assert cli.main(["lineage", "nope"]) == 2


def test_the_dashboard_shows_the_chain_in_order_and_marks_swaps_on_the_performance_chart(store, wine):
    from mlops_magic.plots import performance_chart
    from mlops_magic.widgets.monitor import MonitorDashboard

    model, version, live = wine
    X = live.drop(columns="target")
    log_stream(store, "wine", version, model, X.iloc[:40], live["target"].iloc[:40], start=time.time() - 100)
    [fired] = store.add_alerts([alert("accuracy 0.61 is below 0.85", policy_id=1)])
    job = {"alert_id": fired["alert_id"], "policy_id": 1, "job_id": 7}
    store.record_event("retrain.started", "wine", **job)
    store.record_event("promotion.refused", "wine", **job, detail={"reason": "accuracy 0.84 < 0.88"})
    store.record_event("retrain.finished", "wine", **job, run_id="c" * 32)
    store.record_event("deployment.swapped", "wine", version=1, detail={"from_version": 1, "to_version": 1, "variant": "production"})
    time.sleep(0.1)
    log_stream(store, "wine", version, model, X.iloc[40:60], live["target"].iloc[40:60], start=time.time() - 0.05, step=0.001)  # after the swap
    time.sleep(0.05)

    report = api.monitor("wine", window=20, metric="accuracy", record=False)  # the chain above, no new alert after it
    assert report.events["event"].tolist() == [
        "model_version.created", "alert.fired", "retrain.started", "promotion.refused", "retrain.finished", "deployment.swapped",
    ]  # fmt: skip
    html = report._repr_html_()
    timeline = html[html.index("lineage (alert"):]
    shown = ["v1 registered", "accuracy 0.61 is below 0.85", "job 7 started", "job 7 refused: accuracy 0.84 &lt; 0.88", "job 7 finished (run cccccccc)", "serving production: v1 -&gt; v1"]
    positions = [timeline.index(text) for text in shown]
    assert positions == sorted(positions)
    chain = re.findall(r'background:(#\w+);[^>]*>(\w+)</span>', timeline[: timeline.index("<table")])
    assert chain == [(GOOD, "alert"), (GOOD, "retrain"), (BAD, "gate"), (MUTED, "promotion"), (GOOD, "swap")]  # no promotion after the refusal

    swap_time = report.events["time"].iloc[-1]
    assert swap_times(report) == [swap_time]
    unmarked = performance_chart(report.windows, "accuracy")
    assert performance_chart(report.windows, "accuracy", swaps=[swap_time]) != unmarked
    assert MonitorDashboard(report).timeline.value == timeline_html(report.events)


def test_an_empty_lineage_says_so():
    assert "no lineage events yet" in timeline_html(pd.DataFrame(columns=COLUMNS))


def test_the_chain_shown_is_the_newest_that_started_a_retraining_not_a_later_alert_in_the_cool_down(store, wine):
    from mlops_magic.monitoring.html import chain_html

    model, version, live = wine
    log_stream(store, "wine", version, model, live.drop(columns="target").iloc[:20], live["target"].iloc[:20], start=time.time() - 100)
    [first] = store.add_alerts([alert("accuracy 0.61 is below 0.85", policy_id=1)])
    store.record_event("retrain.started", "wine", alert_id=first["alert_id"], policy_id=1, job_id=1)
    store.record_event("retrain.finished", "wine", alert_id=first["alert_id"], policy_id=1, job_id=1)
    store.record_event("deployment.swapped", "wine", version=1, detail={"from_version": 1, "to_version": 1, "variant": "production"})
    store.add_alerts([alert("accuracy 0.7 < 0.8", window_end=2.0, policy_id=1)])  # a later alert, in the cool-down: it starts no job
    chain = re.findall(r'background:(#\w+);[^>]*>(\w+)</span>', chain_html(store.events_frame("wine")))
    assert chain == [(GOOD, "alert"), (GOOD, "retrain"), (MUTED, "gate"), (MUTED, "promotion"), (GOOD, "swap")]
