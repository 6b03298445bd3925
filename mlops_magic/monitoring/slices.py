"""Slices: the rows of each window whose logged inputs match a pandas query (``region == 'north'``).

A slice cannot be cut by the SQL aggregates (its expression runs on the decoded inputs), so its
figures come from the newest ``SLICE_ROWS`` answered rows of each window, which the dashboard states
beside each slice's sample size (exact for windows up to that size).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputError

SLICE_ROWS = 2000  # rows read per window for the slices


def check_slice(expression: str, columns: list[str] | None) -> str:
    """``expression`` if it is a condition pandas can evaluate over ``columns`` (the model's inputs); else one line."""
    import pandas as pd

    expression = (expression or "").strip()
    if not expression:
        raise InvalidInputError("--slice needs a condition on the logged inputs, e.g. --slice \"region == 'north'\".")
    if columns is not None:
        select(pd.DataFrame({c: pd.Series(dtype=object) for c in columns}), expression)
    return expression


def select(inputs, expression: str):
    """The boolean mask of the rows of ``inputs`` (columns: the model's inputs) matching ``expression``."""
    import pandas as pd

    try:
        mask = inputs.eval(expression)
    except Exception as exc:
        columns = ", ".join(map(str, inputs.columns[:12]))
        raise InvalidInputError(
            f"--slice {expression!r} cannot be applied to the logged inputs ({type(exc).__name__}: {exc}); the columns are {columns}."
        ) from None
    if not isinstance(mask, pd.Series) or mask.dtype != bool:
        raise InvalidInputError(f"--slice {expression!r} is not a condition: write e.g. \"region == 'north'\" or \"amount > 100\".")
    return mask


def slice_table(rows, inputs, table, expressions: list[str], figures: Callable[[Any], dict[str, float]], problems: dict[str, str]):
    """Per slice and window (oldest first): window, start, end, n_read (rows read of the window),
    n_predictions and n_labelled (of those, in the slice), and ``figures`` of the slice's rows."""
    import pandas as pd

    found = []
    sizes = rows.groupby("win").size()
    for expression in expressions:
        try:
            mask = select(inputs, expression)
        except InvalidInputError as exc:
            problems.setdefault(f"slice {expression}", str(exc))
            continue
        chosen = rows[mask.to_numpy()]
        groups = dict(tuple(chosen.groupby("win")))
        for window in table.itertuples():
            part = groups.get(window.win, chosen.iloc[:0])
            found.append(
                {
                    "slice": expression, "window": window.window, "start": window.start, "end": window.end,
                    "n_read": int(sizes.get(window.win, 0)), "n_predictions": len(part), "n_labelled": int(part["label"].notna().sum()),
                    **figures(part),
                }
            )  # fmt: skip
    return pd.DataFrame(found, columns=None if found else ["slice", "window", "start", "end", "n_read", "n_predictions", "n_labelled"])
