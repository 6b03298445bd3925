"""Deployments in the store: which serving process serves which model, where, since when."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import schema as s


@dataclass
class DeploymentRecord:
    """A serving process as recorded when it started: model ``name``, routing ``target``, address, pid."""

    name: str
    target: dict[str, Any]
    host: str
    port: int
    pid: int
    started_at: float
    stopped_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _record(row) -> DeploymentRecord:
    return DeploymentRecord(row.name, json.loads(row.target), row.host, row.port, row.pid, row.started_at, row.stopped_at)


class DeploymentsStore:
    """Mixin of ``Store``: one row per served model name, replaced when it is served again, and the
    file its serving process writes its output to (beside the artifact folder, in ``serving/``)."""

    def deployment_log_path(self, name: str) -> Path:
        """The output file of ``name``'s serving process; its folder is created."""
        path = self.artifacts.local_folder / "serving" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def record_deployment(self, name: str, target: dict[str, Any], host: str, port: int, pid: int) -> DeploymentRecord:
        record = DeploymentRecord(name, target, host, port, pid, time.time())
        with self.db.writing() as conn:
            conn.execute(s.deployments.delete().where(s.deployments.c.name == name))
            conn.execute(
                s.deployments.insert().values(
                    name=name, target=json.dumps(target), host=host, port=port, pid=pid, started_at=record.started_at
                )
            )
        return record

    def mark_deployment_stopped(self, name: str) -> None:
        with self.db.writing() as conn:
            conn.execute(s.deployments.update().where(s.deployments.c.name == name).values(stopped_at=time.time()))

    def deployment(self, name: str) -> DeploymentRecord | None:
        with self.db.reading() as conn:
            row = conn.execute(select(s.deployments).where(s.deployments.c.name == name)).first()
        return None if row is None else _record(row)

    def deployment_records(self) -> list[DeploymentRecord]:
        with self.db.reading() as conn:
            rows = conn.execute(select(s.deployments).order_by(s.deployments.c.started_at.desc())).all()
        return [_record(row) for row in rows]
