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
    histogram_png,
    monitor_html,
    notes_html,
    slices_html,
    timeline_html,
    variants_html,
)
from ..monitoring.report import MonitorReport
from .view import View, chart_layout, html


class MonitorDashboard(View):
    """The live dashboard; ``refresh`` (optional) returns a fresh ``MonitorReport``.

    Only the performance chart is drawn at once; the latency chart and the drift histograms are
    drawn when their tab is first opened (each chart costs about 0.1 s in the kernel), so the output
    saved with the notebook carries the charts drawn by then, and ``static_html()`` draws them all.
    """

    def __init__(self, report: MonitorReport, refresh: Callable[[], MonitorReport] | None = None, interval_s: float = 30.0):
        self._refresh_report = refresh
        self.interval_s = interval_s
        self._stop = threading.Event()
        self.header = html(layout=widgets.Layout(flex="1 1 440px"))  # the controls go below it when the notebook is narrow
        self.performance = widgets.Image(format="png", layout=chart_layout())
        self.variants = html()  # the notes on metrics, the versions and variants, the slices
        self.drift_table = html()
        self.column = widgets.Dropdown(description="histogram of", options=[], style={"description_width": "initial"})
        self.histogram = widgets.Image(format="png", layout=chart_layout())
        self.prediction_drift = html()
        self.health = html()
        self.health_image = widgets.Image(format="png", layout=chart_layout())
        self.alerts = html()
        self.timeline = html()
        self.refresh_button = widgets.Button(description="refresh", icon="refresh", disabled=refresh is None)
        self.auto = widgets.Checkbox(value=False, description=f"auto-refresh every {interval_s:g} s", disabled=refresh is None, indent=False)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.auto.observe(self._auto_changed, names="value")
        self.column.observe(self._column_changed, names="value")
        self.tabs = widgets.Tab(
            children=[
                widgets.VBox([self.performance, self.variants]),
                widgets.VBox([self.drift_table, self.column, self.histogram, self.prediction_drift]),
                widgets.VBox([self.health_image, self.health]),
                widgets.VBox([self.alerts]),
                widgets.VBox([self.timeline]),
            ]
        )
        self.tabs.observe(lambda change: self._draw_tab(change["new"]), names="selected_index")
        self._show(report)
        controls = widgets.VBox([self.refresh_button, self.auto], layout=widgets.Layout(flex="0 0 auto"))
        super().__init__(children=[widgets.HBox([self.header, controls], layout=widgets.Layout(flex_flow="row wrap")), self.tabs])

    def _show(self, report: MonitorReport) -> None:
        self.report = report
        self._drawn: set[int | None] = set()  # the tabs whose charts are drawn
        self.images = charts(report, ["performance"])  # the charts drawn so far
        self._histograms: dict[str, bytes] = {}
        self.header.value = header_html(report)
        self.performance.value = self.images.get("performance", b"")
        self.performance.layout.display = None if "performance" in self.images else "none"
        self.variants.value = notes_html(report) + variants_html(report) + slices_html(report)
        self.drift_table.value = drift_html(report.drift, "data drift (newest window vs training data)")
        columns = list(report.drift.table["column"]) if report.drift is not None else []
        self.column.options = columns
        self.column.value = columns[0] if columns else None
        self.column.layout.display = None if columns else "none"
        self.histogram.value, self.histogram.layout.display = b"", "none"
        self.prediction_drift.value = drift_html(report.prediction_drift, "prediction drift")
        self.health.value = health_html(report.health)
        self.health_image.value, self.health_image.layout.display = b"", "none"
        self.alerts.value = alerts_html(report.alerts)
        self.timeline.value = timeline_html(report.events)
        drifted = "" if report.drift is None else f" ({len(report.drift.drifted_columns)} drifted)"
        alerts = 0 if report.alerts is None else len(report.alerts)
        self.tabs.titles = ("performance", f"drift{drifted}", "service health", f"alerts ({alerts})", "timeline")
        self._draw_tab(self.tabs.selected_index)

    def _draw_tab(self, index: int | None) -> None:
        """Draw the charts of tab ``index`` if they are not drawn yet (the drift histogram, the latency chart)."""
        if index in self._drawn:
            return
        self._drawn.add(index)
        if index == 1:
            self._column_changed({"new": self.column.value})
        elif index == 2:
            self.images.update(charts(self.report, ["health"]))
            self.health_image.value = self.images.get("health", b"")
            self.health_image.layout.display = None if "health" in self.images else "none"

    def _column_changed(self, change) -> None:
        column = change["new"]
        drift = self.report.drift
        if 1 not in self._drawn:  # the drift tab is not open yet: drawn when it is
            return
        if column is None or drift is None:
            self.histogram.value, self.histogram.layout.display = b"", "none"
            return
        if column not in self._histograms:
            self._histograms[column] = histogram_png(self.report, column)
        if column == drift.table["column"].iloc[0]:
            self.images["histogram"] = self._histograms[column]
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
        """The whole dashboard as static HTML, every chart drawn."""
        self.images.update(charts(self.report, [name for name in ("health", "histogram") if name not in self.images]))
        return monitor_html(self.report, self.images)

    def shown_html(self) -> str:
        return monitor_html(self.report, self.images)

    def summary(self) -> str:
        return f"<MonitorDashboard {self.report.summary()}>"
