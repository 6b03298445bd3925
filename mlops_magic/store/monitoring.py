"""Monitoring in the store: policies, alerts, and windowed aggregates of the prediction log.

The dashboard must stay fast on millions of logged predictions, so a window is either the last N
answered predictions (``count``: the newest ``N * max_windows`` rows, found over an index, ranked
and counted here) or a span of ``seconds``: summed in SQL from the per-minute aggregates the
writers keep (``aggregates.py``), with only the minutes a window edge cuts read as rows (none when
the windows are whole minutes ending on one). Only the newest ``max_windows`` windows are read, as
aggregates (the confidence histogram behind the estimates included), plus a bounded sample of each
window's rows for ROC AUC and drift.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, fields
from typing import Any

import orjson
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)

from ..errors import InvalidInputError
from . import schema as s
from .aggregates import BUCKET_S, CONFIDENCE_BINS, NO_BIN, bucket_of, json_number
from .database import fetch_tuples
from .loop import write_event
from .predictions import SHADOW_SUFFIX

REQUEST_ROWS_CAP = 50_000  # requests read for the health windows; above, every k-th (percentiles over 1,000 a window of 50)
THIN_BATCH = 100_000  # raw rows deleted per transaction when a retention setting thins the log
EDGE_S = 1e-3  # a bucket this close to a window edge is read as rows: a float's rounding never moves a row across
SAMPLE_ROWS = 200  # rows per window read for what needs each row's probabilities (ROC AUC, rows logged without a confidence)
NEWEST_ROWS = 2000  # rows of the newest window read for drift


@dataclass
class Policy:
    """A threshold on a monitored metric of ``model`` (or, with ``trigger="drift"``, data drift),
    evaluated over windows of ``window``; with ``retrain``, what the loop does when it is crossed."""

    policy_id: int | None
    model: str
    metric: str
    min_value: float | None
    max_value: float | None
    window: str
    created_at: float
    trigger: str = "threshold"  # threshold | drift
    retrain: bool = False
    gate: str | None = None  # conditions the retrained challenger must pass, e.g. "accuracy >= 0.88"
    min_improvement: float = 0.0  # over the champion on the held-out window, absolute
    cooldown_s: float = 600.0
    min_labelled: int = 0  # labelled predictions in the window before the policy may fire
    alias: str | None = None  # the alias a retrained version is promoted to (None: production)
    production_rows: str = "all"  # labelled production rows a retraining adds: all | recent:N | none
    slice: str | None = None  # a pandas query over the logged inputs: the rows the policy watches (None: all)


def _floor_int(expr, dialect: str):
    """floor(expr) as an integer; SQLite's CAST truncates (our values are >= 0), others round."""
    return cast(expr, Integer) if dialect == "sqlite" else cast(func.floor(expr), Integer)


def _shadows_of(answered, model: str, columns, until: float | None, *extra):
    """The shadow rows (``<id>.s``) of the predictions in ``answered``, each with its prediction's
    ``win``: found by primary key, row by row."""
    shadow = s.predictions.alias("shadow_rows")
    where = [shadow.c.model == model, shadow.c.shadow.is_(True), *([shadow.c.time <= until] if until is not None else [])]
    return (
        select(shadow.c.prediction_id, shadow.c.time, shadow.c.version, shadow.c.variant, shadow.c.shadow, *[shadow.c[c.name] for c in columns])
        .add_columns(answered.c.win, *extra)
        .select_from(shadow.join(answered, shadow.c.prediction_id == answered.c.prediction_id + SHADOW_SUFFIX))
        .where(*where)
    )


def _group_rows(ranked: list[tuple], task: str) -> list[tuple]:
    """``ranked`` rows (win, position, prediction_id, time, version, variant, output, label, confidence;
    position 0 on a window's newest answered row, None on shadow rows) grouped as ``_grouped``
    groups them in SQL, with a window's newest answered id in the group holding its row."""
    groups: dict[tuple, list] = {}
    for win, position, prediction_id, time_, version, variant, output, label, confidence in ranked:
        shadow = position is None
        if task == "regression":
            key = (win, version, variant, shadow, label is not None)
        else:
            key = (win, version, variant, shadow, label is not None, output, label, None if confidence is None else math.floor(confidence * CONFIDENCE_BINS))
        found = groups.get(key)
        if found is None:
            found = groups[key] = [0, time_, time_, None, None, None, None, None]
        found[0] += 1
        found[1], found[2] = min(found[1], time_), max(found[2], time_)
        if position == 0:
            found[3] = prediction_id
        if task == "regression":
            if label is not None:  # SQL's SUM over no labelled row is NULL
                error, truth = json_number(output) - json_number(label), json_number(label)
                found[4:8] = [(found[4] or 0.0) + error * error, (found[5] or 0.0) + abs(error), (found[6] or 0.0) + truth, (found[7] or 0.0) + truth * truth]
        elif confidence is not None:
            found[4] = (found[4] or 0.0) + confidence
    if task == "regression":
        return [(*key, *sums) for key, sums in groups.items()]
    return [(*key[:5], *sums[:4], *key[5:], sums[4]) for key, sums in groups.items()]


class MonitoringStore:
    """Mixin of ``Store``: policies and alerts, and windowed reads of predictions and requests."""

    # --- policies and alerts --------------------------------------------------------------------

    def set_policy(
        self, model: str, metric: str, min_value: float | None, max_value: float | None, window: str, slice: str | None = None, **actions: Any
    ) -> Policy:
        """Store the policy on ``metric`` of ``model`` (over the rows of ``slice``), replacing an
        earlier one on the same metric and slice.

        ``actions`` are the ``Policy`` fields after ``created_at`` (trigger, retrain, gate, ...); a
        drift trigger needs no threshold. Without ``actions`` (a threshold set from the monitor), the
        earlier policy's actions are kept."""
        if min_value is None and max_value is None and actions.get("trigger", "threshold") != "drift":
            raise InvalidInputError(f"a policy on {metric!r} needs a threshold: give --min or --max (min_value=/max_value=).")
        now = time.time()
        same = [s.policies.c.model == model, s.policies.c.metric == metric, s.policies.c.slice.is_(None) if slice is None else s.policies.c.slice == slice]
        with self.db.writing() as conn:
            if not actions:
                earlier = conn.execute(select(s.policies).where(*same)).first()
                names = [f.name for f in fields(Policy)][7:-1]
                actions = {name: earlier._mapping[name] for name in names} if earlier is not None else {}
            conn.execute(s.policies.delete().where(*same))
            policy_id = conn.execute(
                s.policies.insert().values(
                    model=model, metric=metric, min_value=min_value, max_value=max_value, window=window, created_at=now, slice=slice, **actions
                )
            ).inserted_primary_key[0]
        return Policy(policy_id, model, metric, min_value, max_value, window, now, **actions, slice=slice)

    def policies(self, model: str | None = None) -> list[Policy]:
        query = select(s.policies).order_by(s.policies.c.policy_id)
        if model is not None:
            query = query.where(s.policies.c.model == model)
        with self.db.reading() as conn:
            return [Policy(**row._mapping) for row in conn.execute(query)]

    def add_alerts(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record alerts (model, kind, metric, value, threshold, window dict, message, policy_id); return
        those new, each with its ``alert_id`` and an ``alert.fired`` event written in the same transaction.

        An alert already recorded for the same model, kind, metric and window is not repeated, so
        evaluating a policy twice over the same window fires once.
        """
        fresh = []
        now = time.time()
        with self.db.writing() as conn:
            for alert in alerts:
                window = json.dumps(alert.get("window"), sort_keys=True)
                seen = conn.execute(
                    select(s.alerts.c.alert_id).where(
                        s.alerts.c.model == alert["model"],
                        s.alerts.c.kind == alert["kind"],
                        (s.alerts.c.metric == alert.get("metric")) if alert.get("metric") is not None else s.alerts.c.metric.is_(None),
                        (s.alerts.c.slice == alert.get("slice")) if alert.get("slice") is not None else s.alerts.c.slice.is_(None),
                        s.alerts.c.window == window,
                    )
                ).first()
                if seen is None:
                    row = {**alert, "window": window, "time": alert.get("time", now)}
                    row["alert_id"] = conn.execute(s.alerts.insert().values(**row)).inserted_primary_key[0]
                    detail = {k: alert.get(k) for k in ("kind", "metric", "slice", "value", "threshold", "message", "window")}
                    write_event(conn, "alert.fired", alert["model"], alert_id=row["alert_id"], policy_id=alert.get("policy_id"), detail=detail)
                    fresh.append(row)
        return fresh

    def alerts_frame(self, model: str | None = None, limit: int | None = None):
        """Recorded alerts (of ``model``), newest first, as a DataFrame."""
        import pandas as pd

        query = select(s.alerts).order_by(s.alerts.c.time.desc(), s.alerts.c.alert_id.desc())
        if model is not None:
            query = query.where(s.alerts.c.model == model)
        if limit is not None:
            query = query.limit(limit)
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(list(map(tuple, rows)), columns=[c.name for c in s.alerts.columns])
        frame["time"] = pd.to_datetime(frame["time"].astype(float), unit="s", utc=True)
        frame["window"] = [json.loads(w) if w else None for w in frame["window"]]
        return frame

    # --- retention of the prediction log ---------------------------------------------------------

    def set_retention(self, model: str, keep: str | None, seconds: float | None = None, rows: int | None = None) -> int:
        """Keep ``model``'s raw prediction rows of the last ``seconds`` or its newest ``rows`` answered
        ones (``keep`` is how the user wrote it; None keeps everything), and thin the log now: the
        number of rows deleted. Writers thin it again as they write (``thin_predictions``)."""
        r = s.prediction_retention
        with self.db.writing() as conn:
            values = {"keep": keep, "keep_seconds": seconds, "keep_rows": rows}
            if conn.execute(r.update().where(r.c.model == model).values(**values)).rowcount == 0:
                conn.execute(r.insert().values(model=model, **values))
        return self.thin_predictions(model)

    def retention(self, model: str) -> dict[str, Any]:
        """``model``'s retention setting: keep (as written, None: everything), thinned_before (raw rows
        that arrived before it are gone; None: none are)."""
        r = s.prediction_retention
        with self.db.reading() as conn:
            row = conn.execute(select(r.c.keep, r.c.thinned_before).where(r.c.model == model)).first()
        return {"keep": row.keep if row else None, "thinned_before": row.thinned_before if row else None}

    def thinned_before(self, model: str) -> float | None:
        return self.retention(model)["thinned_before"]

    def thin_predictions(self, model: str | None = None, batch: int = THIN_BATCH) -> int:
        """Delete the raw prediction rows that ``model``'s (or every model's) retention setting no
        longer keeps, whole buckets at a time, ``batch`` rows per transaction (writers wait on no long
        one); their aggregates stay. Returns the number of rows deleted."""
        r, p = s.prediction_retention, s.predictions
        query = select(r.c.model, r.c.keep_seconds, r.c.keep_rows, r.c.thinned_before).where(r.c.keep.is_not(None))
        with self.db.reading() as conn:
            settings = conn.execute(query.where(r.c.model == model) if model is not None else query).all()
        deleted = 0
        for name, seconds, rows, before in settings:
            if seconds is not None:
                cutoff = time.time() - seconds
            else:
                newest = select(p.c.time).where(p.c.model == name, p.c.shadow.is_(False)).order_by(p.c.time.desc()).offset(rows - 1).limit(1)
                with self.db.reading() as conn:
                    cutoff = conn.execute(newest).scalar()
            if cutoff is None or bucket_of(cutoff) * BUCKET_S <= (before or -math.inf):
                continue
            cutoff = bucket_of(cutoff) * BUCKET_S  # the bucket holding the cut is kept whole
            with self.db.writing() as conn:  # first: readers sum the buckets before it whole, from the aggregates
                conn.execute(r.update().where(r.c.model == name).values(thinned_before=cutoff))
            while True:
                with self.db.writing() as conn:
                    oldest = select(p.c.prediction_id).where(p.c.model == name, p.c.time < cutoff).order_by(p.c.time).limit(batch).subquery()
                    gone = conn.execute(p.delete().where(p.c.prediction_id.in_(select(oldest.c.prediction_id)))).rowcount
                deleted += gone
                if gone < batch:
                    break
        return deleted

    # --- windowed reads of the prediction log ----------------------------------------------------

    def count_predictions(self, model: str) -> int:
        """How many predictions ``model`` answered (shadow rows, scored beside them, are not counted),
        those a retention setting thinned included: summed from the aggregates."""
        a = s.prediction_aggregates
        with self.db.reading() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(a.c.n), 0)).where(a.c.model == model, a.c.shadow.is_(False))).scalar_one())

    def newest_version(self, model: str, until: float | None = None) -> int | None:
        """The version that answered ``model``'s newest prediction (shadow rows answer nothing): the one
        served; once a retention setting has thinned every row, the newest in the aggregates."""
        p, a = s.predictions, s.prediction_aggregates
        query = select(p.c.version).where(p.c.model == model, p.c.shadow.is_(False)).order_by(p.c.time.desc()).limit(1)
        summed = select(a.c.version).where(a.c.model == model, a.c.shadow.is_(False), a.c.n > 0).order_by(a.c.bucket.desc(), a.c.version.desc()).limit(1)
        if until is not None:
            query = query.where(p.c.time <= until)
            summed = summed.where(a.c.bucket < bucket_of(until) + 1)
        with self.db.reading() as conn:
            found = conn.execute(query).scalar()
            return found if found is not None else conn.execute(summed).scalar()

    def _counted(self, model: str, count: int, max_windows: int, until: float | None, task: str) -> list[tuple]:
        """Grouped rows (as ``_grouped`` gives them) of the newest ``count * max_windows`` answered
        predictions, ``win`` 0 the newest ``count``: ranked by arrival, ``time`` then
        ``prediction_id``, so a request whose rows share a timestamp is cut where its rows arrived;
        each shadow row (``<id>.s``) in the window of the prediction it shadows.

        The oldest time in range is found in the index (``model, shadow, time``), the rows from
        there are read as plain tuples, unordered, and ranked and grouped here: a window function
        and an ``ORDER BY`` on two columns made SQLite sort them in a temporary B-tree (0.6-1.0 s
        for 50,000 rows, against 0.4-0.5 s so, at a load average of 10)."""
        p, a = s.predictions, s.prediction_aggregates
        where = [p.c.model == model, p.c.shadow.is_(False), *([p.c.time <= until] if until is not None else [])]
        picked = [p.c.prediction_id, p.c.time, p.c.version, p.c.variant, p.c.output, p.c.label, p.c.confidence]
        wanted = count * max_windows
        with self.db.reading() as conn:
            oldest = conn.execute(select(p.c.time).where(*where).order_by(p.c.time.desc()).offset(wanted - 1).limit(1)).scalar()
            if oldest is not None:
                where.append(p.c.time >= oldest)  # ties with the oldest included: cut below, in arrival order
            rows = fetch_tuples(conn, select(*picked).where(*where))
            rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
            del rows[wanted:]
            ranked = [(rank // count, rank % count, *r) for rank, r in enumerate(rows)]
            shadowed = select(a.c.bucket).where(a.c.model == model, a.c.shadow.is_(True), a.c.n > 0)
            if rows and conn.execute(shadowed.where(a.c.bucket >= bucket_of(rows[-1][1])).limit(1)).first() is not None:
                shadow = p.alias("shadow_rows")  # a shadow row's bucket is its prediction's arrival: none there, none to find
                of = select(p.c.prediction_id).where(*where).subquery()
                query = (
                    select(of.c.prediction_id, *[shadow.c[c.name] for c in picked])
                    .select_from(shadow.join(of, shadow.c.prediction_id == of.c.prediction_id + SHADOW_SUFFIX))
                    .where(shadow.c.model == model, shadow.c.shadow.is_(True))
                )
                win = {r[2]: r[0] for r in ranked}
                ranked += [(win[r[0]], None, *r[1:]) for r in fetch_tuples(conn, query) if r[0] in win]
        return _group_rows(ranked, task)

    def _edge_rows(self, model: str, ranges: list[tuple[float, float]], end: float, seconds: float, max_windows: int, until: float | None, columns):
        """A subquery of the rows of a time window's edge buckets (``ranges`` of arrival, ``[from, to)``),
        with ``win`` as the windows cut them: ``floor((end - arrival) / seconds)``; a shadow row (found
        from its prediction, by primary key) arrives with the prediction it shadows."""
        p = s.predictions
        base = [p.c.prediction_id, p.c.time, p.c.version, p.c.variant, p.c.shadow, *columns]
        win = _floor_int((literal(end, Float) - p.c.time) / seconds, self.db.engine.dialect.name).label("win")
        low = end - seconds * max_windows
        parts = [  # one bound a side: given two, SQLite may search the index by the wider one
            select(*base, win).where(
                p.c.model == model, p.c.shadow.is_(False), p.c.time >= start if start > low else p.c.time > low, p.c.time < stop if stop <= end else p.c.time <= end
            )
            for start, stop in ranges
        ]
        answered = union_all(*parts).cte("edges") if len(parts) > 1 else parts[0].cte("edges")
        a = s.prediction_aggregates
        shadowed = select(a.c.bucket).where(a.c.model == model, a.c.shadow.is_(True), a.c.bucket >= bucket_of(low), a.c.bucket <= bucket_of(end)).limit(1)
        with self.db.reading() as conn:
            if conn.execute(shadowed).first() is None:  # no shadow row in range: no probe of the primary key per row
                return select(answered).subquery()
        return union_all(select(answered), _shadows_of(answered, model, columns, until)).subquery()

    def _grouped(self, sub, task: str):
        """Rows of ``sub`` grouped by window, version, variant, shadow and labelled (classifiers: and
        output, label, confidence bin): count, first and last time, and the figures' sums."""
        labelled = sub.c.label.isnot(None)
        keys = [sub.c.win, sub.c.version, sub.c.variant, sub.c.shadow, labelled.label("labelled")]
        common = [func.count(), func.min(sub.c.time), func.max(sub.c.time), literal(None, String)]
        if task == "regression":
            error = cast(sub.c.output, Float) - cast(sub.c.label, Float)
            label = cast(sub.c.label, Float)
            extra = [func.sum(error * error), func.sum(func.abs(error)), func.sum(label), func.sum(label * label)]
            groups = keys
        else:
            confidence_bin = _floor_int(sub.c.confidence * CONFIDENCE_BINS, self.db.engine.dialect.name).label("bin")
            extra = [sub.c.output, sub.c.label, confidence_bin, func.sum(sub.c.confidence)]
            groups = [*keys[:-1], sub.c.output, sub.c.label, confidence_bin]  # labelled follows from label
        with self.db.reading() as conn:
            return conn.execute(select(*keys, *common, *extra).group_by(*groups)).all()

    def _summed(self, model: str, buckets: tuple[int, int], edges: list[int], end: float, seconds: float, max_windows: int, task: str):
        """The aggregates of the whole buckets in ``buckets`` (first, last) but ``edges``, grouped as
        ``_grouped`` groups rows; a bucket's window is that of its middle (where it lies whole)."""
        a = s.prediction_aggregates
        middle = (a.c.bucket + 0.5) * BUCKET_S
        win = _floor_int((literal(end, Float) - middle) / seconds, self.db.engine.dialect.name).label("win")
        keys = [win, a.c.version, a.c.variant, a.c.shadow, a.c.labelled]
        common = [func.sum(a.c.n), func.min(a.c.bucket) * BUCKET_S, (func.max(a.c.bucket) + 1) * BUCKET_S, literal(None, String)]
        if task == "regression":
            extra, groups = [func.sum(a.c[n]) for n in ("sum_error2", "sum_abs_error", "sum_label", "sum_label2")], keys
        else:
            extra, groups = [a.c.output, a.c.label, a.c.bin, func.sum(a.c.sum_confidence)], [*keys, a.c.output, a.c.label, a.c.bin]
        where = [a.c.model == model, a.c.bucket >= buckets[0], a.c.bucket <= buckets[1], middle > end - seconds * max_windows, middle <= end]
        if edges:
            where.append(a.c.bucket.not_in(edges))
        with self.db.reading() as conn:
            rows = conn.execute(select(*keys, *common, *extra).where(*where).group_by(*groups).having(func.sum(a.c.n) > 0)).all()
        return [(r[0], r[1], r[2] or None, r[3], r[4], *r[5:9], *(r[9:] if task == "regression" else (r[9], r[10] or None, None if r[11] == NO_BIN else r[11], r[12]))) for r in rows]

    def _cut_buckets(self, model: str, end: float, seconds: float, max_windows: int) -> set[int]:
        """The buckets whose rows the windows' edges may split: each bucket an edge lies inside, and
        where an edge lies on a bucket's start (within ``EDGE_S``: windows of whole minutes ending on
        one) the two buckets beside it only when a row was logged within ``EDGE_S`` of the edge (a
        window holds its end, a bucket its start): one indexed lookup per edge."""
        p = s.predictions
        cut, near = set(), []
        for k in range(max_windows + 1):
            edge = end - k * seconds
            low, high = bucket_of(edge - EDGE_S), bucket_of(edge + EDGE_S)
            if low == high:
                cut.add(low)
            else:
                near.append((edge, low, high))
        with self.db.reading() as conn:
            for edge, low, high in near:
                query = select(p.c.time).where(p.c.model == model, p.c.time >= edge - EDGE_S, p.c.time <= edge + EDGE_S).limit(1)
                if conn.execute(query).first() is not None:
                    cut.update((low, high))
        return cut

    def _timed(self, model: str, seconds: float, max_windows: int, until: float | None, task: str, columns) -> list[tuple]:
        """Grouped rows of the newest time windows: the buckets a window edge cuts read as rows, the
        others summed from the aggregates (a bucket a retention thinned is summed whole)."""
        end = time.time() if until is None else until
        thinned = self.thinned_before(model) or -math.inf
        edges = sorted(b for b in self._cut_buckets(model, end, seconds, max_windows) if (b + 1) * BUCKET_S > thinned)
        ranges: list[list[int]] = []
        for b in edges:
            if ranges and ranges[-1][1] == b:
                ranges[-1][1] = b + 1
            else:
                ranges.append([b, b + 1])
        rows = self._summed(model, (bucket_of(end - seconds * max_windows), bucket_of(end)), edges, end, seconds, max_windows, task)
        if ranges:
            sub = self._edge_rows(model, [(a * BUCKET_S, b * BUCKET_S) for a, b in ranges], end, seconds, max_windows, until, columns)
            rows += [r for r in self._grouped(sub, task) if r[0] is not None and 0 <= r[0] < max_windows]
        return rows

    def prediction_windows(
        self, model: str, count: int | None = None, seconds: float | None = None, max_windows: int = 50, until: float | None = None, task: str = "classification"
    ):
        """Aggregates of the newest windows of ``model``'s predictions, as a DataFrame.

        Columns: win, version, variant, shadow, labelled, n, first, last (times), newest_id (count
        windows: the id of the window's newest answered row, in the group holding it); for classifiers
        output and label (JSON decoded; label None where no feedback came), ``bin`` (the answered
        class's confidence in ``1/CONFIDENCE_BINS`` steps; NaN where none was logged) and
        ``sum_confidence``; for regressors sum_error2, sum_abs_error, sum_label, sum_label2 over the
        labelled rows. A group may come in several rows (a time window's edge rows beside its
        aggregates): their sums add up.
        """
        import pandas as pd

        if (count is None) == (seconds is None):
            raise InvalidInputError("a window is either a number of predictions or a duration, e.g. 200 or '1h'.")
        p = s.predictions
        columns = [p.c.output, p.c.label] if task == "regression" else [p.c.output, p.c.label, p.c.confidence]
        if count is not None:
            rows = self._counted(model, count, max_windows, until, task)
        else:
            rows = self._timed(model, seconds, max_windows, until, task, columns)
        names = ["sum_error2", "sum_abs_error", "sum_label", "sum_label2"] if task == "regression" else ["output", "label", "bin", "sum_confidence"]
        frame = pd.DataFrame(list(map(tuple, rows)), columns=["win", "version", "variant", "shadow", "labelled", "n", "first", "last", "newest_id", *names])
        frame["labelled"] = frame["labelled"].astype(bool)
        frame["shadow"] = frame["shadow"].astype(bool)
        frame["variant"] = frame["variant"].astype(object)
        if task != "regression":
            decode = {text: json.loads(text) for text in set(frame["output"]) | set(frame["label"].dropna())}
            frame["output"] = pd.Series([decode[t] for t in frame["output"]], dtype=object)
            frame["label"] = pd.Series([decode[t] if isinstance(t, str) else None for t in frame["label"]], dtype=object)
            frame["bin"] = frame["bin"].astype(float)
            frame["sum_confidence"] = frame["sum_confidence"].astype(float)
        return frame

    def window_sample(self, model: str, bounds: list[tuple[int, float, float, str | None, int]], per_window: int = SAMPLE_ROWS, newest: int = NEWEST_ROWS):
        """The newest ``per_window`` answered predictions of each window (``newest`` of window 0), with
        inputs, label and confidence, as a DataFrame in arrival order (``time``, then ``prediction_id``).

        ``bounds`` lists (win, start, end, newest_id, size) per window, start exclusive. A count
        window (``newest_id`` given) is read from its newest row, ``(end, newest_id)``, back in arrival
        order for at most its ``size`` rows, so each row is in exactly the window the aggregates put it
        in; a time window is ``(start, end]``.
        One indexed query with a LIMIT per window, so the cost does not grow with the log. Columns:
        win, prediction_id, time, version, variant, output, label, confidence, ``inputs.<column>``.
        """
        import pandas as pd

        p = s.predictions
        picked = [p.c.prediction_id, p.c.time, p.c.version, p.c.variant, p.c.output, p.c.inputs, p.c.label, p.c.confidence]
        rows = []
        with self.db.reading() as conn:
            for win, start, end, newest_id, size in bounds:
                where = [p.c.model == model, p.c.shadow.is_(False), p.c.time <= end]
                if isinstance(newest_id, str):
                    where.append(or_(p.c.time < end, p.c.prediction_id <= newest_id))
                else:
                    where.append(p.c.time > start)
                query = select(literal(int(win)).label("win"), *picked).where(*where).order_by(p.c.time.desc(), p.c.prediction_id.desc())
                rows += conn.execute(query.limit(min(newest if win == 0 else per_window, size))).all()
        rows.sort(key=lambda r: (r.time, r.prediction_id))
        decode = orjson.loads  # twice as fast as json here, where the sample's inputs are most of the cost
        frame = pd.DataFrame(
            {
                "win": [r.win for r in rows],
                "prediction_id": pd.Series([r.prediction_id for r in rows], dtype=object),
                "time": [r.time for r in rows],
                "version": [r.version for r in rows],
                "variant": pd.Series([r.variant for r in rows], dtype=object),
                "output": pd.Series([decode(r.output) for r in rows], dtype=object),
                "label": pd.Series([None if r.label is None else decode(r.label) for r in rows], dtype=object),
                "confidence": pd.Series([r.confidence for r in rows], dtype=float),
            }
        )
        inputs = pd.DataFrame([decode(r.inputs) for r in rows], index=frame.index).add_prefix("inputs.")
        return pd.concat([frame, inputs], axis=1)

    def request_rows(self, model: str, since: float, until: float | None = None, cap: int = REQUEST_ROWS_CAP):
        """Requests of ``model`` in (since, until] as a DataFrame (time, version, status_code, latency_ms)

        and the sampling step: above ``cap`` rows, every k-th request is read (by id), and the
        returned ``step`` k lets counts be scaled back.
        """
        import pandas as pd

        r = s.requests_log
        where = [r.c.model == model, r.c.time > since]
        if until is not None:
            where.append(r.c.time <= until)
        with self.db.reading() as conn:
            total = conn.execute(select(func.count()).select_from(r).where(*where)).scalar_one()
            step = max(1, -(-total // cap))
            query = select(r.c.time, r.c.version, r.c.status_code, r.c.latency_ms).where(*where)
            if step > 1:
                query = query.where(and_(r.c.request_id % step == 0))
            rows = fetch_tuples(conn, query.order_by(r.c.time))  # plain tuples: a Row per request costs more than the query
        return pd.DataFrame(rows, columns=["time", "version", "status_code", "latency_ms"]), step
