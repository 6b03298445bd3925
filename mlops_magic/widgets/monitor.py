"""``%mlops_monitor``: the monitor dashboard of a served model, from a ``MonitorReport``.

The HTML parts come from ``monitoring.html``, which renders the report's static HTML too.

On top the verdict and the headline figures, with a refresh button (and an optional auto-refresh,
off by default) that calls the ``refresh`` function it was given, which re-reads the store through
the API. Below, one tab each: performance over windows (threshold line, alert markers, realised and
estimated, swaps; the lines of metrics that could not be computed, versions and variants, the
metric per slice with each slice's sample size), drift (the table sorted by severity, with a
reference-vs-current histogram of a chosen column, and prediction drift), service health, the alert
log, and the loop's timeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import ipywidgets as widgets

from ..monitoring.html import (
    alerts_html,
    charts,
    drift_html,
    header_html,
    health_html,
    monitor_html,
    notes_html,
    slices_html,
    timeline_html,
    variants_html,
)
from ..monitoring.report import MonitorReport
from ..plots import drift_histogram
from .view import View, chart_layout


class MonitorDashboard(View):
    """The live dashboard; ``refresh`` (optional) returns a fresh ``MonitorReport``."""

    def __init__(self, report: MonitorReport, refresh: Callable[[], MonitorReport] | None = None, interval_s: float = 30.0):
        self._refresh_report = refresh
        self.interval_s = interval_s
        self._stop = threading.Event()
        self.header = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.performance = widgets.Image(format="png", layout=chart_layout())
        self.variants = widgets.HTML()
        self.notes = widgets.HTML()
        self.slices = widgets.HTML()
        self.drift_table = widgets.HTML()
        self.column = widgets.Dropdown(description="histogram of", options=[], style={"description_width": "initial"})
        self.histogram = widgets.Image(format="png", layout=chart_layout())
        self.prediction_drift = widgets.HTML()
        self.health = widgets.HTML()
        self.health_image = widgets.Image(format="png", layout=chart_layout())
        self.alerts = widgets.HTML()
        self.timeline = widgets.HTML()
        self.refresh_button = widgets.Button(description="refresh", icon="refresh", disabled=refresh is None)
        self.auto = widgets.Checkbox(value=False, description=f"auto-refresh every {interval_s:g} s", disabled=refresh is None, indent=False)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.auto.observe(self._auto_changed, names="value")
        self.column.observe(self._column_changed, names="value")
        self.tabs = widgets.Tab(
            children=[
                widgets.VBox([self.performance, self.notes, self.variants, self.slices]),
                widgets.VBox([self.drift_table, self.column, self.histogram, self.prediction_drift]),
                widgets.VBox([self.health_image, self.health]),
                widgets.VBox([self.alerts]),
                widgets.VBox([self.timeline]),
            ]
        )
        self._show(report)
        controls = widgets.VBox([self.refresh_button, self.auto], layout=widgets.Layout(flex="0 0 auto"))
        super().__init__(children=[widgets.HBox([self.header, controls]), self.tabs])

    def _show(self, report: MonitorReport) -> None:
        self.report = report
        self.images = charts(report)
        top = report.drift.table["column"].iloc[0] if report.drift is not None and len(report.drift.table) else None
        self._histograms = {top: self.images["histogram"]} if top is not None else {}
        self.header.value = header_html(report)
        self.performance.value = self.images.get("performance", b"")
        self.performance.layout.display = None if "performance" in self.images else "none"
        self.variants.value = variants_html(report)
        self.notes.value = notes_html(report)
        self.slices.value = slices_html(report)
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
        self.timeline.value = timeline_html(report.events)
        drifted = "" if report.drift is None else f" ({len(report.drift.drifted_columns)} drifted)"
        alerts = 0 if report.alerts is None else len(report.alerts)
        self.tabs.titles = ("performance", f"drift{drifted}", "service health", f"alerts ({alerts})", "timeline")

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
