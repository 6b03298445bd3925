"""Confusion counts: how many rows of each true class got each answer, counted or expected.

Every metric that decomposes over these counts (accuracy, macro and per-class precision, recall and
F1, a cost matrix, scikit-learn's label metrics) is computed from them, so a run's eval data, a
monitoring window aggregated in SQL and a confidence-based estimate all go through the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def class_order(values) -> list[Any]:
    """Classes in one stable order (scikit-learn sorts them; mixed types sort by their repr)."""
    values = set(values)
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


class Confusion:
    """``matrix[i, j]``: rows of true class ``classes[i]`` answered ``classes[j]`` (counts, or expected counts)."""

    def __init__(self, classes: list[Any], matrix: np.ndarray | None = None):
        self.classes = list(classes)
        self.position = {c: i for i, c in enumerate(self.classes)}
        self.matrix = np.zeros((len(self.classes), len(self.classes))) if matrix is None else np.asarray(matrix, dtype=float)

    @classmethod
    def from_pairs(cls, labels, outputs, n, classes: list[Any] | None = None) -> Confusion:
        """From (label, output, count) triples; the classes are those seen, unless given."""
        labels, outputs = list(labels), list(outputs)
        found = cls(class_order([*labels, *outputs]) if classes is None else classes)
        rows = [found.position[v] for v in labels]
        columns = [found.position[v] for v in outputs]
        np.add.at(found.matrix, (rows, columns), np.asarray(n, dtype=float))
        return found

    @classmethod
    def from_rows(cls, y_true, y_pred) -> Confusion:
        truth, predicted = _plain(y_true), _plain(y_pred)
        return cls.from_pairs(truth, predicted, np.ones(len(truth)))

    @property
    def total(self) -> float:
        return float(self.matrix.sum())

    def merge(self, other: Confusion) -> Confusion:
        merged = Confusion(class_order([*self.classes, *other.classes]))
        for part in (self, other):
            at = [merged.position[c] for c in part.classes]
            merged.matrix[np.ix_(at, at)] += part.matrix
        return merged

    def cells(self):
        """(labels, outputs, counts) of the non-empty cells: rows weighted by count, for scikit-learn's ``sample_weight``."""
        rows, columns = np.nonzero(self.matrix)
        return [self.classes[i] for i in rows], [self.classes[j] for j in columns], self.matrix[rows, columns]

    def per_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True positives, false positives and false negatives per class."""
        tp = np.diag(self.matrix)
        return tp, self.matrix.sum(axis=0) - tp, self.matrix.sum(axis=1) - tp

    def macro(self) -> dict[str, float]:
        """Accuracy and macro precision/recall/F1 over the classes seen (as labels or answers), as
        scikit-learn's; for expected counts a class is seen once it holds half a row."""
        total = self.total
        if total <= 0:
            return {}
        tp, fp, fn = self.per_class()
        seen = (tp + fp + fn) >= 0.5
        tp, fp, fn = tp[seen], fp[seen], fn[seen]
        return {
            "accuracy": float(tp.sum() / total),
            "precision_macro": float(_safe_ratio(tp, tp + fp).mean()),
            "recall_macro": float(_safe_ratio(tp, tp + fn).mean()),
            "f1_macro": float(_safe_ratio(2 * tp, 2 * tp + fp + fn).mean()),
        }

    def of_class(self, kind: str, label: Any) -> float:
        """precision, recall or f1 of one class (NaN when the class was never seen)."""
        i = self.position.get(label)
        if i is None or self.total <= 0:
            return float("nan")
        tp, fp, fn = (v[i] for v in self.per_class())
        numerator, denominator = {"precision": (tp, tp + fp), "recall": (tp, tp + fn), "f1": (2 * tp, 2 * tp + fp + fn)}[kind]
        return float(numerator / denominator) if denominator > 0 else 0.0


def _plain(values) -> list[Any]:
    """Values as plain Python scalars (numpy's are turned into theirs), so classes compare as logged JSON does."""
    return [v.item() if hasattr(v, "item") else v for v in np.asarray(values, dtype=object).ravel()]
