"""The maturity view of ``%mlops_maturity``: the level in the maturity model's table, progress per
level, the checklist with its evidence, the ML Test Score, the one next step, and the questions about
people and process, answered in place."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from .. import html as h
from ..assessment.questions import QUESTIONS
from ..assessment.report import MaturityReport, checklist_html, headline_html, levels_html, maturity_html, test_score_html
from .view import View, html, prose


class MaturityDashboard(View):
    """A ``MaturityReport`` as a widget; ``on_answer(question, answer)`` stores an answer."""

    def __init__(self, report: MaturityReport, on_answer: Callable[[str, str], None] | None = None):
        self.report, self.on_answer = report, on_answer
        self.progress = [
            widgets.FloatProgress(value=share, min=0, max=1, description=f"level {n}", bar_style="success" if share >= 1 else "",
                                  layout=widgets.Layout(width="360px"))
            for n, share in report.progress.items()
        ]  # fmt: skip
        shares = [html(f"{share:.0%} of its criteria") for share in report.progress.values()]
        self.questions = {}
        rows = []
        for key, (level, question) in QUESTIONS.items():
            buttons = widgets.ToggleButtons(options=["yes", "partly", "no"], value=report.answers.get(key, {}).get("answer"), style={"button_width": "64px"})
            buttons.observe(lambda change, key=key: self._answer(key, change["new"]), names="value")
            self.questions[key] = buttons
            rows.append(widgets.HBox([html(prose(f"L{level} {h.escape(question)}"), layout=widgets.Layout(width="520px")), buttons], layout=widgets.Layout(align_items="center")))
        super().__init__(
            children=[
                html(prose(headline_html(report))),
                html(levels_html(report.level)),
                widgets.VBox([widgets.HBox([bar, share]) for bar, share in zip(self.progress, shares)]),
                html(checklist_html(report.checks)),
                html(prose(test_score_html(report.test_score))),
                html(prose("<b>People and process</b>: no record shows these; your answers are stored apart and never raise the level")),
                *rows,
            ]
        )

    def _answer(self, key: str, answer: str | None) -> None:
        if answer is None:
            return
        if self.on_answer is not None:
            self.on_answer(key, answer)
        self.report.answers[key] = {"answer": answer}

    def static_html(self) -> str:
        return maturity_html(self.report)

    def summary(self) -> str:
        return repr(self.report)
