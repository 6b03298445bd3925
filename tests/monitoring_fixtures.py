"""Helpers for the monitoring tests: a real fitted model, its run and registry version, and a
prediction log written through the store as the serving process writes it."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest


def wine_frame() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame


def diabetes_frame() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


def register_model(name: str, model, train: pd.DataFrame, target: str, eval_frame: pd.DataFrame | None = None) -> int:
    """Fit ``model`` on ``train`` inside a tracked run (``mm.run``) and promote it as ``name``; return the version."""
    from mlops_magic import api

    with api.run("monitoring", name=name, data=train, target=target, eval=eval_frame) as active:
        model.fit(train.drop(columns=target), train[target])
        active.track_model(model)
    return api.promote(active.run_id, name=name).version


@pytest.fixture
def wine(store):
    """A logistic regression on 100 wines, tracked and registered as ``wine``; the other 78 to stream.

    Returns (model, version, live frame).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = wine_frame().sample(frac=1, random_state=0).reset_index(drop=True)
    train, live = frame.iloc[:100], frame.iloc[100:].reset_index(drop=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    version = register_model("wine", model, train, "target", eval_frame=live)
    return model, version, live


def log_stream(store, name: str, version: int, model, inputs: pd.DataFrame, labels, start: float, step: float = 1.0, label_share: float = 1.0, seed: int = 0, variant=None):
    """Log one prediction per row of ``inputs`` at ``start + i * step``; send feedback for a share of them.

    Returns the prediction ids.
    """
    outputs = model.predict(inputs)
    ids = [uuid.uuid4().hex for _ in range(len(inputs))]
    records = inputs.to_dict(orient="records")
    store.log_predictions(
        [
            {
                "prediction_id": pid,
                "time": start + i * step,
                "model": name,
                "version": version,
                "variant": variant,
                "shadow": False,
                "inputs": row,
                "output": out.item() if hasattr(out, "item") else out,
                "latency_ms": 1.0 + (i % 10),
            }
            for i, (pid, row, out) in enumerate(zip(ids, records, outputs))
        ]
    )
    store.log_requests(
        [
            {"time": start + i * step, "model": name, "version": version, "status_code": 500 if i % 20 == 0 else 200, "latency_ms": 1.0 + (i % 10), "n_rows": 1}
            for i in range(len(inputs))
        ]
    )
    chosen = np.random.default_rng(seed).random(len(ids)) < label_share
    labelled = [pid for pid, keep in zip(ids, chosen) if keep]
    if labelled:
        values = [v.item() if hasattr(v, "item") else v for v, keep in zip(labels, chosen) if keep]
        store.log_feedback(labelled, values)
    return ids
