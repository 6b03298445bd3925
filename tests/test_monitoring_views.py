"""The monitor dashboard and the data report as real widgets (tree inspected), their static HTML,
and the magics %mlops_monitor / %mlops_data through a real shell, error paths included."""

from __future__ import annotations

import re
import time

import ipywidgets as widgets
import pytest
from IPython.core.error import UsageError

from mlops_magic import api
from mlops_magic.widgets.data_report import DataReportView
from mlops_magic.widgets.monitor import MonitorDashboard
from tests.monitoring_fixtures import log_stream, wine_frame

PNG = b"\x89PNG"


def test_dashboard_of_a_healthy_deployment(store, wine):
    model, version, live = wine
    X = live.drop(columns="target")
    log_stream(store, "wine", version, model, X, live["target"], start=time.time() - 100)
    calls = []

    def refresh():
        calls.append(1)
        return api.monitor("wine", window=25, metric="accuracy")

    dashboard = MonitorDashboard(api.monitor("wine", window=25, metric="accuracy", min_value=0.8), refresh=refresh)
    assert dashboard.report.verdict == "healthy"
    assert "healthy" in dashboard.header.value and "wine v1" in dashboard.header.value
    assert bytes(dashboard.performance.value).startswith(PNG) and dashboard.performance.layout.display is None
    assert "min 0.8" in dashboard.header.value
    assert list(dashboard.column.options) == list(dashboard.report.drift.table["column"])
    shown = dashboard._repr_mimebundle_()["text/html"]  # what the notebook keeps: the charts drawn so far
    assert shown.count("<img") == 1 and not dashboard.histogram.value and not dashboard.health_image.value  # tabs not opened: not drawn
    dashboard.tabs.selected_index = 1
    assert bytes(dashboard.histogram.value).startswith(PNG) and not dashboard.health_image.value
    dashboard.tabs.selected_index = 2
    assert bytes(dashboard.health_image.value).startswith(PNG) and dashboard.health_image.layout.display is None
    assert dashboard._repr_mimebundle_()["text/html"].count("<img") == 3
    assert "no alerts" in dashboard.alerts.value and "latency_p95" in dashboard.health.value
    headers = re.findall(r">(\w+)</th>", dashboard.variants.value)
    assert "newest window per version and variant" in dashboard.variants.value
    assert headers[:5] == ["version", "variant", "n_predictions", "n_labelled", "accuracy"] and len(headers) == 7  # the watched metric first, 3 in all; no shadow, no shadow column
    assert dashboard.auto.value is False
    dashboard.column.value = dashboard.column.options[-1]
    assert bytes(dashboard.histogram.value).startswith(PNG)
    dashboard.refresh_button.click()
    assert calls == [1]
    assert not dashboard.histogram.value and dashboard.tabs.selected_index == 2  # redrawn: the open tab's chart only
    assert bytes(dashboard.health_image.value).startswith(PNG)
    html = dashboard._repr_html_()
    assert "healthy" in html and html.count("<img") == 3 and "data drift" in html  # the whole dashboard, every chart drawn
    assert repr(dashboard).startswith("<MonitorDashboard wine v1: healthy")
    top, tabs = dashboard.children  # the verdict and headline figures with the refresh, then one tab per part
    assert dashboard.refresh_button in top.children[1].children and "predictions" in top.children[0].value
    assert tabs.titles == ("performance", "drift (0 drifted)", "service health", "alerts (0)", "timeline")
    assert dashboard.performance in tabs.children[0].children and dashboard.histogram in tabs.children[1].children


def test_dashboard_of_a_drifting_and_degraded_deployment(store, wine):
    model, version, live = wine
    X = live.drop(columns="target").copy()
    X["proline"] = X["proline"] * 1.8
    log_stream(store, "wine", version, model, X, live["target"], start=time.time() - 100)
    report = api.monitor("wine", window=40)
    assert report.verdict == "drifting" and report.drift.drifted
    assert report.drift.table["column"].iloc[0] == "proline"
    dashboard = MonitorDashboard(report)
    assert "drifting" in dashboard.header.value and dashboard.column.value == "proline"
    assert "drifted" in dashboard.drift_table.value and "proline" in dashboard.alerts.value
    assert dashboard.refresh_button.disabled and dashboard.auto.disabled
    degraded = MonitorDashboard(api.monitor("wine", window=40, metric="accuracy", min_value=0.99))
    assert degraded.report.verdict == "degraded" and "degraded" in degraded.header.value
    assert "below the minimum 0.99" in degraded.alerts.value


def test_dashboard_of_an_empty_deployment(store, wine):
    dashboard = MonitorDashboard(api.monitor("wine"))
    assert dashboard.report.verdict == "empty" and dashboard.report.n_predictions == 0
    assert "empty" in dashboard.header.value
    assert dashboard.performance.layout.display == "none" and dashboard.column.options == ()
    assert "no predictions logged yet" in dashboard._repr_html_()
    assert "no predictions logged yet" in dashboard.report._repr_html_()
    assert "no requests logged" in dashboard.health.value


def test_auto_refresh_runs_until_switched_off(store, wine):
    calls = []
    report = api.monitor("wine")

    def refresh():
        calls.append(1)
        return report

    dashboard = MonitorDashboard(report, refresh=refresh, interval_s=0.05)
    dashboard.auto.value = True
    deadline = time.time() + 5
    while len(calls) < 2 and time.time() < deadline:
        time.sleep(0.02)
    dashboard.auto.value = False
    seen = len(calls)
    time.sleep(0.2)
    assert seen >= 2 and len(calls) <= seen + 1


def test_data_report_view():
    frame = wine_frame()
    frame["constant"] = 1.0
    view = DataReportView(api.check_data(frame, target="target"))
    tabs = view.children[1]
    assert isinstance(tabs, widgets.Tab) and [tabs.get_title(i) for i in range(3)] == ["findings", "does ML help?", "columns"]
    assert "constant" in view.findings.value and "warning" in view.findings.value
    assert "does ML help? yes" in view.baseline.value and "DummyClassifier" not in view.baseline.value
    assert "proline" in view.profile.value and "target (target)" in view.profile.value
    assert "class balance" in view._repr_html_() and repr(view).startswith("<DataReport data: 178 rows")
    assert view.report._repr_html_() == view._repr_html_()  # one renderer for the record and the view


def test_monitor_and_data_magics_return_their_views(ip, wine):
    from sklearn.metrics import accuracy_score

    from mlops_magic.monitoring.policies import Backtest

    model, version, live = wine
    X = live.drop(columns="target")
    log_stream(api.get_store(), "wine", version, model, X, live["target"], start=time.time() - 100)
    ip.user_ns["wine_df"] = wine_frame()
    view = ip.run_line_magic("mlops_monitor", "wine --window 20 --metric accuracy --min 0.5")
    assert isinstance(view, MonitorDashboard)
    report = view.report
    assert (report.model, report.window, report.metric, report.threshold_min) == ("wine", "20", "accuracy", 0.5)
    assert report.n_predictions == len(X) and list(report.windows["n_predictions"]) == [18, 20, 20, 20]
    newest = live.iloc[-20:]
    assert report.windows["accuracy"].iloc[-1] == pytest.approx(accuracy_score(newest["target"], model.predict(newest.drop(columns="target"))))
    assert [p.metric for p in api.get_store().policies("wine")] == ["accuracy"]
    replay = ip.run_line_magic("mlops_monitor", "wine --window 20 --metric accuracy --min 0.99 --backtest")
    assert isinstance(replay, Backtest) and replay.windows_checked == 4 and replay.min_value == 0.99
    assert [p.min_value for p in api.get_store().policies("wine")] == [0.5]
    data = ip.run_line_magic("mlops_data", "wine_df --target target")
    assert isinstance(data, DataReportView) and data.report.n_rows == 178 and data.report.target == "target"
    with pytest.raises(UsageError, match="no registered model 'nope'"):
        ip.run_line_magic("mlops_monitor", "nope")
    with pytest.raises(UsageError, match="--min/--max need --metric"):
        ip.run_line_magic("mlops_monitor", "wine --min 0.5")
    with pytest.raises(UsageError, match="--backtest replays a policy"):
        ip.run_line_magic("mlops_monitor", "wine --backtest")
    with pytest.raises(UsageError, match="window 'soon' is not understood"):
        ip.run_line_magic("mlops_monitor", "wine --window soon")
    with pytest.raises(UsageError, match="no variable 'missing_df'"):
        ip.run_line_magic("mlops_data", "missing_df")
    with pytest.raises(UsageError, match="target 'quality' is not a column"):
        ip.run_line_magic("mlops_data", "wine_df --target quality")


def test_alert_markers_point_at_the_alerted_windows(store, wine):
    from mlops_magic.monitoring.html import alert_windows

    model, version, live = wine
    X = live.drop(columns="target").iloc[:40]
    predicted = model.predict(X)
    log_stream(store, "wine", version, model, X.iloc[:20], predicted[:20], start=time.time() - 100)
    log_stream(store, "wine", version, model, X.iloc[20:], (predicted[20:] + 1) % 3, start=time.time() - 50)
    report = api.monitor("wine", window=20, metric="accuracy", min_value=0.5)
    assert alert_windows(report) == [report.windows["end"].iloc[-1]]
