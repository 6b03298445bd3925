"""Lineage: every step of a model's life (versions, alias moves, alerts, retraining, gates, swaps) as one table.

Each event is written in the transaction of the change it describes (``store/loop.py``), so the
table holds exactly what happened: a refused or rolled-back change leaves no event.
"""

from __future__ import annotations

COLUMNS = ["time", "event", "model", "version", "run_id", "alert_id", "policy_id", "job_id", "detail"]


def lineage(store, name: str):
    """The events of model ``name``, oldest first: time, event, model, version, run_id, alert_id,
    policy_id, job_id, detail (a dict). An unknown model is a ``NotFoundError`` naming the fix."""
    store.model_versions(name)
    return store.events_frame(name)[COLUMNS]
