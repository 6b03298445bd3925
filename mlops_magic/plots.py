"""Matplotlib charts as PNG bytes: widgets show them as images, static HTML embeds them.

Figures are plain ``matplotlib.figure.Figure`` objects, outside pyplot: nothing is echoed inline
and nothing needs closing.
"""

from __future__ import annotations

import io


def figure_png(figure) -> bytes:
    """Render ``figure`` (made by ``new_figure``) to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def new_figure(width: float, height: float):
    """A figure not attached to pyplot's state (no inline echo of an unclosed figure)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def metrics_bar_chart(metrics) -> bytes:
    """Grouped bars: one group per metric, one bar per run (``metrics``: rows metrics, columns runs)."""
    import numpy as np

    figure = new_figure(min(9.0, max(4.0, 0.8 * len(metrics.index) + 1.5)), 2.6)
    axes = figure.subplots()
    positions = np.arange(len(metrics.index))
    width = 0.8 / max(1, len(metrics.columns))
    for i, run in enumerate(metrics.columns):
        axes.bar(positions + i * width, metrics[run].to_numpy(dtype=float), width, label=str(run))
    axes.set_xticks(positions + width * (len(metrics.columns) - 1) / 2, [str(m) for m in metrics.index], rotation=20, ha="right")
    axes.legend(fontsize="small", frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(3, len(metrics.columns)))
    axes.spines[["top", "right"]].set_visible(False)
    return figure_png(figure)


def performance_chart(windows, metric: str, threshold_min=None, threshold_max=None, alert_ends=(), swaps=()) -> bytes:
    """``metric`` per window (realised, and estimated dashed) with threshold lines, alert markers and swaps.

    ``windows`` has ``end`` and the metric columns of a ``MonitorReport``; ``alert_ends`` are the
    ``end`` values of the windows where alerts fired (marked on the realised, else estimated, value);
    ``swaps`` the times a new version was swapped in (vertical lines).
    """
    figure = new_figure(6.4, 2.6)
    axes = figure.subplots()
    for column, style, label in ((metric, "o-", "realised"), (f"estimated_{metric}", "s--", "estimated")):
        if column in windows and windows[column].notna().any():
            axes.plot(windows["end"], windows[column].astype(float), style, markersize=3, label=label)
    for bound, name in ((threshold_min, "min"), (threshold_max, "max")):
        if bound is not None:
            axes.axhline(bound, color="#cf222e", linestyle=":", linewidth=1, label=f"{name} {bound:g}")
    values = windows.set_index("end").reindex(columns=[metric, f"estimated_{metric}"]).astype(float)
    values = values[metric].fillna(values[f"estimated_{metric}"])
    marked = [end for end in alert_ends if end in values.index and values.notna()[end]]
    if marked:
        axes.plot(marked, values.loc[marked], "x", color="#cf222e", markersize=9, label="alert")
    for i, when in enumerate(swaps):
        axes.axvline(when, color="#1a7f37", linestyle="--", linewidth=1, label="swap" if i == 0 else None)
    axes.set_ylabel(metric)
    axes.set_xlabel("window end (UTC)")
    axes.tick_params(axis="x", labelsize=7, rotation=20)
    axes.legend(fontsize="small", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure_png(figure)


def drift_histogram(histogram: dict, column: str) -> bytes:
    """Reference against current distribution of one column, as ``DriftReport.histograms`` holds it."""
    import numpy as np

    figure = new_figure(5.0, 2.4)
    axes = figure.subplots()
    reference = np.asarray(histogram["reference"], dtype=float)
    current = np.asarray(histogram["current"], dtype=float)
    reference = reference / max(reference.sum(), 1.0)
    current = current / max(current.sum(), 1.0)
    if histogram["kind"] == "numeric" and histogram["edges"]:
        edges = np.asarray(histogram["edges"])
        axes.stairs(reference, edges, fill=True, alpha=0.5, label="reference")
        axes.stairs(current, edges, fill=True, alpha=0.5, label="current")
    else:
        positions = np.arange(len(histogram.get("categories", [])))
        axes.bar(positions - 0.2, reference, 0.4, label="reference")
        axes.bar(positions + 0.2, current, 0.4, label="current")
        axes.set_xticks(positions, histogram.get("categories", []), rotation=30, ha="right", fontsize=7)
    axes.set_title(column, fontsize=9)
    axes.set_ylabel("share")
    axes.legend(fontsize="small", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure_png(figure)


def health_chart(health) -> bytes:
    """Latency p50/p95/p99 per window (left axis) and error rate (right axis)."""
    figure = new_figure(6.4, 2.2)
    axes = figure.subplots()
    for column in ("latency_p50", "latency_p95", "latency_p99"):
        axes.plot(health["end"], health[column].astype(float), "-", label=column.replace("latency_", ""))
    axes.set_ylabel("latency (ms)")
    errors = axes.twinx()
    errors.plot(health["end"], health["error_rate"].astype(float), ":", color="#cf222e", label="error rate")
    errors.set_ylabel("error rate")
    axes.tick_params(axis="x", labelsize=7, rotation=20)
    axes.legend(fontsize="small", frameon=False, loc="upper left")
    errors.legend(fontsize="small", frameon=False, loc="upper right")
    return figure_png(figure)
