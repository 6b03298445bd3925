"""Experiments and runs in the store: a run is written whole in one transaction, read back whole.

While its code runs a run is stored ``running`` (its code, name, tags; then its params and metrics),
marked with the process writing it; the whole run replaces that row. A run whose process ended
before (a killed kernel) is turned ``interrupted`` the next time the store is opened, with what was saved.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Connection, delete, exists, func, select, update

from ..errors import InvalidInputError, NotFoundError
from . import schema as s
from .database import fetch_tuples, insert_missing
from .entities import DatasetRecord, ModelRecord, Run


def _experiment_id(conn: Connection, name: str) -> int:
    query = select(s.experiments.c.experiment_id).where(s.experiments.c.name == name)
    found = conn.execute(query).scalar()
    if found is None:  # new here; another writer may be adding it this moment
        insert_missing(conn, s.experiments.insert().values(name=name, created_at=time.time()), query)
        found = conn.execute(query).scalar_one()
    return found


UNFINISHED = ("running", "interrupted")  # rows the whole run replaces when it is written


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (Linux ``/proc``), so a recycled pid is not taken for it; None if unknown or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def this_process() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _process_start(os.getpid())}


def process_gone(owner: dict) -> bool:
    """Whether the process ``owner`` (``this_process()`` of some process) has ended; known only on its own host."""
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return owner.get("started") is not None and _process_start(pid) != owner["started"]


class RunsStore:
    """Mixin of ``Store``: experiments, runs, their params, metrics, tags, models and datasets."""

    def start_run(self, run: Run) -> None:
        """Store what ``run`` holds so far as ``running`` by this process (again as it grows); ``write_run`` replaces it."""
        self.write_run(replace(run, status="running", models=[], datasets={}, provenance={**run.provenance, "writer": this_process()}))

    def mark_interrupted(self) -> int:
        """Turn ``running`` runs whose process has ended into ``interrupted`` runs; return how many."""
        with self.db.reading() as conn:
            rows = conn.execute(select(s.runs.c.run_id, s.runs.c.provenance).where(s.runs.c.status == "running")).all()
        gone = {}
        for run_id, provenance in rows:
            owner = json.loads(provenance or "{}").get("writer", {})
            if process_gone(owner):
                gone[run_id] = owner
        if gone:
            with self.db.writing() as conn:
                for run_id, owner in gone.items():
                    conn.execute(
                        update(s.runs)
                        .where(s.runs.c.run_id == run_id, s.runs.c.status == "running")
                        .values(status="interrupted", error=f"the process recording this run (pid {owner['pid']}) ended before it was written whole; what it had saved is kept.")
                    )
        return len(gone)

    def _drop_unfinished(self, conn: Connection, run_id: str) -> None:
        """Delete the ``running`` (or ``interrupted``) row of ``run_id`` and what hangs on it, for the run that replaces it."""
        if conn.execute(select(s.runs.c.status).where(s.runs.c.run_id == run_id)).scalar() in UNFINISHED:
            for table in (s.params, s.metrics, s.tags, s.run_models, s.datasets):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(s.runs).where(s.runs.c.run_id == run_id))

    def write_run(self, run: Run) -> None:
        """Insert ``run`` with everything it holds, all or nothing (replacing its ``running`` row)."""
        with self.db.writing() as conn:
            self._drop_unfinished(conn, run.run_id)
            conn.execute(
                s.runs.insert().values(
                    run_id=run.run_id,
                    experiment_id=_experiment_id(conn, run.experiment),
                    name=run.name,
                    status=run.status,
                    start_time=run.start_time,
                    duration_s=run.duration_s,
                    source=run.source,
                    notebook=run.notebook,
                    execution_count=run.execution_count,
                    provenance=json.dumps(run.provenance),
                    environment=json.dumps(run.environment),
                    error=run.error,
                    warnings=json.dumps(run.warnings),
                    recipe=json.dumps(run.recipe) if run.recipe is not None else None,
                    parent_run_id=run.parent_run_id,
                )
            )
            for table, values in ((s.params, run.params), (s.metrics, run.metrics), (s.tags, run.tags)):
                if values:
                    conn.execute(table.insert(), [{"run_id": run.run_id, "key": k, "value": v} for k, v in values.items()])
            if run.models:
                conn.execute(
                    s.run_models.insert(),
                    [
                        {
                            "run_id": run.run_id,
                            "variable": m.variable,
                            "class_name": m.class_name,
                            "sha256": m.sha256,
                            "size": m.size,
                            "trusted_types": json.dumps(m.trusted_types),
                            "task": m.task,
                        }
                        for m in run.models
                    ],
                )
            for d in run.datasets.values():
                profile = select(s.data_profiles.c.digest).where(s.data_profiles.c.digest == d.digest)
                if conn.execute(profile).first() is None:
                    insert_missing(conn, s.data_profiles.insert().values(digest=d.digest, profile=json.dumps(d.profile)), profile)
            if run.datasets:
                conn.execute(
                    s.datasets.insert(),
                    [
                        {
                            "run_id": run.run_id,
                            "role": d.role,
                            "variable": d.variable,
                            "digest": d.digest,
                            "n_rows": d.n_rows,
                            "columns": json.dumps(d.columns),
                            "target": d.target,
                            "sample_sha256": d.sample_sha256,
                            "snapshot_sha256": d.snapshot_sha256,
                        }
                        for d in run.datasets.values()
                    ],
                )

    def experiment_names(self) -> list[str]:
        with self.db.reading() as conn:
            return list(conn.execute(select(s.experiments.c.name).order_by(s.experiments.c.experiment_id)).scalars())

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of the run whose id is ``run_id`` or starts with it (at least 4 characters)."""
        run_id = run_id.strip()
        if len(run_id) < 4:
            raise InvalidInputError(f"run id {run_id!r} is too short: give at least 4 characters of it.")
        with self.db.reading() as conn:
            found = list(conn.execute(select(s.runs.c.run_id).where(s.runs.c.run_id.startswith(run_id, autoescape=True)).limit(2)).scalars())
        if not found:
            raise NotFoundError(f"no run with id {run_id!r}: list the runs with %mlops_runs or mm.runs().")
        if len(found) > 1:
            raise InvalidInputError(f"run id {run_id!r} matches several runs: give more characters.")
        return found[0]

    def get_run(self, run_id: str) -> Run:
        run_id = self.resolve_run_id(run_id)
        with self.db.reading() as conn:
            row = conn.execute(
                select(s.runs, s.experiments.c.name.label("experiment"))
                .join(s.experiments)
                .where(s.runs.c.run_id == run_id)
            ).one()
            kv = {
                table.name: dict(conn.execute(select(table.c.key, table.c.value).where(table.c.run_id == run_id)).all())
                for table in (s.params, s.metrics, s.tags)
            }
            models = [
                ModelRecord(m.variable, m.class_name, m.sha256, m.size, json.loads(m.trusted_types), m.task)
                for m in conn.execute(select(s.run_models).where(s.run_models.c.run_id == run_id))
            ]
            datasets = {
                d.role: DatasetRecord(
                    role=d.role,
                    variable=d.variable,
                    digest=d.digest,
                    n_rows=d.n_rows,
                    columns=json.loads(d.columns),
                    profile=json.loads(d.profile),
                    target=d.target,
                    sample_sha256=d.sample_sha256,
                    snapshot_sha256=d.snapshot_sha256,
                )
                for d in conn.execute(
                    select(s.datasets, s.data_profiles.c.profile)
                    .join(s.data_profiles, s.data_profiles.c.digest == s.datasets.c.digest)
                    .where(s.datasets.c.run_id == run_id)
                )
            }
        return Run(
            run_id=row.run_id,
            experiment=row.experiment,
            name=row.name,
            status=row.status,
            start_time=row.start_time,
            duration_s=row.duration_s,
            source=row.source,
            notebook=row.notebook,
            execution_count=row.execution_count,
            provenance=json.loads(row.provenance or "{}"),
            environment=json.loads(row.environment or "{}"),
            error=row.error,
            warnings=json.loads(row.warnings or "[]"),
            recipe=json.loads(row.recipe) if row.recipe else None,
            parent_run_id=row.parent_run_id,
            params=kv["params"],
            metrics=kv["metrics"],
            tags=kv["tags"],
            models=models,
            datasets=datasets,
        )

    def snapshot_of(self, digest: str) -> str | None:
        """The sha256 of a data snapshot already kept for content ``digest``, if any (snapshots are shared)."""
        query = select(s.datasets.c.snapshot_sha256).where(s.datasets.c.digest == digest, s.datasets.c.snapshot_sha256.is_not(None)).limit(1)
        with self.db.reading() as conn:
            return conn.execute(query).scalar()

    def latest_dataset_digest(self, experiment: str, role: str, variable: str) -> str | None:
        """Digest of the ``role`` data bound to ``variable`` in the experiment's latest run that used it."""
        query = (
            select(s.datasets.c.digest)
            .join(s.runs, s.runs.c.run_id == s.datasets.c.run_id)
            .join(s.experiments)
            .where(s.experiments.c.name == experiment, s.datasets.c.role == role, s.datasets.c.variable == variable)
            .order_by(s.runs.c.start_time.desc())
            .limit(1)
        )
        with self.db.reading() as conn:
            return conn.execute(query).scalar()

    def best_run_id(self, experiment: str, metric: str, higher_is_better: bool, exclude: str | None = None) -> str | None:
        """The best run of ``experiment`` by ``metric``: the one rule for "best run", which the run
        card compares with and ``promote best`` registers: finished, with a saved model (newest on a tie)."""
        value = s.metrics.c.value
        query = (
            select(s.runs.c.run_id)
            .join(s.metrics, s.metrics.c.run_id == s.runs.c.run_id)
            .join(s.experiments)
            .where(
                s.experiments.c.name == experiment,
                s.metrics.c.key == metric,
                s.runs.c.status == "finished",
                exists().where(s.run_models.c.run_id == s.runs.c.run_id),
            )
            .order_by(value.desc() if higher_is_better else value.asc(), s.runs.c.start_time.desc())
            .limit(1)
        )
        if exclude is not None:
            query = query.where(s.runs.c.run_id != exclude)
        with self.db.reading() as conn:
            return conn.execute(query).scalar()

    def add_run_metrics(self, run_id: str, values: dict[str, float]) -> None:
        """Record (or replace) metrics of a stored run, e.g. a metric defined after it was tracked."""
        if not values:
            return
        with self.db.writing() as conn:
            conn.execute(s.metrics.delete().where(s.metrics.c.run_id == run_id, s.metrics.c.key.in_(list(values))))
            conn.execute(s.metrics.insert(), [{"run_id": run_id, "key": k, "value": float(v)} for k, v in values.items()])

    def runs_missing_metric(self, name: str, experiment: str | None = None, run_ids: list[str] | None = None) -> list[str]:
        """Finished runs (of ``experiment``, or among ``run_ids``) with a model and an eval snapshot
        that have no metric ``name``: those a metric defined later can be computed for."""
        has_metric = exists().where(s.metrics.c.run_id == s.runs.c.run_id, s.metrics.c.key == name)
        has_eval = exists().where(s.datasets.c.run_id == s.runs.c.run_id, s.datasets.c.role == "eval", s.datasets.c.snapshot_sha256.isnot(None))
        query = select(s.runs.c.run_id).join(s.experiments).where(
            s.runs.c.status == "finished", exists().where(s.run_models.c.run_id == s.runs.c.run_id), has_eval, ~has_metric
        )
        if experiment is not None:
            query = query.where(s.experiments.c.name == experiment)
        if run_ids is not None:
            query = query.where(s.runs.c.run_id.in_(run_ids))
        with self.db.reading() as conn:
            return list(conn.execute(query.order_by(s.runs.c.start_time)).scalars())

    def count_runs(self, experiment: str | None = None) -> int:
        query = select(func.count()).select_from(s.runs)
        if experiment is not None:
            query = query.join(s.experiments).where(s.experiments.c.name == experiment)
        with self.db.reading() as conn:
            return conn.execute(query).scalar_one()

    def runs_frame(self, experiment: str | None = None):
        """All runs (of ``experiment``) as one DataFrame in MLflow's column convention, newest first."""
        import pandas as pd

        base = select(
            s.runs.c.run_id,
            s.experiments.c.name.label("experiment"),
            s.runs.c.name,
            s.runs.c.status,
            s.runs.c.start_time,
            s.runs.c.duration_s,
        ).join(s.experiments)
        if experiment is not None:
            base = base.where(s.experiments.c.name == experiment)
        with self.db.reading() as conn:
            rows = fetch_tuples(conn, base.order_by(s.runs.c.start_time.desc()))
            ids = base.with_only_columns(s.runs.c.run_id).scalar_subquery() if experiment is not None else None
            long = {}
            for prefix, table in (("params", s.params), ("metrics", s.metrics), ("tags", s.tags)):
                query = select(table.c.run_id, table.c.key, table.c.value)
                if ids is not None:
                    query = query.where(table.c.run_id.in_(ids))
                long[prefix] = fetch_tuples(conn, query)
        frame = pd.DataFrame(rows, columns=["run_id", "experiment", "name", "status", "start_time", "duration_s"])
        frame["start_time"] = pd.to_datetime(frame["start_time"], unit="s", utc=True)
        position = {run_id: i for i, run_id in enumerate(frame["run_id"])}
        columns = {}
        for prefix in ("params", "metrics", "tags"):
            for run_id, key, value in long[prefix]:
                i = position.get(run_id)
                if i is None:
                    continue
                column = columns.get(f"{prefix}.{key}")
                if column is None:
                    column = columns[f"{prefix}.{key}"] = [None] * len(frame)
                column[i] = value
        extra = pd.DataFrame(
            {name: pd.array(values, dtype="float64" if name.startswith("metrics.") else object) for name, values in sorted(columns.items())},
            index=frame.index,
        )
        return pd.concat([frame, extra], axis=1)
