"""Metrics of a run: numbers the cell bound to metric-like names, and standard metrics on eval data.

What each metric name computes and which way is better is the ``metrics`` package's
(``Catalog``); which metric leads each task is ``store.entities.PRIMARY_METRIC``.
"""

from __future__ import annotations

from typing import Any

from ..metrics import Catalog, as_metric_value
from ..metrics.names import words

METRIC_WORDS = {
    "acc", "accuracy", "f1", "auc", "roc", "rmse", "mse", "mae", "mape", "r2", "loss", "score",
    "precision", "recall", "logloss", "error", "err", "ap", "brier", "kappa", "mcc",
}  # fmt: skip


def is_metric_name(name: str) -> bool:
    return not name.startswith("_") and any(word in METRIC_WORDS for word in words(name))


def metrics_in(namespace: dict[str, Any], names: list[str]) -> dict[str, float]:
    """The metric-like names among ``names`` whose values are finite numbers."""
    found = {}
    for name in names:
        if is_metric_name(name):
            value = as_metric_value(namespace.get(name))
            if value is not None:
                found[name] = value
    return found


def evaluate(model: Any, X: Any, y: Any, task: str, catalog: Catalog | None = None, names=()) -> tuple[dict[str, float], list[str]]:
    """The standard metrics of ``task`` for ``model`` on (X, y), the defined ones of ``catalog`` and
    those ``names`` ask for; and one line per metric that could not be computed."""
    import numpy as np

    predicted = np.asarray(model.predict(X))
    proba = classes = None
    if task == "classification" and hasattr(model, "predict_proba"):
        try:
            proba, classes = model.predict_proba(X), list(model.classes_)
        except Exception:  # e.g. SVC(probability=False) exposes the method but cannot answer
            proba = None
    return (catalog or Catalog()).evaluate(task, y, predicted, proba, classes, X, names)


def baseline_metrics(y_train: Any, y_eval: Any, task: str) -> dict[str, float]:
    """The primary metric of a dummy model (most frequent class / training mean) on the eval data."""
    import numpy as np
    import pandas as pd

    train, truth = np.asarray(y_train), np.asarray(y_eval)
    if task == "classification":
        most_frequent = pd.Series(train).mode().iloc[0]
        return {"baseline_accuracy": float(np.mean(truth == most_frequent))}
    if task == "regression":
        return {"baseline_rmse": float(np.sqrt(np.mean((truth.astype(float) - train.astype(float).mean()) ** 2)))}
    return {}
