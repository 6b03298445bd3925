"""What the store shows about how the work is done, read for the maturity assessment; and the
answers to the questions no record can show.

Every figure is an aggregate or a bounded read (indexed lookups that stop at the first match, the
newest ``NEWEST`` rows of a kind), so a store of 10,000 runs and millions of predictions is read in
well under a second.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import and_, exists, func, select

from . import schema as s

NEWEST = 200  # runs, events and jobs read in full (newest first)
NEWEST_PREDICTIONS = 100_000  # each deployed model's newest predictions, where its label and comparison lookups look
SWAP_MARGIN_S = 10.0  # requests this close to a swap tell whether it lost any
ANSWERS = ("yes", "partly", "no")


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else {}


class MaturityStore:
    """Mixin of ``Store``: the evidence of the maturity checks, and the stored answers."""

    def maturity_evidence(self) -> dict[str, Any]:
        """Plain facts about runs, registry, serving, monitoring and the loop, in one read transaction."""
        with self.db.reading() as conn:
            return {
                "runs": _runs(conn),
                "registry": _registry(conn),
                "events": _events(conn),
                "serving": _serving(conn),
                "policies": [dict(r._mapping) for r in conn.execute(select(s.policies).order_by(s.policies.c.policy_id))],
                "watchers": [dict(r._mapping) for r in conn.execute(select(s.watchers))],
                "defined_metrics": list(conn.execute(select(s.metric_definitions.c.name)).scalars()),
                "alerts": {kind: n for kind, n in conn.execute(select(s.alerts.c.kind, func.count()).group_by(s.alerts.c.kind))},
                "jobs": [
                    {"job_id": r.job_id, "model": r.model, "status": r.status, "alert_id": r.alert_id, "policy_id": r.policy_id}
                    for r in conn.execute(select(s.jobs).order_by(s.jobs.c.job_id.desc()).limit(NEWEST))
                ],
            }

    def maturity_answers(self) -> dict[str, dict[str, Any]]:
        """The stored answers: {question: {answer, user, time}}."""
        with self.db.reading() as conn:
            rows = conn.execute(select(s.maturity_answers)).all()
        return {r.question: {"answer": r.answer, "user": r.user, "time": r.time} for r in rows}

    def set_maturity_answer(self, question: str, answer: str, user: str) -> None:
        """Store (or replace) the answer to ``question``: one of ``ANSWERS``."""
        if answer not in ANSWERS:
            raise ValueError(f"answer {answer!r} is not one of {ANSWERS}")
        a = s.maturity_answers
        with self.db.writing() as conn:
            conn.execute(a.delete().where(a.c.question == question))
            conn.execute(a.insert().values(question=question, answer=answer, user=user, time=time.time()))


def _runs(conn) -> dict[str, Any]:
    r = s.runs
    finished = r.c.status == "finished"
    complete = and_(
        finished,
        r.c.source.is_not(None),
        exists().where(s.params.c.run_id == r.c.run_id),
        exists().where(s.metrics.c.run_id == r.c.run_id),
        exists().where(s.datasets.c.run_id == r.c.run_id),
    )
    newest = conn.execute(
        select(r.c.run_id, r.c.environment, r.c.recipe, r.c.parent_run_id).where(finished).order_by(r.c.start_time.desc()).limit(NEWEST)
    ).all()
    baselines = conn.execute(
        select(s.metrics.c.run_id, s.metrics.c.key, s.metrics.c.value).where(
s.metrics.c.run_id.in_(select(s.model_versions.c.run_id)))
    ).all()
    return {
        "count": conn.execute(select(func.count()).select_from(r).where(finished)).scalar(),
        "complete": [row[0] for row in conn.execute(select(r.c.run_id).where(complete).order_by(r.c.start_time.desc()).limit(NEWEST))],
        "newest": [
            {"run_id": run_id, "git": _loads(env).get("git"), "recipe": _loads(recipe) or None, "parent_run_id": parent}
            for run_id, env, recipe, parent in newest
        ],
        "replays": conn.execute(select(func.count()).select_from(r).where(finished, r.c.parent_run_id.is_not(None))).scalar(),
        "searches": [row[0] for row in conn.execute(select(s.metrics.c.run_id).where(s.metrics.c.key == "best_cv_score").limit(NEWEST))],
        "registered_metrics": [tuple(row) for row in baselines],
    }


def _registry(conn) -> dict[str, Any]:
    v = s.model_versions
    return {
        "versions": [tuple(row) for row in conn.execute(select(v.c.name, v.c.version, v.c.run_id).order_by(v.c.created_at.desc()).limit(NEWEST))],
        "aliases": [tuple(row) for row in conn.execute(select(s.aliases.c.name, s.aliases.c.alias, s.aliases.c.version))],
        "rollbacks": [
            tuple(row)
            for row in conn.execute(
                select(s.alias_history.c.name, s.alias_history.c.alias, s.alias_history.c.from_version, s.alias_history.c.to_version).where(
                    s.alias_history.c.to_version < s.alias_history.c.from_version
                )
            )
        ],
    }


def _events(conn) -> dict[str, list[dict[str, Any]]]:
    """The newest lineage events of the kinds maturity reads, by kind."""
    e = s.events
    kinds = ("model_version_alias.created", "deployment.swapped", "watcher.stopped", "policies.checked", "retrain.finished", "promotion.refused")
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for kind in kinds:
        rows = conn.execute(select(e).where(e.c.event == kind).order_by(e.c.event_id.desc()).limit(NEWEST)).all()
        found[kind] = [{**row._mapping, "detail": _loads(row.detail)} for row in rows]
    for swap in found["deployment.swapped"]:
        near = and_(s.requests_log.c.model == swap["model"], s.requests_log.c.time.between(swap["time"] - SWAP_MARGIN_S, swap["time"] + SWAP_MARGIN_S))
        counts = conn.execute(
            select(func.count(), func.count().filter(s.requests_log.c.status_code >= 500)).select_from(s.requests_log).where(near)
        ).one()
        swap["requests_near"], swap["failed_near"] = counts
    return found


def _serving(conn) -> list[dict[str, Any]]:
    """Per deployed model, among its newest ``NEWEST_PREDICTIONS`` predictions: whether any was
    logged, labels sent back (once or in several batches), the A/B (answers of two versions) or
    shadow comparison stored. Each lookup stops at its first match."""
    p = s.predictions
    models = []
    for row in conn.execute(select(s.deployments).order_by(s.deployments.c.started_at)):
        newest = select(p.c.label_time, p.c.shadow, p.c.version).where(p.c.model == row.name).order_by(p.c.time.desc()).limit(NEWEST_PREDICTIONS).subquery()

        def first(column, *where):
            return conn.execute(select(column).where(*where).limit(1)).scalar()

        version = first(newest.c.version)
        label_time = first(newest.c.label_time, newest.c.label_time.is_not(None))
        again = label_time is not None and first(newest.c.label_time, newest.c.label_time.is_not(None), newest.c.label_time != label_time) is not None
        shadow = first(newest.c.version, newest.c.shadow.is_(True)) is not None
        shadow_labelled = shadow and first(newest.c.version, newest.c.shadow.is_(True), newest.c.label_time.is_not(None)) is not None
        two_versions = len(json.loads(row.target).get("variants", [])) > 1 and version is not None
        split = two_versions and first(newest.c.version, newest.c.shadow.is_(False), newest.c.version != version) is not None
        models.append(
            {
                "model": row.name,
                "predictions": version is not None,
                "labels": 0 if label_time is None else 2 if again else 1,
                "shadow": shadow,
                "shadow_labelled": shadow_labelled,
                "split": split,
            }
        )
    return models
