"""What the loop leaves in the store: lineage events, retraining jobs, and the watchers' locks."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from . import schema as s
from .webhooks import queue_deliveries

# Event names: MLflow's webhook events where they exist, ours for the rest.
EVENTS = (
    "alert.fired",
    "retrain.started",
    "retrain.finished",
    "retrain.failed",
    "promotion.refused",
    "model_version.created",
    "model_version_alias.created",
    "deployment.swapped",
    "watcher.started",
    "watcher.stopped",
    "policies.checked",
)


def write_event(conn: Connection, event: str, model: str | None = None, **fields: Any) -> int:
    """Append one lineage event inside ``conn``'s transaction, with a webhook delivery for each
    receiver that takes it: both are committed with the change the event describes, or neither is."""
    if event not in EVENTS:
        raise ValueError(f"unknown lineage event {event!r}")
    now = time.time()
    row = {"time": now, "event": event, "model": model, **fields, "detail": json.dumps(fields.get("detail") or {}, default=str)}
    event_id = conn.execute(s.events.insert().values(**row)).inserted_primary_key[0]
    queue_deliveries(conn, event_id, event, now)
    return event_id


@dataclass
class Job:
    """A retraining job of ``model``: its process, what it trained, and how it ended."""

    job_id: int
    model: str
    policy_id: int | None
    alert_id: int | None
    status: str  # running | promoted | refused | failed | killed
    started_at: float
    finished_at: float | None
    pid: int | None
    run_id: str | None
    error: str | None
    detail: dict[str, Any]


class LoopStore:
    """Mixin of ``Store``: the lineage of every step, retraining jobs, one watcher per model."""

    # --- lineage ----------------------------------------------------------------------------

    def record_event(self, event: str, model: str | None = None, conn=None, **fields: Any) -> int:
        """Append one lineage event (``version``, ``run_id``, ``alert_id``, ``policy_id``, ``job_id``,
        ``detail``) and queue its webhooks; inside the caller's transaction when ``conn`` is given. Returns its id."""
        if conn is not None:
            return write_event(conn, event, model, **fields)
        with self.db.writing() as writer:
            return write_event(writer, event, model, **fields)

    def events_frame(self, model: str | None = None, since_id: int = 0):
        """Lineage events (of ``model``), oldest first: time, event, model, version, run_id, alert_id,
        policy_id, job_id, detail (a dict)."""
        import pandas as pd

        query = select(s.events).where(s.events.c.event_id > since_id).order_by(s.events.c.event_id)
        if model is not None:
            query = query.where(s.events.c.model == model)
        with self.db.reading() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        frame = pd.DataFrame(rows, columns=[c.name for c in s.events.columns])
        frame["time"] = pd.to_datetime(frame["time"].astype(float), unit="s", utc=True)
        frame = frame.astype({c: "Int64" for c in ("version", "alert_id", "policy_id", "job_id")})
        frame["detail"] = [json.loads(d) if d else {} for d in frame["detail"]]
        return frame

    # --- retraining jobs --------------------------------------------------------------------

    def start_job(self, model: str, policy_id: int | None, alert_id: int | None, cooldown_s: float) -> int | None:
        """Record a running job of ``model``, unless one is running or the last ended under
        ``cooldown_s`` ago: one write transaction, so two watchers can never both start one."""
        now = time.time()
        j = s.jobs
        with self.db.writing() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(s.registered_models.c.name).where(s.registered_models.c.name == model).with_for_update())
            last = conn.execute(select(j.c.status, j.c.started_at, j.c.finished_at).where(j.c.model == model).order_by(j.c.job_id.desc()).limit(1)).first()
            if last is not None and (last.status == "running" or now - (last.finished_at or last.started_at) < cooldown_s):
                return None
            return conn.execute(j.insert().values(model=model, policy_id=policy_id, alert_id=alert_id, status="running", started_at=now)).inserted_primary_key[0]

    def update_job(self, job_id: int, **fields: Any) -> None:
        """Set the job's ``pid``, ``status``, ``run_id``, ``error``, ``detail`` (a dict), ``finished_at``."""
        if "detail" in fields:
            fields["detail"] = json.dumps(fields["detail"], default=str)
        with self.db.writing() as conn:
            conn.execute(s.jobs.update().where(s.jobs.c.job_id == job_id).values(**fields))

    def finish_job(self, job_id: int, status: str, **fields: Any) -> bool:
        """End a running job with ``status`` (and ``run_id``, ``error``, ``detail``): False if it had
        already ended (e.g. killed past its timeout while it was still writing)."""
        if "detail" in fields:
            fields["detail"] = json.dumps(fields["detail"], default=str)
        with self.db.writing() as conn:
            done = conn.execute(
                s.jobs.update().where(s.jobs.c.job_id == job_id, s.jobs.c.status == "running").values(status=status, finished_at=time.time(), **fields)
            )
        return done.rowcount == 1

    def jobs(self, model: str | None = None, job_id: int | None = None, status: str | None = None) -> list[Job]:
        """Jobs (of ``model``, that one ``job_id``, in ``status``), oldest first."""
        query = select(s.jobs).order_by(s.jobs.c.job_id)
        for column, value in (("model", model), ("job_id", job_id), ("status", status)):
            if value is not None:
                query = query.where(s.jobs.c[column] == value)
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        return [Job(**{**r._mapping, "detail": json.loads(r.detail) if r.detail else {}}) for r in rows]

    # --- watchers ---------------------------------------------------------------------------

    def claim_watcher(self, model: str, interval_s: float, stale_after_s: float, announce: bool = True) -> bool:
        """Take the watcher lock of ``model`` for this process: free, ours already, or left by a
        watcher whose heartbeat is older than ``stale_after_s``. False if another watcher holds it.
        ``announce``: record ``watcher.started`` (a watcher that runs on a schedule, not a one-off check)."""
        now, pid, host = time.time(), os.getpid(), socket.gethostname()
        w = s.watchers
        with self.db.writing() as conn:
            held = conn.execute(select(w).where(w.c.model == model)).first()
            if held is not None and (held.pid, held.host) != (pid, host) and now - held.heartbeat_at < stale_after_s:
                return False
            values = {"pid": pid, "host": host, "started_at": now, "heartbeat_at": now, "interval_s": interval_s}
            if held is None:
                conn.execute(w.insert().values(model=model, **values))
            else:
                conn.execute(w.update().where(w.c.model == model).values(**values))
            if announce and (held is None or (held.pid, held.host) != (pid, host)):
                write_event(conn, "watcher.started", model, detail={"pid": pid, "host": host, "interval_s": interval_s})
        return True

    def beat_watcher(self, model: str) -> bool:
        """Renew this process's watcher lock of ``model``; False if it has lost it."""
        w = s.watchers
        with self.db.writing() as conn:
            done = conn.execute(
                w.update().where(w.c.model == model, w.c.pid == os.getpid(), w.c.host == socket.gethostname()).values(heartbeat_at=time.time())
            )
        return done.rowcount == 1

    def release_watcher(self, model: str, ticks: int | None = None) -> None:
        """Give up this process's watcher lock of ``model``; with ``ticks``, record ``watcher.stopped``
        with how many evaluations it made."""
        w = s.watchers
        with self.db.writing() as conn:
            held = conn.execute(w.delete().where(w.c.model == model, w.c.pid == os.getpid(), w.c.host == socket.gethostname()))
            if held.rowcount and ticks is not None:
                write_event(conn, "watcher.stopped", model, detail={"pid": os.getpid(), "ticks": ticks})

    def watcher_records(self) -> list[dict[str, Any]]:
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(s.watchers).order_by(s.watchers.c.model))]
