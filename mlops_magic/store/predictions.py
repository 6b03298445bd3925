"""Logged predictions, ground-truth feedback and per-request service records."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select

from ..errors import NotFoundError
from . import schema as s


def _present(conn, column, ids: list[str]) -> set[str]:
    """The subset of ``ids`` found in ``column`` (queried in chunks to stay under parameter limits)."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(conn.execute(select(column).where(column.in_(ids[start : start + 500]))).scalars())
    return found


class PredictionsStore:
    """Mixin of ``Store``: what a serving process logs, and the labels that come back later."""

    def log_predictions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert a batch of prediction rows in one transaction.

        ``output`` is a plain value; ``inputs`` a dict, or that dict already JSON-encoded (a ``str``,
        as the serving process's writer sends it).
        """
        if not rows:
            return
        with self.db.writing() as conn:
            conn.execute(
                s.predictions.insert(),
                [
                    {**row, "inputs": row["inputs"] if isinstance(row["inputs"], str) else json.dumps(row["inputs"]), "output": json.dumps(row["output"])}
                    for row in rows
                ],
            )

    def log_requests(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert a batch of request records (time, model, version, status_code, latency_ms, n_rows)."""
        if rows:
            with self.db.writing() as conn:
                conn.execute(s.requests_log.insert(), list(rows))

    def log_feedback(self, prediction_ids: Sequence[str], labels: Sequence[Any]) -> int:
        """Record ground-truth labels for earlier predictions (a later label replaces an earlier one);
        unknown ids are refused, all or nothing."""
        ids = [str(i) for i in prediction_ids]
        now = time.time()
        with self.db.writing() as conn:
            known = _present(conn, s.predictions.c.prediction_id, ids)
            missing = [i for i in ids if i not in known]
            if missing:
                raise NotFoundError(f"no prediction with id {missing[0]!r} ({len(missing)} unknown ids): send ids returned by /invocations.")
            conn.execute(
                s.predictions.update().where(s.predictions.c.prediction_id == bindparam("id")).values(label=bindparam("new_label"), label_time=now),
                [{"id": i, "new_label": json.dumps(label)} for i, label in zip(ids, labels)],
            )
        return len(ids)

    def predictions_frame(self, model: str, since: float | None = None, include_shadow: bool = True):
        """Predictions of ``model`` (oldest first) with their feedback labels, as a DataFrame.

        Columns: prediction_id, time, model, version, variant, shadow, latency_ms, output, label,
        label_time, and one ``inputs.<column>`` column per input column.
        """
        import pandas as pd

        query = select(s.predictions).where(s.predictions.c.model == model).order_by(s.predictions.c.time)
        if since is not None:
            query = query.where(s.predictions.c.time >= since)
        if not include_shadow:
            query = query.where(s.predictions.c.shadow.is_(False))
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in s.predictions.columns])
        inputs = pd.DataFrame([json.loads(v) for v in frame.pop("inputs")], index=frame.index).add_prefix("inputs.")
        frame["output"] = [json.loads(v) for v in frame["output"]]
        frame["label"] = [json.loads(v) if isinstance(v, str) else None for v in frame["label"]]  # NaN where no feedback (pandas 3)
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        frame["label_time"] = pd.to_datetime(frame["label_time"], unit="s", utc=True)
        return pd.concat([frame, inputs], axis=1)

    def requests_frame(self, model: str, since: float | None = None):
        import pandas as pd

        query = select(s.requests_log).where(s.requests_log.c.model == model).order_by(s.requests_log.c.time)
        if since is not None:
            query = query.where(s.requests_log.c.time >= since)
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in s.requests_log.columns])
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame

