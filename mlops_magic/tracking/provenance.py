"""Where a cell came from: the notebook, its execution count, and the upstream cells it depends on.

Upstream cells are found in IPython's input history: for each name the cell reads, the latest
earlier cell that bound it, followed transitively, so the run lists what to re-run to reproduce it.
When the notebook file is readable, cells are placed in it to flag out-of-order execution.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager

from .execution import names_assigned, names_used

MAX_UPSTREAM_CELLS = 50


def cell_code(source: str) -> str:
    """The Python a history entry runs: the body of a cell magic, else the entry itself."""
    if source.startswith("get_ipython().run_cell_magic("):
        try:
            call = ast.parse(source).body[0].value
            return TransformerManager().transform_cell(ast.literal_eval(call.args[2]))
        except (SyntaxError, ValueError, IndexError, AttributeError):
            return source
    return source


@lru_cache(maxsize=2048)
def _bindings(source: str) -> frozenset[str]:
    return frozenset(names_assigned(cell_code(source)))


@lru_cache(maxsize=2048)
def _reads(source: str) -> tuple[str, ...]:
    return tuple(names_used(cell_code(source)))


def notebook_path(shell) -> str | None:
    """The notebook's path, where the kernel can know it (Jupyter, VS Code)."""
    namespace = shell.user_ns
    for candidate in (namespace.get("__session__"), namespace.get("__vsc_ipynb_file__"), os.environ.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return candidate
    return None


def free_names(source: str) -> list[str]:
    """Names ``source`` reads without binding them first (builtins excepted)."""
    bound = _bindings(source)
    return [n for n in _reads(source) if n not in bound and not hasattr(builtins, n)]


@dataclass
class HistorySlice:
    """The earlier cells a cell needs (execution count → code) and the names that no cell could supply."""

    cells: dict[int, str] = field(default_factory=dict)
    undefined: list[str] = field(default_factory=list)
    clashes: list[tuple[str, int, str]] = field(default_factory=list)  # (name, cell, input bound there too)


def cells_needed(history: list[str], current: int, source: str, cut: frozenset[str] = frozenset()) -> HistorySlice:
    """For each free name of ``source``, the latest earlier cell that binds it, then that cell's own free
    names, transitively. Names in ``cut`` are never followed, and a cell that binds one is never taken."""
    found = HistorySlice()
    wanted, seen = list(reversed(free_names(source))), set(cut)
    while wanted and len(found.cells) < MAX_UPSTREAM_CELLS:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        for count in range(min(current, len(history)) - 1, 0, -1):
            cell = history[count]
            if name not in _bindings(cell):
                continue
            inputs_bound = sorted(_bindings(cell) & cut)
            if inputs_bound:
                found.clashes.append((name, count, inputs_bound[0]))
            elif count not in found.cells:
                found.cells[count] = cell_code(cell)
                wanted.extend(reversed([n for n in free_names(cell) if n not in seen]))
            break
        else:
            found.undefined.append(name)
    return found


def upstream_cells(history: list[str], current: int, source: str) -> list[dict[str, Any]]:
    """Earlier cells (execution count and code) that bound the names ``source`` reads, transitively."""
    cells = cells_needed(history, current, source).cells
    return [{"execution_count": count, "source": cells[count]} for count in sorted(cells)]


def out_of_order(notebook: str | None, source: str, upstream: list[dict[str, Any]]) -> bool | None:
    """True when an upstream cell sits below this cell in the saved notebook.

    None when the notebook file cannot be read or does not hold this cell (the kernel cannot tell).
    """
    if notebook is None:
        return None
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    sources = ["".join(c.get("source", "")).strip() for c in cells if c.get("cell_type") == "code"]
    position = {text: i for i, text in reversed(list(enumerate(sources)))}
    here = next((i for text, i in position.items() if text.endswith(source.strip())), None)
    if here is None:
        return None
    for cell in upstream:
        text = cell_code(cell["source"]).strip()
        where = next((i for candidate, i in position.items() if text and text in candidate), None)
        if where is not None and where > here:
            return True
    return False


def cell_provenance(shell, raw_source: str, source: str) -> dict[str, Any]:
    """Notebook, execution count, upstream cells and the out-of-order flag of the running cell."""
    history = list(shell.user_ns.get("In", []))
    # A cell kept in history is its last entry (IPython has already counted it); others have no number.
    stored = bool(history) and cell_code(history[-1]).strip() == source.strip()
    count = len(history) - 1 if stored else None
    upstream = upstream_cells(history, count if stored else len(history), source)
    notebook = notebook_path(shell)
    return {
        "notebook": notebook,
        "execution_count": count,
        "upstream": upstream,
        "out_of_order": out_of_order(notebook, raw_source, upstream),
    }
