"""Logged predictions, ground-truth feedback and per-request service records."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, select

from ..errors import NotFoundError
from . import aggregates
from . import schema as s

SHADOW_SUFFIX = ".s"  # a shadow prediction's id is the id of the prediction it shadowed, plus this


def shadow_id(prediction_id: str) -> str:
    return prediction_id + SHADOW_SUFFIX


def _chunks(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    """``ids`` in chunks small enough for one IN (...) under every database's parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _present(conn, column, ids: list[str]) -> set[str]:
    """The subset of ``ids`` found in ``column``."""
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def _arrivals(conn, rows: list[dict[str, Any]], known: dict[str, float]) -> dict[str, float]:
    """The arrival of each shadow row of ``rows``: the time of the prediction it shadows (from
    ``known``, else the store); a shadow row whose prediction is not stored arrives at its own time."""
    wanted = {r["prediction_id"]: r["prediction_id"].removesuffix(SHADOW_SUFFIX) for r in rows if r["shadow"]}
    found = {i: known[i] for i in wanted.values() if i in known}
    p = s.predictions.c
    for chunk in _chunks([i for i in set(wanted.values()) if i not in found]):
        found.update(conn.execute(select(p.prediction_id, p.time).where(p.prediction_id.in_(chunk))).all())
    return {shadow: found[of] for shadow, of in wanted.items() if of in found}


def _prediction_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the table takes it: every column named (so one statement inserts a batch), JSON encoded."""
    inputs = row["inputs"]
    return {
        "prediction_id": row["prediction_id"],
        "time": row["time"],
        "model": row["model"],
        "version": row["version"],
        "variant": row.get("variant"),
        "shadow": bool(row.get("shadow", False)),
        "inputs": inputs if isinstance(inputs, str) else json.dumps(inputs),
        "output": json.dumps(row["output"]),
        "latency_ms": row["latency_ms"],
        "confidence": row.get("confidence"),
        "label": None if row.get("label") is None else json.dumps(row["label"]),
        "label_time": row.get("label_time"),
    }


def _insert_predictions(conn, rows: Sequence[dict[str, Any]], replayed: bool, tasks: aggregates.Tasks) -> None:
    """Insert prediction rows, and add them to the aggregates; shadow rows take the label their
    champion row already has.

    ``replayed`` rows (from a journal) may already be stored: those are skipped, not inserted twice.
    """
    rows = [_prediction_row(row) for row in rows]
    if replayed:
        stored = _present(conn, s.predictions.c.prediction_id, [r["prediction_id"] for r in rows])
        rows = [r for r in rows if r["prediction_id"] not in stored]
    shadowed = {r["prediction_id"].removesuffix(SHADOW_SUFFIX): r for r in rows if r["shadow"]}
    if shadowed:  # feedback may have come before the shadow model had scored: its rows get the label now
        p = s.predictions.c
        ids = list(shadowed)
        for start in range(0, len(ids), 500):
            query = select(p.prediction_id, p.label, p.label_time).where(p.prediction_id.in_(ids[start : start + 500]), p.label.is_not(None))
            for prediction_id, label, label_time in conn.execute(query):
                shadowed[prediction_id].update(label=label, label_time=label_time)
    if rows:
        conn.execute(s.predictions.insert(), rows)
        totals: dict = {}
        known = {r["prediction_id"]: r["time"] for r in rows if not r["shadow"]}
        aggregates.add_rows(totals, rows, _arrivals(conn, rows, known), tasks.of(conn, {(r["model"], r["version"]) for r in rows}))
        aggregates.write(conn, totals)


def _insert_requests(conn, rows: Sequence[dict[str, Any]], replayed: bool) -> None:
    """Insert request records; ``replayed`` ones already stored (same model and time) are skipped."""
    rows = list(rows)
    if replayed and rows:
        r = s.requests_log.c
        stored = set()
        for model in {row["model"] for row in rows}:
            times = [row["time"] for row in rows if row["model"] == model]
            for start in range(0, len(times), 500):
                stored.update((model, t) for t in conn.execute(select(r.time).where(r.model == model, r.time.in_(times[start : start + 500]))).scalars())
        rows = [row for row in rows if (row["model"], row["time"]) not in stored]
    if rows:
        conn.execute(s.requests_log.insert(), rows)


def _move_aggregates(conn, new_labels: dict[str, str], tasks: aggregates.Tasks) -> None:
    """Move the rows ``new_labels`` labels from their aggregate key to their labelled one (rows
    locked first where the database can, so two feedbacks on one row never both move it)."""
    p = s.predictions.c
    picked = [p.prediction_id, p.time, p.model, p.version, p.variant, p.shadow, p.output, p.label, p.confidence]
    rows = []
    for chunk in _chunks(list(new_labels)):
        rows += [dict(r._mapping) for r in conn.execute(select(*picked).where(p.prediction_id.in_(chunk)).with_for_update())]
    if not rows:
        return
    arrivals = _arrivals(conn, rows, {r["prediction_id"]: r["time"] for r in rows if not r["shadow"]})
    found = tasks.of(conn, {(r["model"], r["version"]) for r in rows})
    totals: dict = {}
    aggregates.add_rows(totals, rows, arrivals, found, sign=-1)
    aggregates.add_rows(totals, [{**r, "label": new_labels[r["prediction_id"]]} for r in rows], arrivals, found)
    aggregates.write(conn, totals)


class PredictionsStore:
    """Mixin of ``Store``: what a serving process logs, and the labels that come back later."""

    @functools.cached_property
    def _tasks(self) -> aggregates.Tasks:
        return aggregates.Tasks()

    def log_predictions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert a batch of prediction rows in one transaction.

        ``output`` is a plain value; ``inputs`` a dict, or that dict already JSON-encoded (a ``str``,
        as the serving process's writer sends it); ``confidence`` optional, and ``label`` (with
        ``label_time``) for predictions whose ground truth is known already (an imported log).
        """
        self.log_served(rows, [])

    def log_requests(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert a batch of request records (time, model, version, status_code, latency_ms, n_rows)."""
        self.log_served([], rows)

    def log_served(self, predictions: Sequence[dict[str, Any]], requests: Sequence[dict[str, Any]], replayed: bool = False) -> None:
        """Insert what a serving process answered, predictions and request records, in one transaction.

        ``replayed``: the rows come from a journal and some may be stored already; those are skipped.
        """
        if not predictions and not requests:
            return
        with self.db.writing() as conn:
            if predictions:
                _insert_predictions(conn, predictions, replayed, self._tasks)
            if requests:
                _insert_requests(conn, requests, replayed)

    def unknown_prediction_ids(self, prediction_ids: Sequence[str]) -> list[str]:
        """Those of ``prediction_ids`` the store holds no prediction for, in the order given."""
        ids = [str(i) for i in prediction_ids]
        with self.db.reading() as conn:
            known = _present(conn, s.predictions.c.prediction_id, ids)
        return [i for i in ids if i not in known]

    def log_feedback(self, prediction_ids: Sequence[str], labels: Sequence[Any]) -> int:
        """Record ground-truth labels for earlier predictions (a later label replaces an earlier one);
        unknown ids are refused, all or nothing. The shadow rows of those predictions (``<id>.s``)
        get the same label in the same transaction."""
        ids = [str(i) for i in prediction_ids]
        now = time.time()
        with self.db.writing() as conn:
            known = _present(conn, s.predictions.c.prediction_id, ids)
            missing = [i for i in ids if i not in known]
            if missing:
                raise NotFoundError(f"no prediction with id {missing[0]!r} ({len(missing)} unknown ids): send ids returned by /invocations.")
            new_labels = {i: json.dumps(label) for i, label in zip(ids, labels)}
            new_labels.update({shadow_id(i): label for i, label in list(new_labels.items()) if not i.endswith(SHADOW_SUFFIX)})
            _move_aggregates(conn, new_labels, self._tasks)
            conn.execute(
                s.predictions.update().where(s.predictions.c.prediction_id == bindparam("id")).values(label=bindparam("new_label"), label_time=now),
                [{"id": i, "new_label": label} for i, label in new_labels.items()],
            )
        return len(ids)

    def predictions_frame(self, model: str, since: float | None = None, include_shadow: bool = True):
        """Predictions of ``model`` (oldest first) with their feedback labels, as a DataFrame.

        Columns: prediction_id, time, model, version, variant, shadow, latency_ms, output, confidence
        (the model's probability of the class it answered; None for a regressor), label, label_time,
        and one ``inputs.<column>`` column per input column. Shadow rows carry their champion row's label.
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
        labels = [json.loads(v) if isinstance(v, str) else None for v in frame["label"]]
        frame["label"] = pd.Series(labels, index=frame.index, dtype=object)  # labels as sent (1 stays 1), None where none came
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

