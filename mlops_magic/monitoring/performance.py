"""Live performance per window: realised metrics from logged predictions and their feedback labels,
and for classifiers an estimate from the model's confidence, for windows whose labels have not come (CBPE).

Realised metrics are computed from per-window counts the store aggregates in SQL (confusion pairs
for classifiers, error sums for regressors), so they equal scikit-learn's on the same rows without
reading them. The estimates come from per-window histograms of the confidence the serving process
logs with each answer (SQL aggregates too); ROC AUC needs every class's probability, so it uses the
bounded per-window sample the store returns.
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


class ConfidenceModel:
    """Confidence-based performance estimation (as NannyML's CBPE), over every row of a window,
    labelled or not: each answer is right with its confidence (calibrated on labelled eval data when
    there is some), and its wrong share goes to the other classes; summed, these give the expected
    confusion counts, and ``confusion_metrics`` of them the expected metrics.

    ``classes`` are the model's classes; ``mix[k, j]`` is the share of class ``j`` among the true
    labels of wrong answers ``k`` (learned on the eval data; uniform over the other classes without it).
    """

    def __init__(self, classes: list[Any], calibration=None, mix: np.ndarray | None = None):
        self.classes = list(classes)
        self.calibration = calibration
        k = len(self.classes)
        uniform = (np.ones((k, k)) - np.eye(k)) / max(k - 1, 1)
        self.mix = uniform if mix is None else mix

    @classmethod
    def fit(cls, classes: list[Any], proba: np.ndarray, labels: np.ndarray) -> ConfidenceModel:
        """Isotonic calibration of the answered class's probability, and the mix of wrong answers, on labelled data."""
        from sklearn.isotonic import IsotonicRegression

        predicted = proba.argmax(axis=1)
        index = {c: i for i, c in enumerate(classes)}
        truth = np.array([index.get(label, -1) for label in labels])
        correct = truth == predicted
        calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[np.arange(len(proba)), predicted], correct.astype(float))
        k = len(classes)
        wrong = np.zeros((k, k))
        known = ~correct & (truth >= 0)
        np.add.at(wrong, (predicted[known], truth[known]), 1.0)
        uniform = (np.ones((k, k)) - np.eye(k)) / max(k - 1, 1)
        totals = wrong.sum(axis=1, keepdims=True)
        return cls(classes, calibration, np.where(totals > 0, wrong / np.where(totals > 0, totals, 1.0), uniform))

    def positions(self, outputs) -> np.ndarray:
        """The class index of each answer (-1 for an answer that is none of the model's classes)."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index.get(o, -1) for o in outputs], dtype=int)

    def right(self, confidence: np.ndarray) -> np.ndarray:
        """The probability that an answer given with ``confidence`` is right."""
        confidence = np.asarray(confidence, dtype=float)
        return self.calibration.predict(confidence) if self.calibration is not None else confidence

    def expected_counts(self, predicted: np.ndarray, n: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected true positives, false positives and false negatives per class of ``n`` answers of
        class index ``predicted`` given with (mean) ``confidence``."""
        k = len(self.classes)
        n = np.asarray(n, dtype=float)
        right = n * self.right(confidence)
        tp = np.bincount(predicted, weights=right, minlength=k)
        fp = np.bincount(predicted, weights=n - right, minlength=k)
        fn = ((n - right)[:, None] * self.mix[predicted]).sum(axis=0)
        return tp, fp, fn



class ExpectedConfusion:
    """Expected confusion counts over ``classes``, summed over groups of answers of one or more models."""

    def __init__(self, classes: list[Any]):
        self.classes = list(classes)
        self._position = {c: i for i, c in enumerate(self.classes)}
        self.counts = np.zeros((3, len(self.classes)))  # true positives, false positives, false negatives
        self.rows = 0.0

    def add(self, model: ConfidenceModel, outputs, n: np.ndarray, confidence: np.ndarray) -> None:
        """Count ``n`` answers ``outputs`` given with (mean) ``confidence`` by the model ``model`` describes."""
        predicted = model.positions(outputs)
        known = predicted >= 0
        if not known.any():
            return
        n = np.asarray(n, dtype=float)[known]
        tp, fp, fn = model.expected_counts(predicted[known], n, np.asarray(confidence, dtype=float)[known])
        columns = [self._position[c] for c in model.classes]
        self.counts[:, columns] += np.vstack([tp, fp, fn])
        self.rows += n.sum()

    def merge(self, other: ExpectedConfusion) -> ExpectedConfusion:
        merged = ExpectedConfusion(self.classes)
        merged.counts, merged.rows = self.counts + other.counts, self.rows + other.rows
        return merged

    def metrics(self) -> dict[str, float]:
        """``estimated_<metric>`` for each of ``ESTIMATED_METRICS`` (NaN when no answer was counted)."""
        found = confusion_metrics(*self.counts, self.rows)
        return {f"estimated_{m}": found.get(m, math.nan) for m in ESTIMATED_METRICS}
