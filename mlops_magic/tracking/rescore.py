"""Metrics a run did not record (defined after it was tracked, or a per-class form), computed on
demand from its eval snapshot with its own model, and recorded with the run."""

from __future__ import annotations

from ..metrics import Catalog
from ..store import Store


def rescore(store: Store, names, experiment: str | None = None, run_ids: list[str] | None = None, catalog: Catalog | None = None) -> list[str]:
    """Compute each known metric of ``names`` for the runs (of ``experiment``, or among ``run_ids``)
    that lack it and kept an eval snapshot; return one line per metric that could not be computed."""
    import numpy as np

    catalog = catalog or Catalog.of(store)
    known = [n for n in dict.fromkeys(names) if catalog.get(n) is not None]
    pending: dict[str, list[str]] = {}
    for name in known:
        for run_id in store.runs_missing_metric(name, experiment, run_ids):
            pending.setdefault(run_id, []).append(name)
    problems: list[str] = []
    for run_id, missing in pending.items():
        run = store.get_run(run_id)
        metrics = [m for n in missing if (m := catalog.get(n)).applies_to(run.task)]
        if not metrics:
            continue
        dataset = run.datasets["eval"]
        frame = store.artifacts.load_frame(dataset.snapshot_sha256)
        model = store.artifacts.load_model(run.model.sha256, run.model.trusted_types)
        X, y = frame.drop(columns=dataset.target), frame[dataset.target]
        proba = classes = None
        if any("y_proba" in m.needs for m in metrics) and hasattr(model, "predict_proba"):
            proba, classes = model.predict_proba(X), list(model.classes_)
        values, lines = catalog.score(metrics, y, np.asarray(model.predict(X)), proba, classes, X)
        store.add_run_metrics(run_id, values)
        problems += [f"run {run.short_id}: {line}" for line in lines.values()]
    return problems
