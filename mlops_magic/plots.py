"""Matplotlib charts as PNG bytes: widgets show them as images, static HTML embeds them.

Figures are plain ``matplotlib.figure.Figure`` objects, outside pyplot: nothing is echoed inline
and nothing needs closing. They are drawn on a transparent background in a mid grey that reads on
JupyterLab's light and dark themes alike (and on GitHub's white).
"""

from __future__ import annotations

import functools
import io

INK = "#777777"  # text, axes and ticks: 4.5:1 against white, and about as much against JupyterLab's dark grey
ALERT, SWAP = "#d62728", "#2ca02c"
STYLE = {
    "text.color": INK, "axes.labelcolor": INK, "axes.edgecolor": INK, "xtick.color": INK, "ytick.color": INK,
    "figure.facecolor": "none", "axes.facecolor": "none", "savefig.transparent": True, "legend.frameon": False,
    "font.size": 9, "axes.titlesize": 9, "axes.spines.top": False, "axes.spines.right": False,
}  # fmt: skip


def themed(chart):
    """Draw ``chart`` with ``STYLE`` (matplotlib reads its settings when an artist is made)."""

    @functools.wraps(chart)
    def drawn(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return chart(*args, **kwargs)

    return drawn


def figure_png(figure) -> bytes:
    """Render ``figure`` (made by ``new_figure``) to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)  # constrained layout: one draw (``bbox_inches="tight"`` draws twice)
    return buffer.getvalue()


def new_figure(width: float, height: float):
    """A figure not attached to pyplot's state (no inline echo of an unclosed figure), laid out so
    that its labels and the legend above the plot fit inside it."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def readable_times(axes) -> None:
    """Time ticks a person reads (``14:05``, ``Mar 3``), not ``19:39.850000``."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))


def legend_above(axes, handles=None, labels=None) -> None:
    """The legend in a row above the plot, off the lines."""
    handles, labels = (handles, labels) if handles is not None else axes.get_legend_handles_labels()
    if handles:
        axes.legend(handles, labels, fontsize="small", loc="lower left", bbox_to_anchor=(0, 1.0), ncols=min(5, len(handles)), borderaxespad=0.2)


@themed
def metrics_chart(metrics, higher_is_better) -> bytes:
    """One small bar chart per metric (``metrics``: rows metrics, columns runs), each on its own scale
    and titled with the way it is better (``higher_is_better(name)``): ``log_loss`` is not drawn on
    the scale of an accuracy."""
    import numpy as np
    from matplotlib.patches import Patch

    shown = metrics.dropna(how="all").head(12)
    columns = min(4, len(shown))
    rows = -(-len(shown) // columns)
    figure = new_figure(2.1 * columns, 1.6 * rows + 0.4)
    axes_grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    colours = [f"C{i % 10}" for i in range(len(shown.columns))]
    for axes, (metric, values) in zip(axes_grid, shown.iterrows()):
        values = values.astype(float)
        higher = higher_is_better(str(metric))
        axes.bar(range(len(values)), values.fillna(0).to_numpy(), color=colours)
        axes.set_title(f"{metric} {'↑' if higher else '↓'}", fontsize=8)
        axes.set_xticks([])
        high = float(np.nanmax(values)) if values.notna().any() else 1.0
        top = 1.0 if higher and 0 <= np.nanmin(values) and high <= 1 else max(high, 1e-9)
        axes.set_ylim(0, top * 1.18)  # room for the value labels
        axes.tick_params(labelsize=7)
        for i, value in enumerate(values):
            if value == value:
                axes.annotate(f"{value:.3g}", (i, value), ha="center", va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")
    for axes in axes_grid[len(shown):]:
        axes.set_visible(False)
    handles = [Patch(color=c) for c in colours]
    figure.legend(handles, [str(c) for c in shown.columns], loc="outside upper center", ncols=min(4, len(colours)), fontsize="small")
    figure.supxlabel("↑ higher is better · ↓ lower is better", fontsize=7)
    return figure_png(figure)


@themed
def performance_chart(windows, metric: str, threshold_min=None, threshold_max=None, alert_ends=(), swaps=(), positions=None, x_label=None) -> bytes:
    """``metric`` per window (realised, and estimated dashed) with threshold lines, alert markers and swaps.

    ``windows`` has ``end`` and the metric columns of a ``MonitorReport``; ``alert_ends`` are the
    ``end`` values of the windows where alerts fired (marked on the realised, else estimated, value);
    ``swaps`` the times a new version was swapped in (vertical lines). Windows are placed at their
    ``end`` time, or at ``positions`` (e.g. the prediction number a count window ends at) with ``x_label``.
    """
    import numpy as np
    import pandas as pd

    figure = new_figure(6.4, 2.4)
    axes = figure.subplots()
    ends = pd.to_datetime(windows["end"])
    x = pd.Series(ends.to_numpy() if positions is None else np.asarray(positions, dtype=float), index=ends)
    for column, style, label in ((metric, "o-", "realised"), (f"estimated_{metric}", "s--", "estimated")):
        if column in windows and windows[column].notna().any():
            axes.plot(x.to_numpy(), windows[column].astype(float).to_numpy(), style, markersize=3, label=label)
    for bound, name in ((threshold_min, "min"), (threshold_max, "max")):
        if bound is not None:
            axes.axhline(bound, color=ALERT, linestyle=":", linewidth=1, label=f"{name} {bound:g}")
    values = windows.set_index(ends).reindex(columns=[metric, f"estimated_{metric}"]).astype(float)
    values = values[metric].fillna(values[f"estimated_{metric}"])
    marked = [end for end in pd.to_datetime(list(alert_ends)) if end in values.index and values.notna()[end]]
    if marked:
        axes.plot(x[marked].to_numpy(), values.loc[marked].to_numpy(), "x", color=ALERT, markersize=9, label="alert")
    for i, when in enumerate(swaps):
        where = when if positions is None else np.interp(pd.Timestamp(when).value, ends.astype("int64"), x.to_numpy())
        axes.axvline(where, color=SWAP, linestyle="--", linewidth=1, label="swap" if i == 0 else None)
    axes.set_ylabel(metric)
    if positions is None:
        readable_times(axes)
        axes.set_xlabel(x_label or "window end (UTC)")
    else:
        from matplotlib.ticker import EngFormatter

        axes.set_xlabel(x_label or "prediction number")
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.xaxis.set_major_formatter(EngFormatter(sep=""))  # 950k and 1M, not 0.95 with "1e6" in the corner
    legend_above(axes)
    return figure_png(figure)


@themed
def drift_histogram(histogram: dict, column: str) -> bytes:
    """Reference against current distribution of one column, as ``DriftReport.histograms`` holds it."""
    import numpy as np

    figure = new_figure(4.2, 1.9)
    axes = figure.subplots()
    reference = np.asarray(histogram["reference"], dtype=float)
    current = np.asarray(histogram["current"], dtype=float)
    reference = reference / max(reference.sum(), 1.0)
    current = current / max(current.sum(), 1.0)
    if histogram["kind"] == "numeric" and histogram["edges"]:
        edges = np.asarray(histogram["edges"])
        axes.stairs(reference, edges, fill=True, alpha=0.5, label="reference (training)")
        axes.stairs(current, edges, fill=True, alpha=0.5, label="current (newest window)")
    else:
        positions = np.arange(len(histogram.get("categories", [])))
        axes.bar(positions - 0.2, reference, 0.4, label="reference (training)")
        axes.bar(positions + 0.2, current, 0.4, label="current (newest window)")
        axes.set_xticks(positions, histogram.get("categories", []), rotation=30, ha="right", fontsize=7)
    axes.set_xlabel(column)
    axes.set_ylabel("share of rows")
    legend_above(axes)
    return figure_png(figure)


@themed
def health_chart(health) -> bytes:
    """Latency p50/p95/p99 per window (left axis, ms) and error rate (right axis, from 0 %)."""
    from matplotlib.ticker import PercentFormatter

    figure = new_figure(6.4, 2.2)
    axes = figure.subplots()
    for column in ("latency_p50", "latency_p95", "latency_p99"):
        axes.plot(health["end"], health[column].astype(float), "-", label=f"latency {column.replace('latency_', '')}")
    axes.set_ylabel("latency (ms)")
    axes.set_ylim(bottom=0)
    errors = axes.twinx()
    rate = health["error_rate"].astype(float)
    errors.plot(health["end"], rate, ":", color=ALERT, label="error rate")
    errors.set_ylim(0, max(0.05, float(rate.max()) * 1.2 if rate.notna().any() else 0.05))
    errors.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    errors.set_ylabel("error rate")
    errors.spines["right"].set_visible(True)
    readable_times(axes)
    axes.set_xlabel("window end (UTC)")
    handles, labels = axes.get_legend_handles_labels()
    more, names = errors.get_legend_handles_labels()
    legend_above(axes, handles + more, labels + names)
    return figure_png(figure)
