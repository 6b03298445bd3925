"""``%mlops_data``: the data check before training, from a ``DataReport``."""

from __future__ import annotations

import ipywidgets as widgets

from ..monitoring.datacheck import DataReport
from ..monitoring.html import (
    baseline_html,
    data_header_html,
    data_report_html,
    findings_html,
    profile_html,
)
from .view import View, html


class DataReportView(View):
    """Findings, the baseline comparison and the column profile, each in its own tab."""

    def __init__(self, report: DataReport):
        self.report = report
        self.findings = html(findings_html(report))
        self.baseline = html(baseline_html(report))
        self.profile = html(profile_html(report))
        tabs = widgets.Tab(children=[self.findings, self.baseline, self.profile])
        for i, title in enumerate(("findings", "does ML help?", "columns")):
            tabs.set_title(i, title)
        header = html(data_header_html(report))
        super().__init__(children=[header, tabs])

    def static_html(self) -> str:
        return data_report_html(self.report)

    def summary(self) -> str:
        return f"<DataReport {self.report.summary()}>"
