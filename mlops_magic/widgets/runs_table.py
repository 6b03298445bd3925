"""The runs table of ``%mlops_runs``: sortable by any column, metric columns, runs to select."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from .. import html as h
from .view import View

SHOWN = ["run_id", "name", "status", "start_time", "duration_s"]
MAX_ROWS = 200


def table_columns(frame: pd.DataFrame) -> list[str]:
    """Identity columns, then metrics, then params and tags."""
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    rest = [c for c in frame.columns if c.startswith(("params.", "tags."))]
    return [c for c in SHOWN if c in frame.columns] + metrics + rest


def runs_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return f'<div style="color:{h.MUTED}">no runs yet: record one with %%mlops_train.</div>'
    columns = table_columns(frame)
    shown = frame[columns].head(MAX_ROWS).copy()
    shown["run_id"] = shown["run_id"].str[:8]
    if "start_time" in shown:
        shown["start_time"] = shown["start_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    headers = [c.split(".", 1)[-1] for c in columns]
    more = f'<div style="color:{h.MUTED}">{len(frame) - MAX_ROWS} more runs not shown</div>' if len(frame) > MAX_ROWS else ""
    return h.table(headers, shown.itertuples(index=False)) + more


class RunsTable(View):
    """Runs as a table; pick the sort column and order; select runs (``.selected`` gives their ids)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        columns = table_columns(frame)
        sorted_by, ascending = frame.attrs.get("sorted_by", ("start_time", False))  # how mm.runs ordered it
        self.sort_by = widgets.Dropdown(options=columns, value=sorted_by if sorted_by in columns else None, description="sort by")
        self.descending = widgets.ToggleButton(value=not ascending, description="descending", icon="sort-amount-desc")
        self.selection = widgets.SelectMultiple(
            options=[(f"{r.run_id[:8]} {r.name}", r.run_id) for r in frame.itertuples()],
            description="select",
            rows=min(6, max(2, len(frame))),
        )
        self.table = widgets.HTML(runs_html(frame))
        self.sort_by.observe(self._resort, names="value")
        self.descending.observe(self._resort, names="value")
        controls = widgets.HBox([self.sort_by, self.descending])
        super().__init__(children=[controls, self.table, self.selection] if len(frame) else [self.table])

    def _resort(self, _change=None) -> None:
        if self.sort_by.value is None:
            return
        self.frame = self.frame.sort_values(self.sort_by.value, ascending=not self.descending.value, na_position="last", kind="stable")
        self.table.value = runs_html(self.frame)

    @property
    def selected(self) -> list[str]:
        return list(self.selection.value)

    def static_html(self) -> str:
        return runs_html(self.frame)

    def summary(self) -> str:
        columns = [c for c in table_columns(self.frame) if not c.startswith(("params.", "tags."))]
        text = self.frame[columns].head(20).assign(run_id=lambda f: f["run_id"].str[:8]).to_string(index=False) if len(self.frame) else ""
        return f"<RunsTable {len(self.frame)} runs>\n{text}"
