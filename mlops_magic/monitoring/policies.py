"""Policies on monitored metrics: which windows cross a threshold, the alerts that follow, backtests.

A policy is checked on windows of its own ``window`` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from .performance import CLASSIFICATION_METRICS, REGRESSION_METRICS

HEALTH_METRICS = ("requests", "error_rate", "latency_p50", "latency_p95", "latency_p99")
POLICY_METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS, *HEALTH_METRICS)


def check_metric(metric: str, catalog=None) -> str:
    """``metric`` if it can be monitored: a built-in, a health figure, ``recall[CLASS]`` or a metric ``catalog`` defines."""
    if metric not in POLICY_METRICS and (catalog is None or catalog.get(metric) is None):
        defined = ", ".join(catalog.defined) if catalog is not None and catalog.defined else "none yet"
        raise InvalidInputError(
            f"metric {metric!r} cannot be monitored: use one of {', '.join(POLICY_METRICS)}, recall[CLASS], or a defined metric ({defined}; %mlops_metric defines one)."
        )
    return metric


def on_window(policies, window: str) -> list:
    """The policies stored for ``window`` (as ``parse_window`` writes it): a policy is checked on its own window only."""
    return [p for p in policies if p.window == window]


def crossing(value: float | None, min_value: float | None, max_value: float | None) -> str | None:
    """``"below"`` the minimum, ``"above"`` the maximum, or None (within the bounds, or no value)."""
    if value is None or math.isnan(value):
        return None
    if min_value is not None and value < min_value:
        return "below"
    if max_value is not None and value > max_value:
        return "above"
    return None


@dataclass
class Backtest:
    """How often a policy would have fired over past windows: ``crossings`` lists those windows."""

    model: str
    metric: str
    min_value: float | None
    max_value: float | None
    window: str
    windows_checked: int
    crossings: Any

    def summary(self) -> str:
        bounds = " and ".join(f"{n} {b:g}" for n, b in (("min", self.min_value), ("max", self.max_value)) if b is not None)
        return (
            f"policy {self.metric} ({bounds}) on {self.model}, window {self.window}: would have fired "
            f"{len(self.crossings)} alert(s) in {self.windows_checked} past windows with a value"
        )

    def __repr__(self) -> str:
        detail = f"\n{self.crossings.to_string(index=False)}" if len(self.crossings) else ""
        return f"Backtest: {self.summary()}{detail}"

    def _repr_html_(self) -> str:
        table = self.crossings.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0) if len(self.crossings) else ""
        return f"<p><b>Backtest</b>: {self.summary()}</p>" + table


def metric_series(report, metric: str, slice: str | None = None):
    """Per window (of ``slice``'s rows, if given): window, start, end, value and its source (realised,
    estimated, or health), oldest first."""
    import pandas as pd

    table = report.health if metric in HEALTH_METRICS else report.series_table(slice)
    rows = []
    for _, row in table.iterrows():
        value, source = row.get(metric), "health" if metric in HEALTH_METRICS else "realised"
        if (value is None or pd.isna(value)) and f"estimated_{metric}" in row:
            value, source = row[f"estimated_{metric}"], "estimated"
        if value is not None and not pd.isna(value):
            labelled = int(row["n_labelled"]) if "n_labelled" in row and source == "realised" else 0
            rows.append((int(row["window"]), row["start"], row["end"], float(value), source, labelled))
    return pd.DataFrame(rows, columns=["window", "start", "end", "value", "source", "n_labelled"])


def newest_values(report, metric: str, min_labelled: int = 0, slice: str | None = None):
    """The values a policy checks: the newest realised window (holding at least ``min_labelled``
    labels, so traffic whose labels have not come yet does not hide a crossing), and the newest window
    if it is newer and only estimated. Both count: an estimate can miss what labels show."""
    series = metric_series(report, metric, slice)
    if not len(series):
        return series
    realised = series[(series["source"] != "estimated") & ((series["source"] == "health") | (series["n_labelled"] >= min_labelled))]
    chosen = {series.index[-1], *([realised.index[-1]] if len(realised) else [])}
    return series.loc[sorted(chosen)]


def _window_info(row, report) -> dict[str, Any]:
    return {"window": report.window, "start": row["start"].timestamp(), "end": row["end"].timestamp()}


def backtest(report, policy) -> Backtest:
    """Replay the windows of ``report``: where would ``policy`` have fired (one alert per window)?"""
    series = metric_series(report, policy.metric, policy.slice)
    crossings = series[[crossing(v, policy.min_value, policy.max_value) is not None for v in series["value"]]].reset_index(drop=True)
    return Backtest(report.model, policy.metric, policy.min_value, policy.max_value, report.window, len(series), crossings)


def evaluate(report, policies) -> list[dict[str, Any]]:
    """Alerts of this evaluation: each policy of the report's window whose newest value(s) cross its
    threshold (policies of other windows are checked on theirs), and drift."""
    alerts = []
    for policy in on_window(policies, report.window):
        on = f" on slice {policy.slice}" if policy.slice else ""
        for _, newest in newest_values(report, policy.metric, policy.min_labelled, policy.slice).iterrows():
            side = crossing(newest["value"], policy.min_value, policy.max_value)
            if side is None:
                continue
            below = side == "below"
            bound = policy.min_value if below else policy.max_value
            alerts.append(
                {
                    "model": report.model,
                    "kind": "threshold",
                    "metric": policy.metric,
                    "slice": policy.slice,
                    "value": float(newest["value"]),
                    "threshold": bound,
                    "window": _window_info(newest, report),
                    "message": f"{policy.metric}{on} {newest['value']:.4g} ({newest['source']}) is "
                    f"{'below the minimum' if below else 'above the maximum'} {bound:g} "
                    f"in the window ending {newest['end']:%Y-%m-%d %H:%M:%S}",
                }
            )
    for drift, what in ((report.drift, "data"), (report.prediction_drift, "prediction")):
        if drift is not None and drift.drifted and len(report.windows):
            newest = report.windows.iloc[-1]
            top = drift.table[drift.table["drifted"]].iloc[0]
            alerts.append(
                {
                    "model": report.model,
                    "kind": "drift" if what == "data" else "prediction_drift",
                    "metric": None,
                    "value": None if math.isnan(top["severity"]) else float(top["severity"]),
                    "threshold": 1.0,
                    "window": _window_info(newest, report),
                    "message": f"{what} drift: {', '.join(map(str, drift.drifted_columns[:5]))} "
                    f"({len(drift.drifted_columns)} of {len(drift.table)} columns) in the newest window",
                }
            )
    return alerts
