"""Live performance per window: realised metrics from logged predictions joined with feedback, and
for classifiers an estimate from the model's confidence where labels have not come yet (CBPE).

Realised metrics are computed from per-window counts the store aggregates in SQL (confusion pairs
for classifiers, error sums for regressors), so they equal scikit-learn's on the same rows without
reading them. ROC AUC and the estimates need the model's probabilities, so they use the bounded
per-window sample the store returns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CLASSIFICATION_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc")
REGRESSION_METRICS = ("rmse", "mae", "r2")
ESTIMATED_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0)


def confusion_metrics(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, total: float) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1 from per-class true/false positives and false negatives.

    Macro averages run over the classes seen (as labels or predictions), as scikit-learn's do; for
    expected (fractional) counts a class is seen once it holds half a row.
    """
    if total <= 0:
        return {}
    seen = (tp + fp + fn) >= 0.5
    tp, fp, fn = tp[seen], fp[seen], fn[seen]
    return {
        "accuracy": float(tp.sum() / total),
        "precision_macro": float(_safe_ratio(tp, tp + fp).mean()),
        "recall_macro": float(_safe_ratio(tp, tp + fn).mean()),
        "f1_macro": float(_safe_ratio(2 * tp, 2 * tp + fp + fn).mean()),
    }


def classification_metrics(pairs) -> dict[str, float]:
    """Metrics from (output, label, n) counts; classes are every label and output seen, as in sklearn."""
    if pairs is None or len(pairs) == 0:
        return {}
    classes = sorted(set(pairs["output"]) | set(pairs["label"]), key=repr)
    index = {c: i for i, c in enumerate(classes)}
    tp, fp, fn = (np.zeros(len(classes)) for _ in range(3))
    for output, label, n in zip(pairs["output"], pairs["label"], pairs["n"]):
        if output == label:
            tp[index[output]] += n
        else:
            fp[index[output]] += n
            fn[index[label]] += n
    return confusion_metrics(tp, fp, fn, float(pairs["n"].sum()))


def regression_metrics(n: float, sum_error2: float, sum_abs_error: float, sum_label: float, sum_label2: float) -> dict[str, float]:
    """RMSE, MAE and R2 from sums over the labelled rows (R2 as sklearn's ``force_finite``)."""
    if not n:
        return {}
    spread = sum_label2 - sum_label * sum_label / n
    if spread > 1e-12 * max(sum_label2, 1.0):
        r2 = 1.0 - sum_error2 / spread
    else:
        r2 = 1.0 if sum_error2 == 0 else 0.0
    return {"rmse": math.sqrt(sum_error2 / n), "mae": sum_abs_error / n, "r2": r2}


def roc_auc(labels: list[Any], proba: np.ndarray, classes: list[Any]) -> float:
    """ROC AUC as the tracker computes it (one-vs-rest macro for multi-class); NaN if undefined.

    Computed from ranks (Mann-Whitney), which equals scikit-learn's ``roc_auc_score`` without its
    per-call overhead: the dashboard computes one per window.
    """
    from scipy.stats import rankdata

    labels = np.asarray(labels, dtype=object)
    seen = set(labels.tolist())
    if len(seen) < 2 or not seen <= set(classes) or (len(classes) > 2 and len(seen) < len(classes)):
        return math.nan  # one-vs-rest needs every class among the labels, and no unknown ones

    def binary(positive: np.ndarray, score: np.ndarray) -> float:
        n_positive = int(positive.sum())
        n_negative = len(positive) - n_positive
        return float((rankdata(score)[positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))

    if len(classes) == 2:
        return binary(labels == classes[1], proba[:, 1])
    return float(np.mean([binary(labels == c, proba[:, i]) for i, c in enumerate(classes)]))


def calibrate_confidence(confidence: np.ndarray, correct: np.ndarray):
    """An isotonic map from the model's confidence to its observed accuracy (fitted on labelled data)."""
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, correct.astype(float))


def estimate_metrics(proba: np.ndarray, predicted_index: np.ndarray, calibration=None) -> dict[str, float]:
    """Confidence-based performance estimation (as NannyML's CBPE) of unlabelled rows.

    Each row's probability of being right is its (calibrated) confidence in the predicted class; its
    remaining probability goes to the other classes in proportion to their scores. Summing these
    gives the expected confusion counts, and from them the expected metrics.
    """
    if len(proba) == 0:
        return {}
    rows = np.arange(len(proba))
    confidence = proba[rows, predicted_index]
    right = calibration.predict(confidence) if calibration is not None else confidence
    others = proba.copy()
    others[rows, predicted_index] = 0.0
    share = _safe_ratio(1.0 - right, others.sum(axis=1))
    expected_label = others * share[:, None]
    expected_label[rows, predicted_index] = right
    predicted = np.zeros_like(proba)
    predicted[rows, predicted_index] = 1.0
    tp = (expected_label * predicted).sum(axis=0)
    fp = predicted.sum(axis=0) - tp
    fn = expected_label.sum(axis=0) - tp
    return confusion_metrics(tp, fp, fn, float(len(proba)))
