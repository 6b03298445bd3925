"""``%mlops_monitor``: the monitor dashboard of a served model, from a ``MonitorReport``.

A header with the verdict, performance over windows (threshold line, alert markers, realised and
estimated), the drift table sorted by severity with a reference-vs-current histogram of a chosen
column, service health and the alert log. A refresh button (and an optional auto-refresh, off by
default) calls the ``refresh`` function it was given, which re-reads the store through the API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import ipywidgets as widgets

from ..monitoring.report import DriftReport, MonitorReport
from ..plots import drift_histogram, health_chart, performance_chart, png_img_tag
from .. import html as h
from .view import View

VERDICT_COLOURS = {"healthy": h.GOOD, "degraded": h.BAD, "drifting": h.WARN, "empty": h.MUTED}
DRIFT_COLUMNS = ["column", "kind", "test", "statistic", "p_value", "threshold", "drifted", "psi", "js_distance", "n_reference", "n_current", "note"]
ALERT_COLUMNS = ["time", "kind", "metric", "value", "threshold", "message"]
HEALTH_COLUMNS = ["window", "end", "requests", "errors", "error_rate", "latency_p50", "latency_p95", "latency_p99"]


def header_html(report: MonitorReport) -> str:
    version = f" v{report.version}" if report.version is not None else ""
    verdict = h.badge(report.verdict, VERDICT_COLOURS[report.verdict])
    figure = ""
    if report.metric:
        value = report.latest(report.metric)
        bounds = " ".join(f"{n} {b:g}" for n, b in (("min", report.threshold_min), ("max", report.threshold_max)) if b is not None)
        figure = f" · {h.escape(report.metric)} {h.fmt(value)}" + (f" ({h.escape(bounds)})" if bounds else "")
    return (
        f"<div style='font-family:sans-serif;font-size:14px'><b>{h.escape(report.model)}{version}</b> {verdict}"
        f"<span style='color:{h.MUTED};font-size:12px'> · window {h.escape(report.window)} · {report.n_predictions} predictions"
        f" · {report.n_labelled} labelled in view{figure}</span></div>"
    )


def drift_html(drift: DriftReport | None, title: str) -> str:
    if drift is None:
        return f"<div style='color:{h.MUTED}'>{h.escape(title)}: no reference data or no predictions yet</div>"
    rows = drift.table[DRIFT_COLUMNS].head(30)
    cells = [[h.escape(h.fmt(v)) if k != "drifted" else (h.badge("drifted", h.BAD) if v else "no") for k, v in zip(DRIFT_COLUMNS, r)] for r in rows.itertuples(index=False)]
    return f"<h4 style='margin:4px 0'>{h.escape(title)}</h4><div style='font-size:12px'>{h.escape(drift.summary())}</div>" + h.table(DRIFT_COLUMNS, cells, raw=True)


def drift_report_html(drift: DriftReport) -> str:
    """A ``DriftReport`` on its own: the drift table and the most drifted column's histogram."""
    parts = [drift_html(drift, "data drift")]
    if len(drift.table):
        column = drift.table["column"].iloc[0]
        parts.append(png_img_tag(drift_histogram(drift.histograms[column], column), f"{column}: reference vs current"))
    return '<div style="font-family:sans-serif;font-size:13px">' + "".join(parts) + "</div>"


def alerts_html(alerts) -> str:
    if alerts is None or not len(alerts):
        return f"<h4 style='margin:4px 0'>alerts</h4><div style='color:{h.MUTED}'>no alerts</div>"
    rows = alerts[ALERT_COLUMNS].head(20).assign(time=lambda f: f["time"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    return "<h4 style='margin:4px 0'>alerts</h4>" + h.table(ALERT_COLUMNS, rows.itertuples(index=False))


def variants_html(report: MonitorReport) -> str:
    """Metrics of the newest window per model version and A/B variant (shadow rows marked)."""
    if not len(report.by_variant):
        return ""
    newest = report.by_variant[report.by_variant["window"] == report.by_variant["window"].max()]
    metrics = [c for c in newest.columns if c not in ("window", "end", "version", "variant", "shadow")]
    rows = [(r.version, r.variant if isinstance(r.variant, str) else "–", "yes" if r.shadow else "", *(getattr(r, m) for m in metrics)) for r in newest.itertuples()]
    return "<h4 style='margin:4px 0'>newest window per version and variant</h4>" + h.table(["version", "variant", "shadow", *metrics], rows)


def health_html(health) -> str:
    if not len(health):
        return f"<h4 style='margin:4px 0'>service health</h4><div style='color:{h.MUTED}'>no requests logged</div>"
    rows = health[HEALTH_COLUMNS].tail(10).assign(end=lambda f: f["end"].dt.strftime("%H:%M:%S"))
    note = " (counts scaled from a sample of the request log)" if health["sampled"].any() else ""
    return f"<h4 style='margin:4px 0'>service health{note}</h4>" + h.table(HEALTH_COLUMNS, rows.itertuples(index=False))


def alert_windows(report: MonitorReport) -> list:
    """The ``end`` of each shown window that a recorded threshold alert on the shown metric refers to."""
    if report.alerts is None or not len(report.alerts) or not len(report.windows):
        return []
    alerted = report.alerts[(report.alerts["kind"] == "threshold") & (report.alerts["metric"] == report.metric)]
    fired = [w["end"] for w in alerted["window"] if isinstance(w, dict) and "end" in w]
    return [end for end in report.windows["end"] if any(abs(end.timestamp() - t) < 1e-3 for t in fired)]


def charts(report: MonitorReport) -> dict[str, bytes]:
    """The dashboard's PNG charts (performance, health, and the most drifted column's histogram)."""
    found: dict[str, bytes] = {}
    if len(report.windows) and report.metric:
        found["performance"] = performance_chart(report.windows, report.metric, report.threshold_min, report.threshold_max, alert_windows(report))
    if len(report.health) and report.health["requests"].sum():
        found["health"] = health_chart(report.health)
    if report.drift is not None and len(report.drift.table):
        column = report.drift.table["column"].iloc[0]
        found["histogram"] = drift_histogram(report.drift.histograms[column], column)
    return found


def monitor_html(report: MonitorReport, images: dict[str, bytes] | None = None) -> str:
    images = charts(report) if images is None else images
    parts = [header_html(report)]
    if "performance" in images:
        parts.append(png_img_tag(images["performance"], f"{report.metric} per window"))
    elif report.n_predictions == 0:
        parts.append(f"<div style='color:{h.MUTED}'>no predictions logged yet: serve the model and send requests</div>")
    parts.append(variants_html(report))
    parts.append(drift_html(report.drift, "data drift (newest window vs training data)"))
    if "histogram" in images:
        parts.append(png_img_tag(images["histogram"], "reference vs current"))
    parts.append(drift_html(report.prediction_drift, "prediction drift"))
    parts.append(health_html(report.health))
    if "health" in images:
        parts.append(png_img_tag(images["health"], "latency and errors"))
    parts.append(alerts_html(report.alerts))
    return '<div style="font-family:sans-serif;font-size:13px">' + "".join(parts) + "</div>"


class MonitorDashboard(View):
    """The live dashboard; ``refresh`` (optional) returns a fresh ``MonitorReport``."""

    def __init__(self, report: MonitorReport, refresh: Callable[[], MonitorReport] | None = None, interval_s: float = 30.0):
        self._refresh_report = refresh
        self.interval_s = interval_s
        self._stop = threading.Event()
        self.header = widgets.HTML()
        self.performance = widgets.Image(format="png")
        self.variants = widgets.HTML()
        self.drift_table = widgets.HTML()
        self.column = widgets.Dropdown(description="column", options=[])
        self.histogram = widgets.Image(format="png")
        self.prediction_drift = widgets.HTML()
        self.health = widgets.HTML()
        self.health_image = widgets.Image(format="png")
        self.alerts = widgets.HTML()
        self.refresh_button = widgets.Button(description="refresh", icon="refresh", disabled=refresh is None)
        self.auto = widgets.Checkbox(value=False, description=f"auto-refresh every {interval_s:g} s", disabled=refresh is None)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.auto.observe(self._auto_changed, names="value")
        self.column.observe(self._column_changed, names="value")
        self._show(report)
        super().__init__(
            children=[
                widgets.HBox([self.header, self.refresh_button, self.auto]),
                self.performance,
                self.variants,
                self.drift_table,
                widgets.HBox([self.column]),
                self.histogram,
                self.prediction_drift,
                self.health,
                self.health_image,
                self.alerts,
            ]
        )

    def _show(self, report: MonitorReport) -> None:
        self.report = report
        self.images = charts(report)
        top = report.drift.table["column"].iloc[0] if report.drift is not None and len(report.drift.table) else None
        self._histograms = {top: self.images["histogram"]} if top is not None else {}
        self.header.value = header_html(report)
        self.performance.value = self.images.get("performance", b"")
        self.performance.layout.display = None if "performance" in self.images else "none"
        self.variants.value = variants_html(report)
        self.drift_table.value = drift_html(report.drift, "data drift (newest window vs training data)")
        columns = list(report.drift.table["column"]) if report.drift is not None else []
        self.column.options = columns
        self.column.value = columns[0] if columns else None
        self.column.layout.display = None if columns else "none"
        self._column_changed({"new": self.column.value})
        self.prediction_drift.value = drift_html(report.prediction_drift, "prediction drift")
        self.health.value = health_html(report.health)
        self.health_image.value = self.images.get("health", b"")
        self.health_image.layout.display = None if "health" in self.images else "none"
        self.alerts.value = alerts_html(report.alerts)

    def _column_changed(self, change) -> None:
        column = change["new"]
        drift = self.report.drift
        if column is None or drift is None:
            self.histogram.value, self.histogram.layout.display = b"", "none"
            return
        if column not in self._histograms:
            self._histograms[column] = drift_histogram(drift.histograms[column], column)
        self.histogram.value = self._histograms[column]
        self.histogram.layout.display = None

    def refresh(self) -> None:
        """Re-read the store (through the function given) and redraw."""
        if self._refresh_report is not None:
            self._show(self._refresh_report())

    def _auto_changed(self, change) -> None:
        self._stop.set()
        if change["new"]:
            self._stop = threading.Event()
            threading.Thread(target=self._auto_loop, args=(self._stop,), daemon=True).start()

    def _auto_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            self.refresh()

    def static_html(self) -> str:
        return monitor_html(self.report, self.images)

    def summary(self) -> str:
        return f"<MonitorDashboard {self.report.summary()}>"
