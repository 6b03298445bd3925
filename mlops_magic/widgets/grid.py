"""A data grid paged in the kernel: the browser holds one page of rows; a click on a header, a search
or a page turn asks the kernel, which sorts and filters the whole frame (pandas) and sends the next
page. Its cost in the browser is the same for 100 or 100,000 rows.

The front end (``grid.js``, ``grid.css``) is an anywidget module: no extension to install, offline, in
JupyterLab and Notebook 7 alike. Rows are selected by clicking them; ``selected`` holds their keys.
"""

from __future__ import annotations

import functools
from pathlib import Path

import anywidget
import numpy as np
import pandas as pd
import traitlets

HERE = Path(__file__).resolve().parent
MISSING = "–"


def decimals(values: np.ndarray, most: int = 4) -> int:
    """The fewest decimals (up to ``most``) that write every value of a column as it is."""
    finite = values[np.isfinite(values)]
    return next((d for d in range(most) if np.allclose(finite, finite.round(d), rtol=0, atol=1e-9)), most)


def cell_text(column: pd.Series) -> list[str]:
    """What a cell shows: numbers with as many decimals as their column needs (so they line up), a
    dash where a value is missing."""
    if column.dtype.kind in "fi":
        values = column.astype(float).to_numpy()
        places = decimals(values)
        return [MISSING if v != v else f"{v:.{places}f}" for v in values.tolist()]
    return [MISSING if pd.isna(v) else str(v) for v in column.tolist()]


class Grid(anywidget.AnyWidget):
    """``frame`` shown a page at a time, keyed by ``keys`` (one per row, for ``selected``).

    ``first_ways`` gives each column's direction on its first click ("asc" or "desc"); ``order`` is
    the column index and direction the grid is sorted by (an empty list: the frame's own order)."""

    _esm = HERE / "grid.js"
    _css = HERE / "grid.css"
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    numeric = traitlets.List(traitlets.Bool()).tag(sync=True)
    first_ways = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    row_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    order = traitlets.List().tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(10).tag(sync=True)
    page_sizes = traitlets.List(traitlets.Int(), [10, 25, 100]).tag(sync=True)
    matching = traitlets.Int(0).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    noun = traitlets.Unicode("rows").tag(sync=True)

    def __init__(self, frame: pd.DataFrame, keys: list[str], first_ways: list[str] | None = None, order: list | None = None,
                 page_size: int = 10, noun: str = "rows"):  # fmt: skip
        frame = frame.reset_index(drop=True)
        self._frame = frame
        self._keys = np.asarray(keys, dtype=object)
        self._text = pd.DataFrame({i: cell_text(frame[c]) for i, c in enumerate(frame.columns)})
        numeric = [frame[c].dtype.kind in "fi" for c in frame.columns]
        super().__init__(columns=[str(c) for c in frame.columns], numeric=numeric, first_ways=first_ways or ["asc"] * len(numeric),
                         order=order or [], page_size=page_size, total=len(frame), noun=noun)  # fmt: skip
        self.observe(lambda _: self._draw(), names=["order", "search", "page", "page_size"])
        self._draw()

    @traitlets.validate("order")
    def _valid_order(self, proposal) -> list:
        order = proposal["value"]
        if order and not (len(order) == 2 and order[0] in range(len(self.columns)) and order[1] in ("asc", "desc")):
            raise traitlets.TraitError(f"order is [column index, 'asc' or 'desc'], not {order!r}")
        return list(order)

    @traitlets.validate("page_size")
    def _valid_page_size(self, proposal) -> int:
        if proposal["value"] < 1:
            raise traitlets.TraitError(f"a page holds at least one row, not {proposal['value']}")
        return proposal["value"]

    @functools.cached_property
    def _haystack(self) -> pd.Series:
        """Each row's cells in one lower-case text: what a search looks in (made at the first search)."""
        texts = [self._text[i] for i in self._text.columns]
        return texts[0].str.cat(texts[1:], sep="\t").str.lower() if texts else pd.Series([], dtype=str)

    def positions(self) -> np.ndarray:
        """The rows that match the search, in the grid's order (positions in the frame)."""
        picked = np.arange(len(self._frame))
        for term in self.search.lower().split():
            picked = picked[self._haystack.iloc[picked].str.contains(term, regex=False).to_numpy()]
        if self.order and len(picked):
            column, way = self.order
            values = self._frame.iloc[picked, column]
            key = None if self.numeric[column] else (lambda text: text.astype(str).str.lower())
            ranked = values.sort_values(ascending=way == "asc", kind="stable", na_position="last", key=key)
            picked = ranked.index.to_numpy()  # the frame's index is its positions
        return picked

    def _draw(self) -> None:
        picked = self.positions()
        last = max(0, -(-len(picked) // self.page_size) - 1)
        if not 0 <= self.page <= last:  # past the end of what matches: the last page (drawn by the change)
            self.page = min(max(self.page, 0), last)
            return
        shown = picked[self.page * self.page_size:(self.page + 1) * self.page_size]
        with self.hold_sync():
            self.matching = len(picked)
            self.rows = self._text.iloc[shown].values.tolist()
            self.row_keys = [str(k) for k in self._keys[shown]]
