"""Runs side by side: what differs in params and metrics, how the code changed, what data they saw."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import pandas as pd

from .. import html as h
from ..errors import InvalidInputError
from ..store import Run


@dataclass
class Comparison:
    """Runs side by side; ``repr`` and ``_repr_html_`` show the differences."""

    runs: list[Run]
    params: pd.DataFrame  # one row per param that every run has and that differs, one column per run
    metrics: pd.DataFrame  # one row per metric, one column per run
    data: pd.DataFrame  # one row per run and role: digest, rows, columns
    code_diffs: list[str]  # unified diff of each run's code against the first run's
    unshared_params: list[str] = field(default_factory=list)  # params only some runs have (other model classes)

    def __repr__(self) -> str:
        ids = ", ".join(run.short_id for run in self.runs)
        return f"<Comparison of runs {ids}: {len(self.params)} params differ>\n{self.metrics.to_string()}"

    def _repr_html_(self) -> str:
        return comparison_html(self)


def _labels(runs: list[Run]) -> list[str]:
    return [f"{run.short_id} {run.name}" for run in runs]


def compare_runs(runs: list[Run]) -> Comparison:
    if len(runs) < 2:
        raise InvalidInputError("compare needs at least two runs.")
    if len({run.run_id for run in runs}) < len(runs):
        raise InvalidInputError("the same run is named twice: give distinct run ids.")
    labels = _labels(runs)
    params = pd.DataFrame({label: run.params for label, run in zip(labels, runs)}).sort_index()
    shared = params.notna().all(axis=1)
    differing = shared & (params.astype(str).nunique(axis=1, dropna=False) > 1)
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
    return Comparison(runs, params[differing], metrics, data, diffs, list(params.index[~shared]))


MAX_PARAMS = 25


def comparison_html(comparison: Comparison, chart: bytes | None = None) -> str:
    """Metrics, differing params, data and code diffs as static HTML; ``chart`` (PNG) embedded if given."""
    parts = ["<h4 style='margin:4px 0'>metrics</h4>", h.table(["metric", *comparison.metrics.columns], comparison.metrics.itertuples())]
    if chart:
        parts.append(h.png_img(chart, "metrics of the compared runs"))
    if len(comparison.params):
        shown = comparison.params.head(MAX_PARAMS)
        parts += ["<h4 style='margin:4px 0'>params that differ</h4>", h.table(["param", *shown.columns], shown.itertuples())]
        if len(comparison.params) > MAX_PARAMS:
            parts.append(f'<div style="color:{h.MUTED}">and {len(comparison.params) - MAX_PARAMS} more (see Comparison.params)</div>')
    else:
        parts.append(f'<div style="color:{h.MUTED}">same params</div>')
    if comparison.unshared_params:
        parts.append(
            f'<div style="color:{h.MUTED}">{len(comparison.unshared_params)} params belong to only some of the runs '
            "(different model classes): see each run's .params</div>"
        )
    if len(comparison.data):
        parts += ["<h4 style='margin:4px 0'>data</h4>", h.table(comparison.data.columns, comparison.data.itertuples(index=False))]
    parts.append("<h4 style='margin:4px 0'>code</h4>")
    parts += [h.code(diff) if diff else f'<div style="color:{h.MUTED}">same code</div>' for diff in comparison.code_diffs]
    return '<div style="font-family:sans-serif;font-size:13px">' + "".join(parts) + "</div>"
