"""Matplotlib charts as PNG bytes: widgets show them as images, static HTML embeds them.

Figures are plain ``matplotlib.figure.Figure`` objects, outside pyplot: nothing is echoed inline
and nothing needs closing.
"""

from __future__ import annotations

import base64
import io


def figure_png(figure) -> bytes:
    """Render ``figure`` (made by ``new_figure``) to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def png_img_tag(png: bytes, alt: str = "chart") -> str:
    return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'


def new_figure(width: float, height: float):
    """A figure not attached to pyplot's state (no inline echo of an unclosed figure)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def metrics_bar_chart(metrics) -> bytes:
    """Grouped bars: one group per metric, one bar per run (``metrics``: rows metrics, columns runs)."""
    import numpy as np

    figure = new_figure(max(4.0, 1.2 * len(metrics.index) + 2), 3.2)
    axes = figure.subplots()
    positions = np.arange(len(metrics.index))
    width = 0.8 / max(1, len(metrics.columns))
    for i, run in enumerate(metrics.columns):
        axes.bar(positions + i * width, metrics[run].to_numpy(dtype=float), width, label=str(run))
    axes.set_xticks(positions + width * (len(metrics.columns) - 1) / 2, [str(m) for m in metrics.index], rotation=20, ha="right")
    axes.legend(fontsize="small", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure_png(figure)
