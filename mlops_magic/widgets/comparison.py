"""``%mlops_compare``: runs side by side, with a chart of their metrics."""

from __future__ import annotations

import ipywidgets as widgets

from ..plots import metrics_bar_chart
from ..tracking.comparison import Comparison, comparison_html
from .view import View


class ComparisonView(View):
    """Runs side by side (``Comparison``'s HTML) with a bar chart of their metrics."""

    def __init__(self, comparison: Comparison):
        self.comparison = comparison
        metrics = comparison.metrics.dropna(how="all")
        self.chart = metrics_bar_chart(metrics) if len(metrics) else None
        super().__init__(children=[widgets.HTML(comparison_html(comparison, self.chart))])

    def static_html(self) -> str:
        return comparison_html(self.comparison, self.chart)

    def summary(self) -> str:
        return repr(self.comparison)
