"""Live performance per window: realised metrics from logged predictions and their feedback labels,
and for classifiers an estimate from the model's confidence, for windows whose labels have not come (CBPE).

Realised metrics are computed from per-window counts the store aggregates in SQL (confusion pairs
for classifiers, error sums for regressors), so they equal scikit-learn's on the same rows without
reading them; every metric that decomposes over confusion counts (``metrics.Confusion``: the
built-ins, per-class ones, cost matrices, scikit-learn's label metrics) is realised and estimated so. The estimates come from per-window histograms of the confidence the serving process
logs with each answer (SQL aggregates too); ROC AUC needs every class's probability, so it uses the
bounded per-window sample the store returns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import MetricError
from ..metrics import Confusion

CLASSIFICATION_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc")
REGRESSION_METRICS = ("rmse", "mae", "r2")
ESTIMATED_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
CLASS_CALIBRATION_ROWS = 50  # eval answers of a class needed to calibrate its confidence on its own


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
    confusion counts, and the metrics of those counts the expected metrics.

    ``classes`` are the model's classes; ``calibration`` maps an answer's confidence to the chance it
    is right, learned per answered class where the eval data holds ``CLASS_CALIBRATION_ROWS`` answers
    of it (a model trained with class weights is confident in a different way for each class, and a
    cost matrix weighs their mistakes differently), pooled otherwise; ``mix[k, j]`` is the share of class
    ``j`` among the true labels of wrong answers ``k`` (learned on the eval data; uniform without it).
    """

    def __init__(self, classes: list[Any], calibration=None, mix: np.ndarray | None = None, by_class: dict[int, Any] | None = None):
        self.classes = list(classes)
        self.calibration = calibration
        self.by_class = by_class or {}
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
        confidence = proba[np.arange(len(proba)), predicted]

        def isotonic(rows):
            return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence[rows], correct[rows].astype(float))

        calibration = isotonic(slice(None))
        by_class = {i: isotonic(predicted == i) for i in range(len(classes)) if (predicted == i).sum() >= CLASS_CALIBRATION_ROWS}
        k = len(classes)
        wrong = np.zeros((k, k))
        known = ~correct & (truth >= 0)
        np.add.at(wrong, (predicted[known], truth[known]), 1.0)
        uniform = (np.ones((k, k)) - np.eye(k)) / max(k - 1, 1)
        totals = wrong.sum(axis=1, keepdims=True)
        return cls(classes, calibration, np.where(totals > 0, wrong / np.where(totals > 0, totals, 1.0), uniform), by_class)

    def positions(self, outputs) -> np.ndarray:
        """The class index of each answer (-1 for an answer that is none of the model's classes)."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index.get(o, -1) for o in outputs], dtype=int)

    def right(self, confidence: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """The probability that an answer of class index ``predicted`` given with ``confidence`` is right."""
        confidence = np.asarray(confidence, dtype=float)
        if self.calibration is None:
            return confidence
        right = self.calibration.predict(confidence)
        for i, calibration in self.by_class.items():
            mine = predicted == i
            if mine.any():
                right[mine] = calibration.predict(confidence[mine])
        return right

    def expected_matrix(self, predicted: np.ndarray, n: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """Expected confusion counts (true class × answer, over ``classes``) of ``n`` answers of class
        index ``predicted`` given with (mean) ``confidence``: right with the calibrated confidence,
        and otherwise of the other classes in the proportions of ``mix``."""
        k = len(self.classes)
        n = np.asarray(n, dtype=float)
        right = n * self.right(confidence, predicted)
        matrix = np.zeros((k, k))
        np.add.at(matrix.T, predicted, (n - right)[:, None] * self.mix[predicted])  # answered k, truly j
        matrix[np.diag_indices(k)] += np.bincount(predicted, weights=right, minlength=k)
        return matrix


class ExpectedConfusion:
    """Expected confusion counts over ``classes``, summed over groups of answers of one or more models."""

    def __init__(self, classes: list[Any]):
        self.confusion = Confusion(classes)

    def add(self, model: ConfidenceModel, outputs, n: np.ndarray, confidence: np.ndarray) -> None:
        """Count ``n`` answers ``outputs`` given with (mean) ``confidence`` by the model ``model`` describes."""
        predicted = model.positions(outputs)
        known = predicted >= 0
        if not known.any():
            return
        matrix = model.expected_matrix(predicted[known], np.asarray(n, dtype=float)[known], np.asarray(confidence, dtype=float)[known])
        at = [self.confusion.position[c] for c in model.classes]
        self.confusion.matrix[np.ix_(at, at)] += matrix

    def merge(self, other: ExpectedConfusion) -> ExpectedConfusion:
        merged = ExpectedConfusion([])
        merged.confusion = self.confusion.merge(other.confusion)
        return merged

    def metrics(self, extra=(), problems: dict[str, str] | None = None) -> dict[str, float]:
        """``estimated_<metric>`` for each of ``ESTIMATED_METRICS`` and of the count metrics ``extra`` (NaN when no answer was counted)."""
        found = self.confusion.macro()
        values = {f"estimated_{m}": found.get(m, math.nan) for m in ESTIMATED_METRICS}
        values.update({f"estimated_{m.name}": of_counts(m, self.confusion, problems) for m in extra})
        return values


def of_counts(metric, confusion: Confusion, problems: dict[str, str] | None) -> float:
    """``metric`` of the counts; NaN, and its line kept once in ``problems``, when it cannot be computed."""
    try:
        return metric.of_counts(confusion)
    except MetricError as exc:
        if problems is not None:
            problems.setdefault(metric.name, str(exc))
        return math.nan


def confusion_of(pairs) -> Confusion:
    """The confusion counts of (output, label, n) rows."""
    return Confusion.from_pairs(pairs["label"], pairs["output"], pairs["n"])


def classification_metrics(pairs, extra=(), problems: dict[str, str] | None = None) -> dict[str, float]:
    """The built-in metrics and the count metrics ``extra`` from (output, label, n) counts."""
    if pairs is None or len(pairs) == 0:
        return {}
    confusion = confusion_of(pairs)
    return {**confusion.macro(), **{m.name: of_counts(m, confusion, problems) for m in extra}}
