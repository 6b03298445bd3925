"""Maturity from evidence: which MLOps level (0-4) the work has reached, read from the store and the
working folder, never asked; the ML Test Score; and the one next step.

``folder.py`` reads the folder (git, tests, CI), ``Store.maturity_evidence`` the store; ``criteria.py``
scores each criterion, ``test_score.py`` the ML Test Score, ``report.py`` renders the result.
"""

from __future__ import annotations

import os

from .criteria import level_of
from .folder import folder_evidence
from .report import MaturityReport, TestScore, checks_frame
from .test_score import SECTIONS, score_tests


def evidence_of(store, path: str | os.PathLike = ".") -> dict:
    """Everything the assessment reads: the folder's facts and the store's."""
    return {"folder": folder_evidence(path), **store.maturity_evidence()}


def assess_evidence(evidence: dict, answers: dict | None = None) -> MaturityReport:
    """The report for gathered ``evidence`` (a pure function: the tests change one fact at a time)."""
    import pandas as pd

    checks = checks_frame(evidence)
    scores = dict(zip(checks["key"], checks["score"]))
    tests = pd.DataFrame(score_tests(evidence, scores))
    sections = {section: float(tests.loc[tests["section"] == section, "score"].sum()) for section in SECTIONS}
    return MaturityReport(evidence["folder"]["path"], level_of(scores), checks, TestScore(tests, sections, min(sections.values())), answers or {})


def assess(store, path: str | os.PathLike = ".") -> MaturityReport:
    return assess_evidence(evidence_of(store, path), store.maturity_answers())


__all__ = ["MaturityReport", "TestScore", "assess", "assess_evidence", "evidence_of"]
