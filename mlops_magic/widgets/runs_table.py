"""The runs table of ``%mlops_runs``: a paged data grid (itables' DataTables widget) to sort by any
column, search and page through, with runs to select and compare.

The grid holds every run (10,000 runs are about 1.5 MB of JSON, drawn a page at a time); the static
HTML beside it (nbconvert, GitHub) holds the first ``MAX_ROWS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
from itables import widget as itables_widget
from itables.widget import ITable

from .. import html as h
from ..metrics.names import higher_is_better_by_name
from .view import View, html

MAX_ROWS = 200
PAGE = 10
# Colours from JupyterLab's CSS variables, so the grid reads in its light and dark themes alike.
GRID_CSS = """
.mlops-grid .dt-container, .mlops-grid table.dataTable { color: var(--jp-content-font-color1, inherit); font-size: var(--jp-ui-font-size1, 13px); }
.mlops-grid table.dataTable > thead > tr > th { border-bottom-color: var(--jp-border-color1, #999); }
.mlops-grid table.dataTable > tbody > tr > * { border-top-color: var(--jp-border-color2, #ddd); }
.mlops-grid table.dataTable > tbody > tr.selected > * { box-shadow: inset 0 0 0 9999px var(--jp-brand-color3, #bbdefb); color: var(--jp-ui-font-color0, inherit); }
.mlops-grid table.dataTable.stripe > tbody > tr:nth-child(odd) > * { box-shadow: inset 0 0 0 9999px var(--jp-layout-color2, rgba(0,0,0,.03)); }
.mlops-grid .dt-container .dt-input, .mlops-grid .dt-container select { background: var(--jp-layout-color1, white); color: var(--jp-ui-font-color1, inherit);
  border: 1px solid var(--jp-border-color1, #aaa); }
.mlops-grid .dt-container .dt-paging .dt-paging-button, .mlops-grid .dt-container .dt-paging .dt-paging-button.disabled { color: var(--jp-ui-font-color1, inherit) !important; }
.mlops-grid .dt-container .dt-paging .dt-paging-button.current { background: var(--jp-layout-color2, #eee) !important; color: var(--jp-ui-font-color0, inherit) !important; }
"""


class RunsGrid(ITable):
    """itables' grid with colours that follow JupyterLab's theme, its rows encoded here (numbers as
    numbers, text escaped, a dash where a run has no value) rather than by itables, which formats
    each value through pandas: 1.5 s for 10,000 runs, and every float sent twice."""

    _css = (Path(itables_widget.__file__).parent / "static" / "widget.css").read_text() + GRID_CSS

    def __init__(self, df: pd.DataFrame, **kwargs):
        super().__init__(df.head(0), format_floats_in_python=False, columnDefs=[{"targets": "_all", "defaultContent": "–"}], **kwargs)
        self._df = df
        args = {**self._dt_args, "data_json": rows_json(df)}
        if len(df) > kwargs["pageLength"]:  # itables hides the controls of a table that fits one page, as the empty one did
            args["layout"] = kwargs["layout"]
        self._dt_args = args


def rows_json(frame: pd.DataFrame) -> str:
    """The rows as DataTables takes them: a list per row; a missing value is null, text is escaped."""
    columns = []
    for _, column in frame.items():
        if column.dtype.kind not in "fi":
            text = column.astype(str)
            column = (text.map(h.escape) if text.str.contains("[&<>\"']").any() else text).where(column.notna())
        columns.append(column.astype(object).where(column.notna(), None).tolist())
    return json.dumps(list(zip(*columns)), allow_nan=False)


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


def grid_order(frame: pd.DataFrame, columns: list[str]) -> list:
    """DataTables' initial ``order``: the column ``mm.runs`` sorted by, its way."""
    sorted_by, ascending = frame.attrs.get("sorted_by", ("start_time", False))
    names = {"start_time": "started (UTC)", "duration_s": "duration (s)", "name": "name", "status": "status"}
    name = metric_header(sorted_by.split(".", 1)[1]) if sorted_by.startswith("metrics.") else names.get(sorted_by)
    return [[columns.index(name), "asc" if ascending else "desc"]] if name in columns else []


class RunsTable(View):
    """Runs in a paged grid (click a header to sort, type to search); click rows to select them
    (``.selected`` gives their ids) and ``compare`` them below, with the ``compare`` function given."""

    def __init__(self, frame: pd.DataFrame, compare: Callable[..., object] | None = None):
        self.frame = frame.reset_index(drop=True)
        self._compare = compare
        shown = display_frame(self.frame) if len(frame) else pd.DataFrame()
        self.grid = RunsGrid(shown, maxBytes=0, pageLength=PAGE, lengthMenu=[10, 25, 100], select={"style": "multi"},
                             order=grid_order(self.frame, list(shown.columns)), classes="display compact nowrap stripe",
                             showIndex=False, scrollX=True, text_in_header_can_be_selected=False, layout={"topStart": "pageLength", "topEnd": "search", "bottomStart": "info", "bottomEnd": "paging"},
                             style="width:auto;margin:0")  # fmt: skip
        self.grid.add_class("mlops-grid")
        self.grid.layout = widgets.Layout(max_width="100%", overflow="auto hidden")
        self.compare_button = widgets.Button(description="compare selected", icon="columns", disabled=True, layout=widgets.Layout(width="auto"),
                                             tooltip="select two or more rows (click them), then compare the runs")  # fmt: skip
        self.hint = html(f"<span style='color:var(--jp-ui-font-color2, {h.MUTED})'>click rows to select runs to compare</span>")
        self.comparison = widgets.VBox()
        self.grid.observe(self._selection_changed, names="selected_rows")
        self.compare_button.on_click(lambda _: self.compare())
        title = html(f"<b>{len(frame)} runs</b>" + (f" of {h.escape(', '.join(sorted(set(frame['experiment']))))}" if "experiment" in frame and len(frame) else ""))
        children = [title, self.grid, widgets.HBox([self.compare_button, self.hint]), self.comparison] if len(frame) else [html(runs_html(frame))]
        super().__init__(children=children)

    @property
    def order(self) -> list[tuple[str, str]]:
        """How the grid opens sorted: (column header, "asc" or "desc") pairs."""
        return [(self.grid.df.columns[i], way) for i, way in self.grid._dt_args.get("order", [])]

    @property
    def selected(self) -> list[str]:
        return [self.frame["run_id"].iloc[i] for i in sorted(self.grid.selected_rows) if i < len(self.frame)]

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
