"""The runs table of ``%mlops_runs``: a grid paged in the kernel (``grid.Grid``) to sort by any column,
search and page through, with runs to select and compare.

The browser holds one page of runs, whatever their number; the static HTML beside it (nbconvert,
GitHub) holds the first ``MAX_ROWS``.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import pandas as pd

from .. import html as h
from ..metrics.names import higher_is_better_by_name
from .grid import Grid
from .view import View, html

MAX_ROWS = 200
PAGE = 10


def metric_header(metric: str) -> str:
    """A metric's column header, with the way it is better: ``accuracy ↑``, ``log_loss ↓``."""
    return f"{metric} {'↑' if higher_is_better_by_name(metric) else '↓'}"


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """What a person reads: run name and short id, model class, status, start, duration, metrics (4
    decimals), then the tags they set; params stay in ``.frame`` and in the comparison."""
    shown = pd.DataFrame(index=frame.index)
    shown["run"] = frame["run_id"].str[:8]
    shown["name"] = frame["name"]
    if "tags.model_class" in frame:
        shown["model"] = frame["tags.model_class"].fillna("–")
    shown["status"] = frame["status"]
    if "start_time" in frame:
        shown["started (UTC)"] = frame["start_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    if "duration_s" in frame:
        shown["duration (s)"] = frame["duration_s"].astype(float).round(2)
    for column in (c for c in frame.columns if c.startswith("metrics.")):
        shown[metric_header(column.split(".", 1)[1])] = frame[column].astype(float).round(4)
    for column in (c for c in frame.columns if c.startswith("tags.") and c != "tags.model_class" and not c.startswith("tags.mlops.")):
        shown[column.split(".", 1)[1]] = frame[column].fillna("")
    return shown.reset_index(drop=True)


def runs_html(frame: pd.DataFrame) -> str:
    """The first ``MAX_ROWS`` runs as a static table (and how many more there are)."""
    if frame.empty:
        return f'<div style="color:{h.MUTED}">no runs yet: record one with %%mlops_train.</div>'
    shown = display_frame(frame.head(MAX_ROWS))
    more = f'<div style="color:{h.MUTED}">{len(frame) - MAX_ROWS} more runs not shown</div>' if len(frame) > MAX_ROWS else ""
    return h.table(shown.columns, shown.itertuples(index=False)) + more


HEADERS = {"start_time": "started (UTC)", "duration_s": "duration (s)", "name": "name", "status": "status"}


def grid_order(frame: pd.DataFrame, columns: list[str]) -> list:
    """The grid's opening order, ``[column index, way]``: the column ``mm.runs`` sorted by, its way."""
    sorted_by, ascending = frame.attrs.get("sorted_by", ("start_time", False))
    name = metric_header(sorted_by.split(".", 1)[1]) if sorted_by.startswith("metrics.") else HEADERS.get(sorted_by)
    return [columns.index(name), "asc" if ascending else "desc"] if name in columns else []


def first_ways(columns: list[str]) -> list[str]:
    """Each column's way on its first click: a metric its better end first, the newest start first, else A to Z."""
    return ["asc" if c.endswith("↓") else "desc" if c.endswith("↑") or c == HEADERS["start_time"] else "asc" for c in columns]


class RunsTable(View):
    """Runs in a paged grid (click a header to sort, type to search); click rows to select them
    (``.selected`` gives their ids) and ``compare`` them below, with the ``compare`` function given."""

    def __init__(self, frame: pd.DataFrame, compare: Callable[..., object] | None = None):
        self.frame = frame.reset_index(drop=True)
        self._compare = compare
        shown = display_frame(self.frame) if len(frame) else pd.DataFrame()
        columns = list(shown.columns)
        self.grid = Grid(shown, keys=list(self.frame["run_id"]) if len(frame) else [], first_ways=first_ways(columns),
                         order=grid_order(self.frame, columns), page_size=PAGE, noun="runs")  # fmt: skip
        self.compare_button = widgets.Button(description="compare selected", icon="columns", disabled=True, layout=widgets.Layout(width="auto"),
                                             tooltip="select two or more rows (click them), then compare the runs")  # fmt: skip
        self.hint = html(f"<span style='color:var(--jp-ui-font-color2, {h.MUTED})'>click rows to select runs to compare</span>")
        self.comparison = widgets.VBox()
        self.grid.observe(self._selection_changed, names="selected")
        self.compare_button.on_click(lambda _: self.compare())
        title = html(f"<b>{len(frame)} runs</b>" + (f" of {h.escape(', '.join(sorted(set(frame['experiment']))))}" if "experiment" in frame and len(frame) else ""))
        children = [title, self.grid, widgets.HBox([self.compare_button, self.hint]), self.comparison] if len(frame) else [html(runs_html(frame))]
        super().__init__(children=children)

    @property
    def order(self) -> list[tuple[str, str]]:
        """How the grid is sorted: (column header, "asc" or "desc") pairs."""
        return [(self.grid.columns[self.grid.order[0]], self.grid.order[1])] if self.grid.order else []

    @property
    def selected(self) -> list[str]:
        """The ids of the runs selected in the grid, in the table's order."""
        chosen = set(self.grid.selected)
        return [run_id for run_id in self.frame["run_id"] if run_id in chosen]

    def _selection_changed(self, _change=None) -> None:
        count = len(self.selected)
        self.compare_button.disabled = self._compare is None or count < 2
        self.hint.value = f"<span style='color:var(--jp-ui-font-color2, {h.MUTED})'>{count} selected</span>"

    def compare(self) -> None:
        """Show the selected runs side by side under the grid."""
        from .comparison import ComparisonView

        if self._compare is None or len(self.selected) < 2:
            return
        try:
            self.comparison.children = [ComparisonView(self._compare(*self.selected))]
        except Exception as error:  # a user error (a run deleted meanwhile): one line, the table stays
            self.comparison.children = [html(f"<span style='color:{h.BAD}'>{h.escape(error)}</span>")]

    def static_html(self) -> str:
        return runs_html(self.frame)

    def summary(self) -> str:
        columns = [c for c in ("run_id", "name", "status", "start_time", "duration_s") if c in self.frame] + [c for c in self.frame if c.startswith("metrics.")]
        text = self.frame[columns].head(20).assign(run_id=lambda f: f["run_id"].str[:8]).to_string(index=False) if len(self.frame) else ""
        return f"<RunsTable {len(self.frame)} runs>\n{text}"
