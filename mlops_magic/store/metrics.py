"""Metric definitions in the store: what a domain metric is, kept once so every process computes the same."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from . import schema as s


@dataclass
class MetricDefinition:
    """A metric defined by name: ``kind`` sklearn (``spec``: function and options), matrix (``spec``:
    matrix, labels, gain) or function (``spec``: its inputs; ``source``: its code and imports)."""

    name: str
    kind: str
    spec: dict[str, Any]
    better: str  # higher | lower
    source: str | None = None
    user: str = ""
    time: float = field(default_factory=time.time)


class MetricsStore:
    """Mixin of ``Store``: the defined metrics."""

    def define_metric(self, definition: MetricDefinition) -> MetricDefinition:
        """Store ``definition``, replacing an earlier one of the same name."""
        row = {**definition.__dict__, "spec": json.dumps(definition.spec, sort_keys=True)}
        with self.db.writing() as conn:
            conn.execute(s.metric_definitions.delete().where(s.metric_definitions.c.name == definition.name))
            conn.execute(s.metric_definitions.insert().values(**row))
        return definition

    def metric_definitions(self) -> list[MetricDefinition]:
        """Every defined metric, by name."""
        with self.db.reading() as conn:
            rows = conn.execute(select(s.metric_definitions).order_by(s.metric_definitions.c.name)).all()
        return [MetricDefinition(**{**row._mapping, "spec": json.loads(row.spec)}) for row in rows]

    def drop_metric(self, name: str) -> bool:
        """Remove the definition of ``name``; whether there was one (values already recorded stay)."""
        with self.db.writing() as conn:
            return conn.execute(s.metric_definitions.delete().where(s.metric_definitions.c.name == name)).rowcount > 0

    def policies_on_defined_metrics(self, model: str | None = None):
        """The policies (of ``model``) that watch a defined metric."""
        defined = {d.name for d in self.metric_definitions()}
        return [p for p in self.policies(model) if p.metric in defined]
