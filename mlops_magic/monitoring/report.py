"""Plain results of monitoring: what the API returns and the widgets draw (no store, no widgets here).

Their static HTML comes from ``monitoring.html``, the renderer the widgets use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .policies import crossing, newest_values


@dataclass
class DriftReport:
    """Drift of ``current`` against ``reference``: one row per column in ``table``, and the verdict.

    ``table`` columns: column, kind, test, statistic, p_value (NaN for distance tests), threshold,
    drifted, psi, js_distance, n_reference, n_current, missing_reference, missing_current,
    missing_p_value, severity (statistic relative to its threshold: >= 1 means drifted), note.
    Rows are sorted by severity, most drifted first. ``histograms`` holds, per column, the
    reference and current counts over shared bins, for the overlay chart.
    """

    table: Any
    drifted: bool
    alpha: float
    correction: str
    n_reference: int
    n_current: int
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        return list(self.table.loc[self.table["drifted"], "column"])

    def summary(self) -> str:
        share = f"{len(self.drifted_columns)} of {len(self.table)} columns drifted"
        verdict = "drift detected" if self.drifted else "no drift detected"
        return (
            f"{verdict}: {share} (alpha {self.alpha:g}, {self.correction} correction; "
            f"{self.n_reference} reference rows, {self.n_current} current rows)"
        )

    def __repr__(self) -> str:
        shown = self.table[["column", "test", "statistic", "p_value", "threshold", "drifted", "n_current"]]
        return f"DriftReport: {self.summary()}\n{shown.to_string(index=False)}"

    def _repr_html_(self) -> str:
        """The drift part of the monitor dashboard: the table by severity, the top column's histogram."""
        from .html import drift_report_html

        return drift_report_html(self)


@dataclass
class MonitorReport:
    """How a served model is doing: windows of live performance, drift, health, alerts.

    ``windows``: one row per window, oldest first (window, start, end, n_predictions, n_labelled,
    and the realised metrics, plus ``estimated_<metric>`` where labels are estimated).
    ``by_variant``: per window, model version, A/B variant and shadow: rows, labelled rows, realised
    and estimated metrics; a shadow's rows are those of the answered predictions it shadows.
    ``health``: per window request count, error rate and latency p50/p95/p99.
    """

    model: str
    version: int | None
    task: str | None
    window: str
    metric: str | None
    threshold_min: float | None
    threshold_max: float | None
    windows: Any
    by_variant: Any
    health: Any
    drift: DriftReport | None
    prediction_drift: DriftReport | None
    alerts: Any
    n_predictions: int
    n_labelled: int
    fired: list[dict[str, Any]] = field(default_factory=list)  # alerts of this evaluation
    new_alerts: list[dict[str, Any]] = field(default_factory=list)  # those not recorded before
    events: Any = None  # the model's lineage events, oldest first (DataFrame, as ``mm.lineage``)
    slice: str | None = None  # the slice the shown metric is watched on (None: every row)
    slices: Any = None  # per slice and window: rows read, rows in the slice, labelled, metrics (``monitoring.slices``)
    problems: list[str] = field(default_factory=list)  # one line per metric that could not be computed
    sampled: list[str] = field(default_factory=list)  # metrics computed on each window's sample (``n_sample`` rows)

    def series_table(self, slice: str | None = None):
        """The per-window table a metric is read from: ``windows``, or the rows of ``slice`` in ``slices``."""
        if slice is None:
            return self.windows
        return self.slices[self.slices["slice"] == slice].reset_index(drop=True)

    @property
    def verdict(self) -> str:
        """``empty`` (nothing logged), ``degraded`` (a threshold crossed), ``drifting``, or ``healthy``."""
        if self.n_predictions == 0:
            return "empty"
        if self.crossed():
            return "degraded"
        if (self.drift is not None and self.drift.drifted) or (self.prediction_drift is not None and self.prediction_drift.drifted):
            return "drifting"
        return "healthy"

    def latest(self, metric: str) -> float | None:
        """The metric's value in the newest window that has it (realised, else estimated; health from ``health``)."""
        shown = self.series_table(self.slice if metric == self.metric else None)
        for table, name in ((shown, metric), (shown, f"estimated_{metric}"), (self.health, metric)):
            if name in table and table[name].notna().any():
                return float(table[name].dropna().iloc[-1])
        return None

    def crossed(self) -> bool:
        """Whether the shown threshold is crossed by the values a policy checks (see ``newest_values``)."""
        if self.metric is None or (self.threshold_min is None and self.threshold_max is None):
            return False
        return any(crossing(v, self.threshold_min, self.threshold_max) for v in newest_values(self, self.metric, slice=self.slice)["value"])

    def summary(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        parts = [f"{self.model}{version}: {self.verdict}", f"{self.n_predictions} predictions, {self.n_labelled} labelled"]
        if self.metric:
            value = self.latest(self.metric)
            on = f" on {self.slice}" if self.slice else ""
            parts.append(f"{self.metric}{on} {'n/a' if value is None else f'{value:.4g}'}")
        if self.drift is not None:
            parts.append(f"{len(self.drift.drifted_columns)} drifted columns")
        return "; ".join(parts)

    def __repr__(self) -> str:
        lines = [f"MonitorReport {self.summary()} (window {self.window})"]
        if len(self.windows):
            lines.append(self.windows.tail(10).to_string(index=False))
        newest = self.by_variant[self.by_variant["window"] == self.by_variant["window"].max()] if len(self.by_variant) else self.by_variant
        if len(newest) > 1:  # versions, A/B variants or a shadow side by side
            lines.append("newest window per version and variant:\n" + newest.drop(columns=["window", "end"]).to_string(index=False))
        if self.slices is not None and len(self.slices):
            newest = self.slices[self.slices["window"] == self.slices["window"].max()]
            lines.append("newest window per slice:\n" + newest.drop(columns=["window", "start", "end"]).to_string(index=False))
        lines += self.problems
        if self.drift is not None:
            lines.append(repr(self.drift))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The monitor dashboard as static HTML."""
        from .html import monitor_html

        return monitor_html(self)

