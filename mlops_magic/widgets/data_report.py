"""``%mlops_data``: the data check before training, from a ``DataReport``."""

from __future__ import annotations

import ipywidgets as widgets

from ..monitoring.datacheck import DataReport
from .. import html as h
from .view import View

SEVERITY_COLOURS = {"critical": h.BAD, "warning": h.WARN, "info": h.MUTED}


def findings_html(report: DataReport) -> str:
    if not len(report.findings):
        return f"<div style='color:{h.GOOD}'>no findings: the data looks clean</div>"
    rows = [
        [h.badge(r.severity, SEVERITY_COLOURS[r.severity]), h.escape(r.column), h.escape(r.finding), h.escape(r.suggestion)]
        for r in report.findings.itertuples(index=False)
    ]
    return h.table(["severity", "column", "finding", "suggestion"], rows, raw=True)


def baseline_html(report: DataReport) -> str:
    gap = report.baseline
    if gap is None:
        return f"<div style='color:{h.MUTED}'>does ML help? give a target column to compare a model with the dummy baseline</div>"
    colour = h.GOOD if gap.helps else h.WARN
    folds = h.table(
        ["fold", f"{gap.model} {gap.metric}", f"dummy {gap.metric}"],
        [(i + 1, m, d) for i, (m, d) in enumerate(zip(gap.model_scores, gap.dummy_scores))],
    )
    return f"<h4 style='margin:4px 0'>does ML help?</h4><div style='color:{colour}'>{h.escape(gap.summary())}</div>{folds}"


def profile_html(report: DataReport) -> str:
    rows = []
    for column, info in report.profile.items():
        if info["kind"] == "numeric":
            shape = f"mean {h.fmt(info['mean'])}, std {h.fmt(info['std'])}, range [{h.fmt(info['min'])}, {h.fmt(info['max'])}]"
        else:
            shape = f"{info['n_unique']} categories"
        role = " (target)" if column == report.target else ""
        rows.append((f"{column}{role}", info["dtype"], info["missing"], shape))
    return "<h4 style='margin:4px 0'>columns</h4>" + h.table(["column", "dtype", "missing", "values"], rows)


def data_report_html(report: DataReport) -> str:
    head = f"<div style='font-size:14px'><b>data check</b> · {report.n_rows} rows × {report.n_columns} columns"
    if report.target:
        head += f" · target {h.escape(report.target)} ({h.escape(report.task)})"
    parts = [head + "</div>", findings_html(report), baseline_html(report)]
    if report.target_summary.get("classes"):
        shares = ", ".join(f"{k}: {v:.1%}" for k, v in report.target_summary["classes"].items())
        parts.append(f"<div style='font-size:12px'>class balance: {h.escape(shares)}</div>")
    elif report.target_summary:
        spread = ", ".join(f"{k} {h.fmt(v)}" for k, v in report.target_summary.items())
        parts.append(f"<div style='font-size:12px'>target spread: {h.escape(spread)}</div>")
    parts.append(profile_html(report))
    return '<div style="font-family:sans-serif;font-size:13px">' + "".join(parts) + "</div>"


class DataReportView(View):
    """Findings, the baseline comparison and the column profile, each in its own tab."""

    def __init__(self, report: DataReport):
        self.report = report
        self.findings = widgets.HTML(findings_html(report))
        self.baseline = widgets.HTML(baseline_html(report))
        self.profile = widgets.HTML(profile_html(report))
        tabs = widgets.Tab(children=[self.findings, self.baseline, self.profile])
        for i, title in enumerate(("findings", "does ML help?", "columns")):
            tabs.set_title(i, title)
        header = widgets.HTML(data_report_html(report).split("</div>", 1)[0] + "</div>")
        super().__init__(children=[header, tabs])

    def static_html(self) -> str:
        return data_report_html(self.report)

    def summary(self) -> str:
        return f"<DataReport {self.report.summary()}>"
