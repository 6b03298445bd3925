"""``%mlops_compare``: runs side by side, with a chart of their metrics."""

from __future__ import annotations

import ipywidgets as widgets

from ..plots import metrics_bar_chart, png_img_tag
from ..tracking.comparison import Comparison
from .. import html as h
from .view import View

MAX_PARAMS = 25


def comparison_html(comparison: Comparison, chart: bytes | None) -> str:
    parts = ["<h4 style='margin:4px 0'>metrics</h4>", h.table(["metric", *comparison.metrics.columns], comparison.metrics.itertuples())]
    if chart:
        parts.append(png_img_tag(chart, "metrics of the compared runs"))
    if len(comparison.params):
        shown = comparison.params.head(MAX_PARAMS)
        parts += ["<h4 style='margin:4px 0'>params that differ</h4>", h.table(["param", *shown.columns], shown.itertuples())]
        if len(comparison.params) > MAX_PARAMS:
            parts.append(f'<div style="color:{h.MUTED}">and {len(comparison.params) - MAX_PARAMS} more (see Comparison.params)</div>')
    else:
        parts.append(f'<div style="color:{h.MUTED}">same params</div>')
    if len(comparison.data):
        parts += ["<h4 style='margin:4px 0'>data</h4>", h.table(comparison.data.columns, comparison.data.itertuples(index=False))]
    parts.append("<h4 style='margin:4px 0'>code</h4>")
    parts += [h.code(diff) if diff else f'<div style="color:{h.MUTED}">same code</div>' for diff in comparison.code_diffs]
    return '<div style="font-family:sans-serif;font-size:13px">' + "".join(parts) + "</div>"


class ComparisonView(View):
    def __init__(self, comparison: Comparison):
        self.comparison = comparison
        metrics = comparison.metrics.dropna(how="all")
        self.chart = metrics_bar_chart(metrics) if len(metrics) else None
        super().__init__(children=[widgets.HTML(comparison_html(comparison, self.chart))])

    def static_html(self) -> str:
        return comparison_html(self.comparison, self.chart)

    def summary(self) -> str:
        ids = ", ".join(run.short_id for run in self.comparison.runs)
        return f"<Comparison of runs {ids}>\n{self.comparison.metrics.to_string()}"
