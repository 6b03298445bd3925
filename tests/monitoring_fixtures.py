"""Helpers for the monitoring tests: a real fitted model, its run and registry version, and a
prediction log written through the store as the serving process writes it."""

from __future__ import annotations

import time
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


def register_model(name: str, model, train: pd.DataFrame, target: str, eval_frame: pd.DataFrame | None = None, alias: str | None = None) -> int:
    """Fit ``model`` on ``train`` inside a tracked run (``mm.run``) and promote it as ``name`` (at ``alias``); return the version."""
    from mlops_magic import api

    with api.run("monitoring", name=name, data=train, target=target, eval=eval_frame) as active:
        model.fit(train.drop(columns=target), train[target])
        active.track_model(model)
    return api.promote(active.run_id, name=name, alias=alias).version


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


def answered_confidence(model, inputs: pd.DataFrame, outputs) -> list[float | None]:
    """The probability the model gave the class it answered, as the serving process logs it (None without ``predict_proba``)."""
    if not hasattr(model, "predict_proba"):
        return [None] * len(inputs)
    proba = model.predict_proba(inputs)
    position = {c: i for i, c in enumerate(model.classes_)}
    return [float(p[position[o]]) for p, o in zip(proba, outputs)]


def prediction_ids(count: int) -> list[str]:
    """Fresh ids that sort as text in the order they are given (as the serving process's zero-padded ids)."""
    prefix = uuid.uuid4().hex[:8]
    return [f"{prefix}-{i:012x}" for i in range(count)]


def log_stream(
    store, name: str, version: int, model, inputs: pd.DataFrame, labels, start: float, step: float = 1.0, label_share: float = 1.0,
    seed: int = 0, variant=None, confidence: bool = True, shadow_of: list[str] | None = None,
):
    """Log one prediction per row of ``inputs`` at ``start + i * step``; send feedback for a share of them.

    Each row carries the answered class's probability as the serving process logs it (``confidence=False``:
    none, as rows logged before it did). With ``shadow_of`` (the ids of answered predictions), the rows
    are the shadow's: ids ``<id>.s``, ``shadow=True``, logged just after the rows they shadow.
    Returns the prediction ids.
    """
    outputs = model.predict(inputs)
    newest = start + (len(inputs) - 1) * step
    if newest > time.time():  # a window cut at "now" would leave such rows out, and the test would mean nothing
        raise ValueError(f"the stream would end {newest - time.time():.0f} s in the future: start it earlier")
    ids = [f"{i}.s" for i in shadow_of] if shadow_of is not None else prediction_ids(len(inputs))
    confidences = answered_confidence(model, inputs, outputs) if confidence else [None] * len(inputs)
    records = inputs.to_dict(orient="records")
    lag = 0.001 if shadow_of is not None else 0.0
    store.log_predictions(
        [
            {
                "prediction_id": pid,
                "time": start + i * step + lag,
                "model": name,
                "version": version,
                "variant": variant,
                "shadow": shadow_of is not None,
                "inputs": row,
                "output": out.item() if hasattr(out, "item") else out,
                "latency_ms": 1.0 + (i % 10),
                "confidence": conf,
            }
            for i, (pid, row, out, conf) in enumerate(zip(ids, records, outputs, confidences))
        ]
    )
    if shadow_of is None:
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
