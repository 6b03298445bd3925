"""Monitoring in the store: policies, alerts, and windowed aggregates of the prediction log.

The dashboard must stay fast on millions of logged predictions, so windows are cut and counted in
SQL: a window is either the last N predictions (``count``) or a span of ``seconds``; only the
newest ``max_windows`` windows are read, as aggregates, plus a bounded sample of rows per window.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, and_, cast, func, literal, select

from ..errors import InvalidInputError
from . import schema as s

REQUEST_ROWS_CAP = 200_000


@dataclass
class Policy:
    """A threshold on a monitored metric of ``model``, evaluated over windows of ``window``."""

    policy_id: int
    model: str
    metric: str
    min_value: float | None
    max_value: float | None
    window: str
    created_at: float

    def crossed(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.min_value is not None and value < self.min_value) or (self.max_value is not None and value > self.max_value)


def _floor_int(expr, dialect: str):
    """floor(expr) as an integer; SQLite's CAST truncates (our values are >= 0), others round."""
    return cast(expr, Integer) if dialect == "sqlite" else cast(func.floor(expr), Integer)


class MonitoringStore:
    """Mixin of ``Store``: policies and alerts, and windowed reads of predictions and requests."""

    # --- policies and alerts --------------------------------------------------------------------

    def set_policy(self, model: str, metric: str, min_value: float | None, max_value: float | None, window: str) -> Policy:
        """Store the policy on ``metric`` of ``model``, replacing an earlier one on the same metric."""
        if min_value is None and max_value is None:
            raise InvalidInputError(f"a policy on {metric!r} needs a threshold: give --min or --max (min_value=/max_value=).")
        now = time.time()
        with self.db.writing() as conn:
            conn.execute(s.policies.delete().where(s.policies.c.model == model, s.policies.c.metric == metric))
            policy_id = conn.execute(
                s.policies.insert().values(model=model, metric=metric, min_value=min_value, max_value=max_value, window=window, created_at=now)
            ).inserted_primary_key[0]
        return Policy(policy_id, model, metric, min_value, max_value, window, now)

    def policies(self, model: str | None = None) -> list[Policy]:
        query = select(s.policies).order_by(s.policies.c.policy_id)
        if model is not None:
            query = query.where(s.policies.c.model == model)
        with self.db.reading() as conn:
            return [Policy(**row._mapping) for row in conn.execute(query)]

    def add_alerts(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record alerts (model, kind, metric, value, threshold, window dict, message); return those new.

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
                        s.alerts.c.window == window,
                    )
                ).first()
                if seen is None:
                    row = {**alert, "window": window, "time": alert.get("time", now)}
                    conn.execute(s.alerts.insert().values(**row))
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
        frame = pd.DataFrame(rows, columns=[c.name for c in s.alerts.columns])
        frame["time"] = pd.to_datetime(frame["time"].astype(float), unit="s", utc=True)
        frame["window"] = [json.loads(w) if w else None for w in frame["window"]]
        return frame

    # --- windowed reads of the prediction log ----------------------------------------------------

    def count_predictions(self, model: str) -> int:
        with self.db.reading() as conn:
            return conn.execute(select(func.count()).select_from(s.predictions).where(s.predictions.c.model == model)).scalar_one()

    def newest_version(self, model: str, until: float | None = None) -> int | None:
        """The version that answered ``model``'s newest (non-shadow) prediction: the one being served."""
        p = s.predictions
        query = select(p.c.version).where(p.c.model == model, p.c.shadow.is_(False)).order_by(p.c.time.desc()).limit(1)
        if until is not None:
            query = query.where(p.c.time <= until)
        with self.db.reading() as conn:
            return conn.execute(query).scalar()

    def _windowed(self, model: str, count: int | None, seconds: float | None, max_windows: int, until: float | None, columns):
        """A subquery of ``model``'s non-shadow predictions in the newest windows, with ``win`` (0 = newest)."""
        p = s.predictions
        dialect = self.db.engine.dialect.name
        base = [p.c.prediction_id, p.c.time, p.c.version, p.c.variant, p.c.shadow, *columns]
        where = [p.c.model == model]
        if until is not None:
            where.append(p.c.time <= until)
        if count is not None:
            latest = select(*base).where(*where).order_by(p.c.time.desc(), p.c.prediction_id.desc()).limit(count * max_windows).subquery()
            rank = func.row_number().over(order_by=(latest.c.time.desc(), latest.c.prediction_id.desc())) - 1
            return select(*latest.c, (rank // count).label("win")).subquery()
        end = time.time() if until is None else until
        where += [p.c.time > end - seconds * max_windows]
        win = _floor_int((literal(end, Float) - p.c.time) / seconds, dialect)
        return select(*base, win.label("win")).where(*where).subquery()

    def prediction_windows(
        self, model: str, count: int | None = None, seconds: float | None = None, max_windows: int = 50, until: float | None = None, task: str = "classification"
    ) -> dict[str, Any]:
        """Aggregates of the newest windows of ``model``'s predictions, from one grouped query.

        ``groups``: win, version, variant, shadow, labelled, n, first, last (times), and for
        classifiers output and label (JSON decoded; label None where no feedback came), for
        regressors sum_error2, sum_abs_error, sum_label, sum_label2 over the labelled rows.
        """
        import pandas as pd

        if (count is None) == (seconds is None):
            raise InvalidInputError("a window is either a number of predictions or a duration, e.g. 200 or '1h'.")
        sub = self._windowed(model, count, seconds, max_windows, until, [s.predictions.c.output, s.predictions.c.label])
        labelled = sub.c.label.isnot(None)
        keys = [sub.c.win, sub.c.version, sub.c.variant, sub.c.shadow, labelled.label("labelled")]
        common = [func.count(), func.min(sub.c.time), func.max(sub.c.time)]
        if task == "regression":
            error = cast(sub.c.output, Float) - cast(sub.c.label, Float)
            label = cast(sub.c.label, Float)
            extra = [func.sum(error * error), func.sum(func.abs(error)), func.sum(label), func.sum(label * label)]
            names = ["sum_error2", "sum_abs_error", "sum_label", "sum_label2"]
            groups = keys
        else:
            extra, names = [sub.c.output, sub.c.label], ["output", "label"]
            groups = [*keys, sub.c.output, sub.c.label]
        query = select(*keys, *common, *extra).group_by(*groups)
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["win", "version", "variant", "shadow", "labelled", "n", "first", "last", *names])
        frame["labelled"] = frame["labelled"].astype(bool)
        if task != "regression":
            decode = {text: json.loads(text) for text in set(frame["output"]) | set(frame["label"].dropna())}
            frame["output"] = pd.Series([decode[t] for t in frame["output"]], dtype=object)
            frame["label"] = pd.Series([decode[t] if isinstance(t, str) else None for t in frame["label"]], dtype=object)
        return {"groups": frame}

    def prediction_sample(self, model: str, bounds: list[tuple[int, float, float]], per_window: int = 200, newest: int = 2000):
        """The newest ``per_window`` non-shadow predictions of each window (``newest`` of the newest
        window, for drift), with inputs and label, as a DataFrame, oldest first.

        ``bounds`` lists (win, start, end) with the start exclusive, as epoch seconds; each window is
        one indexed query with a LIMIT, so the cost does not grow with the log. Columns: win, time,
        version, variant, output, label, and ``inputs.<column>`` per input.
        """
        import pandas as pd

        p = s.predictions
        rows = []
        with self.db.reading() as conn:
            for win, start, end in bounds:
                query = (
                    select(literal(int(win)).label("win"), p.c.time, p.c.version, p.c.variant, p.c.output, p.c.inputs, p.c.label)
                    .where(p.c.model == model, p.c.shadow.is_(False), p.c.time > start, p.c.time <= end)
                    .order_by(p.c.time.desc())
                    .limit(newest if win == 0 else per_window)
                )
                rows += reversed(conn.execute(query).all())
        rows.sort(key=lambda r: r.time)
        frame = pd.DataFrame(
            {
                "win": [r.win for r in rows],
                "time": [r.time for r in rows],
                "version": [r.version for r in rows],
                "variant": pd.Series([r.variant for r in rows], dtype=object),
                "output": pd.Series([json.loads(r.output) for r in rows], dtype=object),
                "label": pd.Series([None if r.label is None else json.loads(r.label) for r in rows], dtype=object),
            }
        )
        inputs = pd.DataFrame([json.loads(r.inputs) for r in rows], index=frame.index).add_prefix("inputs.")
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
            rows = conn.execute(query.order_by(r.c.time)).all()
        return pd.DataFrame(rows, columns=["time", "version", "status_code", "latency_ms"]), step
