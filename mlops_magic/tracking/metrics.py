"""Metrics of a run: numbers the cell bound to metric-like names, and standard metrics on eval data.

Whether a metric is better higher or lower is told by its name (``higher_is_better``); which
metric leads each task is ``store.entities.PRIMARY_METRIC``.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

METRIC_WORDS = {
    "acc", "accuracy", "f1", "auc", "roc", "rmse", "mse", "mae", "mape", "r2", "loss", "score",
    "precision", "recall", "logloss", "error", "err", "ap", "brier", "kappa", "mcc",
}  # fmt: skip
LOWER_IS_BETTER_WORDS = {"rmse", "mse", "mae", "mape", "loss", "logloss", "error", "err", "brier"}


def _words(name: str) -> set[str]:
    """The words of a name, each also without its digits: ``top5_acc`` → top5, top, acc; ``f1`` → f1, f."""
    words = {w for w in re.split(r"[_\W]+", name.lower()) if w}
    return words | {w.strip("0123456789") for w in words} - {""}


def is_metric_name(name: str) -> bool:
    return not name.startswith("_") and any(word in METRIC_WORDS for word in _words(name))


def higher_is_better(metric: str) -> bool:
    return not any(word in LOWER_IS_BETTER_WORDS for word in _words(metric))


def as_metric_value(value: Any) -> float | None:
    """A finite real number as float; None for anything else (bools, arrays, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:  # numpy scalars of size one
            import numpy as np

            if isinstance(value, np.generic) and np.ndim(value) == 0 and not isinstance(value, np.bool_):
                value = float(value)
            else:
                return None
        except ImportError:
            return None
    value = float(value)
    return value if math.isfinite(value) else None


def metrics_in(namespace: dict[str, Any], names: list[str]) -> dict[str, float]:
    """The metric-like names among ``names`` whose values are finite numbers."""
    found = {}
    for name in names:
        if is_metric_name(name):
            value = as_metric_value(namespace.get(name))
            if value is not None:
                found[name] = value
    return found


def evaluate(model: Any, X: Any, y: Any, task: str) -> dict[str, float]:
    """The standard metrics of ``task`` for ``model`` on (X, y)."""
    import numpy as np
    from sklearn import metrics as m

    truth = np.asarray(y)
    predicted = np.asarray(model.predict(X))
    if task == "regression":
        error = predicted.astype(float) - truth.astype(float)
        return {
            "rmse": float(np.sqrt(np.mean(error**2))),
            "mae": float(np.mean(np.abs(error))),
            "r2": float(m.r2_score(truth, predicted)),
        }
    if task != "classification":
        return {}
    precision, recall, f1, _ = m.precision_recall_fscore_support(truth, predicted, average="macro", zero_division=0)
    result = {
        "accuracy": float(np.mean(predicted == truth)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }
    if hasattr(model, "predict_proba"):
        try:
            proba = model.predict_proba(X)
        except Exception:  # e.g. SVC(probability=False) exposes the method but cannot answer
            return result
        classes = list(model.classes_)
        if set(np.unique(truth)) <= set(classes):
            score = proba[:, 1] if len(classes) == 2 else proba
            result["roc_auc"] = float(m.roc_auc_score(truth, score, multi_class="ovr", labels=classes if len(classes) > 2 else None))
            result["log_loss"] = float(m.log_loss(truth, proba, labels=classes))
    return result


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
