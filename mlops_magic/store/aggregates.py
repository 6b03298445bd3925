"""Per-minute aggregates of the prediction log, kept up to date by every write to it.

Each logged prediction adds one to the count (and its confidence and, for a regressor's labelled
rows, its error and label to the sums) of its key: model, minute bucket of its arrival, version,
variant, shadow, labelled, output and label (classifiers), confidence bin. Feedback moves a row
from its unlabelled key to its labelled one. The writes are upserts that add, so any number of
writers (serving processes, the kernel) keep the counts exact, in the same transaction as the rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from . import schema as s

BUCKET_S = 60  # seconds per bucket: a time window's edges read at most this much of raw rows each
CONFIDENCE_BINS = 100  # confidence histogram bins per window; the calibration map is applied at each bin's mean
SUMS = ("n", "sum_confidence", "sum_error2", "sum_abs_error", "sum_label", "sum_label2")
KEYS = ("model", "bucket", "version", "variant", "shadow", "labelled", "output", "label", "bin")
NO_BIN = -1


def bucket_of(arrival: float) -> int:
    return math.floor(arrival / BUCKET_S)


def confidence_bin(confidence: float | None) -> int:
    """The bin of a confidence as the SQL aggregates cut it (``CAST(confidence * 100 AS INTEGER)``)."""
    return NO_BIN if confidence is None else int(confidence * CONFIDENCE_BINS)


def json_number(text: str | None) -> float:
    """A JSON value as SQL's CAST to a float reads it (0.0 for what is not a number)."""
    try:
        return float(json.loads(text))
    except (TypeError, ValueError):
        return 0.0


class Tasks:
    """The task (classification | regression) of each model version, read once per store process."""

    def __init__(self):
        self._known: dict[tuple[str, int], str] = {}

    def of(self, conn, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The task of each (model, version) as ``Run.task`` reads it; "classification" where unknown,
        as the monitor reads it (a version not registered yet is not kept: it is read again)."""
        for model, version in pairs - self._known.keys():
            v = s.model_versions.c
            run_id = conn.execute(select(v.run_id).where(v.name == model, v.version == version)).scalar()
            if run_id is None:
                continue
            tag = conn.execute(select(s.tags.c.value).where(s.tags.c.run_id == run_id, s.tags.c.key == "mlops.task")).scalar()
            models = conn.execute(select(s.run_models.c.task).where(s.run_models.c.run_id == run_id)).scalars().all()
            self._known[(model, version)] = tag or (models[-1] if models else None) or "classification"
        return {pair: self._known.get(pair, "classification") for pair in pairs}


def add_rows(totals: dict[tuple, list[float]], rows: Iterable[dict[str, Any]], arrivals: dict[str, float], tasks: dict, sign: int = 1) -> None:
    """Add (``sign`` 1) or take away (-1) ``rows`` (stored form: JSON text output and label) to ``totals``.

    ``arrivals`` maps a shadow row's id to the time of the prediction it shadows (its own time otherwise).
    """
    for row in rows:
        regression = tasks.get((row["model"], row["version"])) == "regression"
        label = row["label"]
        arrival = arrivals.get(row["prediction_id"], row["time"])
        key = (
            row["model"], bucket_of(arrival), row["version"], row["variant"] or "", bool(row["shadow"]), label is not None,
            "" if regression else row["output"], "" if regression or label is None else label,
            NO_BIN if regression else confidence_bin(row["confidence"]),
        )  # fmt: skip
        sums = totals.setdefault(key, [0, 0.0, 0.0, 0.0, 0.0, 0.0])
        sums[0] += sign
        if not regression:
            sums[1] += sign * (row["confidence"] or 0.0)
        elif label is not None:
            error, truth = json_number(row["output"]) - json_number(label), json_number(label)
            sums[2] += sign * error * error
            sums[3] += sign * abs(error)
            sums[4] += sign * truth
            sums[5] += sign * truth * truth


def write(conn, totals: dict[tuple, list[float]]) -> None:
    """Add ``totals`` to the stored aggregates, keys in sorted order (concurrent writers never deadlock)."""
    rows = [dict(zip(KEYS + SUMS, (*key, *sums))) for key, sums in sorted(totals.items()) if any(sums)]
    if not rows:
        return
    table = s.prediction_aggregates
    dialect = conn.engine.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=list(KEYS), set_={name: table.c[name] + statement.excluded[name] for name in SUMS}
        )
        conn.execute(statement, rows)
        return
    for row in rows:  # other databases: read, then update or insert, row by row
        where = [table.c[k] == row[k] for k in KEYS]
        found = conn.execute(select(*[table.c[n] for n in SUMS]).where(*where).with_for_update()).first()
        if found is None:
            conn.execute(table.insert().values(**row))
        else:
            conn.execute(table.update().where(*where).values(**{n: found[i] + row[n] for i, n in enumerate(SUMS)}))
