"""Filter, sort and limit a runs DataFrame by short names (``accuracy`` for ``metrics.accuracy``)."""

from __future__ import annotations

import re

import pandas as pd

from ..errors import InvalidInputError
from ..metrics import Catalog

PREFIXES = ("metrics.", "params.", "tags.")


def short_names(frame: pd.DataFrame) -> dict[str, str]:
    """{short name: column} for metric, param and tag columns (metrics win a clash)."""
    aliases: dict[str, str] = {}
    for prefix in PREFIXES:
        for column in frame.columns:
            if column.startswith(prefix):
                short = column[len(prefix) :]
                if short not in frame.columns and short.isidentifier():
                    aliases.setdefault(short, column)
    return aliases


def resolve_column(frame: pd.DataFrame, name: str) -> str:
    if name in frame.columns:
        return name
    column = short_names(frame).get(name)
    if column is None:
        metrics = [c[len("metrics.") :] for c in frame.columns if c.startswith("metrics.")]
        raise InvalidInputError(f"no column {name!r} in the runs; metrics are: {', '.join(metrics) or 'none yet'}.")
    return column


def _queryable(frame: pd.DataFrame, aliases: dict[str, str]) -> pd.DataFrame:
    """The frame with short names, and params that all parse as numbers turned into numbers."""
    view = frame.rename(columns={column: short for short, column in aliases.items()})
    for short, column in aliases.items():
        if column.startswith("params."):
            numbers = pd.to_numeric(view[short], errors="coerce")
            if numbers.notna().sum() == view[short].notna().sum():
                view[short] = numbers
    return view


def filter_runs(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    aliases = short_names(frame)
    expression = re.sub(
        r"\b(?:metrics|params|tags)\.(\w+)",
        lambda m: m.group(1) if m.group(1) in aliases else m.group(0),
        where,
    )
    try:
        mask = _queryable(frame, aliases).eval(expression)
    except Exception as exc:
        raise InvalidInputError(f"--where {where!r} cannot be applied ({type(exc).__name__}: {exc}); write e.g. \"accuracy > 0.9\".") from None
    if not isinstance(mask, pd.Series) or mask.dtype != bool:
        raise InvalidInputError(f"--where {where!r} is not a condition; write e.g. \"accuracy > 0.9 and C == 0.5\".")
    return frame[mask]


def select_runs(
    frame: pd.DataFrame, sort: str | None = None, ascending: bool | None = None, limit: int | None = None, where: str | None = None, catalog: Catalog | None = None
) -> pd.DataFrame:
    """Runs matching ``where``, ordered by ``sort`` (metrics best first, in the direction ``catalog`` gives), at most ``limit`` of them."""
    if limit is not None and limit < 0:
        raise InvalidInputError(f"--limit {limit} must be zero or more.")
    if where:
        frame = filter_runs(frame, where)
    if sort:
        column = resolve_column(frame, sort)
        if ascending is None:
            ascending = column.startswith("metrics.") and not (catalog or Catalog()).higher_is_better(column[len("metrics.") :])
        frame = frame.sort_values(column, ascending=ascending, na_position="last", kind="stable")
        frame.attrs["sorted_by"] = (column, ascending)  # the runs table's controls start from it
    if limit is not None:
        frame = frame.head(limit)
    return frame.reset_index(drop=True)
