"""``MaturityReport``: the level, the checklist with its evidence, the ML Test Score and the one next
step, as plain data with a text and a static HTML rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import html as h
from .criteria import CRITERIA, LEVELS
from .questions import QUESTIONS
from .test_score import SECTIONS, meaning

STATUS_COLOUR = {"met": h.GOOD, "partial": h.WARN, "missing": h.BAD}


def status_of(score: float) -> str:
    return "met" if score >= 1 else "partial" if score > 0 else "missing"


@dataclass
class TestScore:
    """The ML Test Score: ``tests`` (DataFrame: section, test, score, observed, evidence), ``sections``
    (sum per section) and ``final`` (their minimum)."""

    tests: Any
    sections: dict[str, float]
    final: float

    @property
    def meaning(self) -> str:
        return meaning(self.final)

    def __repr__(self) -> str:
        parts = ", ".join(f"{s} {v:g}" for s, v in self.sections.items())
        return f"ML Test Score {self.final:g} (minimum of {parts}): {self.meaning}"


@dataclass
class MaturityReport:
    """``level`` (0-4), ``checks`` (DataFrame: level, criterion, score, status, evidence, how),
    ``next_step``, ``test_score`` and the stored ``answers`` to the questions no record shows."""

    path: str
    level: int
    checks: Any
    test_score: TestScore
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return LEVELS[self.level][1]

    @property
    def progress(self) -> dict[int, float]:
        """Per level 1-4: the share of its criteria's score reached."""
        return {n: float(self.checks.loc[self.checks["level"] == n, "score"].mean()) for n, *_ in LEVELS[1:]}

    @property
    def next_step(self) -> str:
        """The first criterion not met, lowest level first, and the magic or command that meets it."""
        missing = self.checks[self.checks["status"] != "met"]
        if missing.empty:
            return "level 4 reached: keep it there with `mlops-magic maturity --min-level 4` in CI"
        row = missing.iloc[0]
        return f"level {row['level']}: {row['criterion']}. Run: {row['how']}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "level": self.level,
            "name": self.name,
            "next_step": self.next_step,
            "checks": self.checks.to_dict(orient="records"),
            "test_score": {"final": self.test_score.final, "sections": self.test_score.sections, "meaning": self.test_score.meaning},
            "answers": {key: value["answer"] for key, value in self.answers.items()},
        }

    def summary(self) -> str:
        met = int((self.checks["status"] == "met").sum())
        return f"MLOps maturity level {self.level} ({self.name}): {met} of {len(self.checks)} criteria met; next: {self.next_step}"

    def __repr__(self) -> str:
        lines = [self.summary()]
        for row in self.checks.itertuples():
            lines.append(f"  [{row.status:<7}] L{row.level} {row.criterion}: {row.evidence}")
        lines.append(f"  {self.test_score!r}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return maturity_html(self)


def levels_html(level: int) -> str:
    """The maturity model's table, the reached level highlighted."""
    rows = []
    for number, name, overview, use in LEVELS:
        style = f"background:{h.GOOD};color:white" if number == level else ""
        items = "".join(f"<li>{h.escape(o)}</li>" for o in overview)
        rows.append(
            f"<tr style='{style}'><td style='{h.CELL}'><b>{number}</b></td><td style='{h.CELL}'><b>{h.escape(name)}</b></td>"
            f"<td style='{h.CELL};white-space:normal'><ul style='margin:0;padding-left:16px'>{items}</ul></td>"
            f"<td style='{h.CELL};white-space:normal'>{h.escape(use)}</td></tr>"
        )
    head = "".join(f"<th style='{h.CELL}'>{t}</th>" for t in ("level", "", "overview", "use case"))
    return f"<table style='{h.TABLE}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def checklist_html(checks) -> str:
    rows = [
        [f"L{r['level']}", h.escape(r["criterion"]), h.badge(r["status"], STATUS_COLOUR[r["status"]]), h.escape(f"{r['score']:g}"), h.escape(r["evidence"]),
         "" if r["status"] == "met" else h.command(r["how"])]
        for r in checks.to_dict("records")
    ]  # fmt: skip
    return h.table(["level", "criterion", "status", "score", "evidence", "to meet it"], rows, raw=True, wrap=(1, 4, 5))


def test_score_html(score: TestScore) -> str:
    sections = " · ".join(f"{h.escape(s)} <b>{score.sections[s]:g}</b>/7" for s in SECTIONS)
    rows = [
        [h.escape(r["section"]), h.escape(r["test"]), h.escape(f"{r['score']:g}") if r["observed"] else f"<span style='color:{h.MUTED}'>–</span>", h.escape(r["evidence"])]
        for r in score.tests.to_dict("records")
    ]  # fmt: skip
    table = h.table(["section", "test", "score", "evidence"], rows, raw=True, wrap=(1, 3))
    return (
        f"<div><b>ML Test Score {score.final:g}</b> (minimum of the sections: {sections}): {h.escape(score.meaning)}</div>"
        f"<details><summary>the 28 tests</summary>{table}</details>"
    )


def answers_html(answers: dict[str, dict[str, Any]]) -> str:
    rows = [[f"L{level}", h.escape(question), h.escape(answers.get(key, {}).get("answer", "not answered"))] for key, (level, question) in QUESTIONS.items()]
    return "<div><b>People and process</b> (your answers; they never raise the level)</div>" + h.table(["level", "question", "answer"], rows, raw=True)


def headline_html(report: MaturityReport) -> str:
    return (
        f"<div style='font-size:14px;margin:4px 0'><b>MLOps maturity: level {report.level}</b> ({h.escape(report.name)})</div>"
        f"<div style='margin:4px 0'><b>Next step</b>: {h.escape(report.next_step)}</div>"
    )


def maturity_html(report: MaturityReport) -> str:
    progress = " · ".join(f"L{n} {share:.0%}" for n, share in report.progress.items())
    return (
        headline_html(report)
        + levels_html(report.level)
        + f"<div style='margin:4px 0'><b>Progress</b>: {progress}</div>"
        + checklist_html(report.checks)
        + test_score_html(report.test_score)
        + answers_html(report.answers)
    )


def checks_frame(evidence: dict[str, Any]):
    """One row per criterion, scored from the evidence."""
    import pandas as pd

    rows = []
    for criterion in CRITERIA:
        score, found = criterion.score(evidence)
        rows.append({"level": criterion.level, "criterion": criterion.title, "key": criterion.key, "score": score, "status": status_of(score), "evidence": found, "how": criterion.how})
    return pd.DataFrame(rows)
