"""Runs side by side: what differs in params and metrics, how the code changed, what data they saw."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import pandas as pd

from ..errors import InvalidInputError
from ..store import Run


@dataclass
class Comparison:
    runs: list[Run]
    params: pd.DataFrame  # one row per param that differs, one column per run
    metrics: pd.DataFrame  # one row per metric, one column per run
    data: pd.DataFrame  # one row per run and role: digest, rows, columns
    code_diffs: list[str]  # unified diff of each run's code against the first run's


def _labels(runs: list[Run]) -> list[str]:
    return [f"{run.short_id} {run.name}" for run in runs]


def compare_runs(runs: list[Run]) -> Comparison:
    if len(runs) < 2:
        raise InvalidInputError("compare needs at least two runs.")
    if len({run.run_id for run in runs}) < len(runs):
        raise InvalidInputError("the same run is named twice: give distinct run ids.")
    labels = _labels(runs)
    params = pd.DataFrame({label: run.params for label, run in zip(labels, runs)}).sort_index()
    differing = params.astype(str).nunique(axis=1, dropna=False) > 1
    metrics = pd.DataFrame({label: run.metrics for label, run in zip(labels, runs)}, dtype="float64").sort_index()
    data = pd.DataFrame(
        [
            {"run": label, "role": d.role, "variable": d.variable, "digest": d.digest[:12], "rows": d.n_rows, "columns": len(d.columns)}
            for label, run in zip(labels, runs)
            for d in run.datasets.values()
        ],
        columns=["run", "role", "variable", "digest", "rows", "columns"],
    )
    base = (runs[0].source or "").splitlines(keepends=True)
    diffs = [
        "".join(difflib.unified_diff(base, (run.source or "").splitlines(keepends=True), fromfile=labels[0], tofile=label))
        for label, run in zip(labels[1:], runs[1:])
    ]
    return Comparison(runs, params[differing], metrics, data, diffs)
