"""The kinds of metric: built-in, per class, cost or gain matrix, scikit-learn function, free-form function.

A metric computes from rows (``of_rows``: true labels, answers, class probabilities, inputs), and
those that decompose over confusion counts (``counts``) also from counts (``of_counts``), which is
how monitoring windows aggregated in SQL and confidence-based estimates are scored.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from ..errors import InvalidInputError, MetricError
from . import source as function_source
from .confusion import Confusion, _plain
from .names import as_metric_value

PROBABILITY_FUNCTIONS = {"log_loss"}  # scikit-learn functions whose ``y_pred`` is class probabilities


class Metric:
    """A named metric. ``task``: the task it applies to (None: any); ``needs``: the inputs beyond
    (y_true, y_pred) it reads (``y_proba``, ``X``)."""

    kind = "builtin"
    counts = False  # computable from confusion counts
    needs: tuple[str, ...] = ()

    def __init__(self, name: str, better: str = "higher", task: str | None = "classification"):
        self.name, self.better, self.task = name, better, task

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    def applies_to(self, task: str | None) -> bool:
        return self.task is None or self.task == task

    def of_counts(self, confusion: Confusion) -> float:
        raise NotImplementedError

    def of_rows(self, y_true, y_pred, y_proba=None, classes=None, X=None) -> float:
        """The metric on rows (``y_proba``: columns in ``classes`` order; ``X``: the inputs)."""
        return self.of_counts(Confusion.from_rows(y_true, y_pred))

    def describe(self) -> str:
        return f"{self.name} (built-in, {self.better} is better)"

    def __repr__(self) -> str:
        return f"<Metric {self.describe()}>"


class Macro(Metric):
    """Accuracy or a macro average over the classes seen."""

    counts = True

    def of_counts(self, confusion: Confusion) -> float:
        return confusion.macro().get(self.name, math.nan)


class PerClass(Metric):
    """``recall[1]``: precision, recall or F1 of one class."""

    counts = True

    def __init__(self, name: str, measure: str, label: Any):
        super().__init__(name)
        self.measure, self.label = measure, label

    def of_counts(self, confusion: Confusion) -> float:
        return confusion.of_class(self.measure, self.label)

    def describe(self) -> str:
        return f"{self.name} ({self.measure} of class {self.label!r}, higher is better)"


class Probabilistic(Metric):
    """Built-in ROC AUC (one-vs-rest macro) and log loss, from the class probabilities."""

    needs = ("y_proba",)

    def of_rows(self, y_true, y_pred, y_proba=None, classes=None, X=None) -> float:
        from sklearn import metrics as m

        truth = _array(y_true)
        if y_proba is None or not set(truth.tolist()) <= set(classes):
            return math.nan
        if self.name == "log_loss":
            return float(m.log_loss(truth, y_proba, labels=list(classes)))
        if len(set(truth.tolist())) < len(classes):
            return math.nan  # a class with no positives has no ROC curve (scikit-learn 1.3 raises, later ones warn and give NaN)
        score = y_proba[:, 1] if len(classes) == 2 else y_proba
        return float(m.roc_auc_score(truth, score, multi_class="ovr", labels=list(classes) if len(classes) > 2 else None))


class Regression(Metric):
    """Built-in RMSE, MAE and R2."""

    def __init__(self, name: str, better: str):
        super().__init__(name, better, task="regression")

    def of_rows(self, y_true, y_pred, y_proba=None, classes=None, X=None) -> float:
        truth, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
        error = predicted - truth
        if self.name == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        if self.name == "mae":
            return float(np.mean(np.abs(error)))
        from sklearn.metrics import r2_score

        return float(r2_score(truth, predicted))


class CostMatrix(Metric):
    """The mean cost (or gain) per row: ``matrix[i][j]`` for a row of true class ``labels[i]`` answered ``labels[j]``."""

    kind = "matrix"
    counts = True

    def __init__(self, name: str, matrix: list[list[float]], labels: list[Any] | None, gain: bool, better: str | None = None):
        super().__init__(name, better or ("higher" if gain else "lower"))
        self.matrix = np.asarray(matrix, dtype=float)
        if self.matrix.ndim != 2 or self.matrix.shape[0] != self.matrix.shape[1] or not self.matrix.size or not np.isfinite(self.matrix).all():
            raise InvalidInputError(f"the matrix of metric {name!r} must be square and finite, rows the true class, columns the answer: e.g. [[0, 1], [50, 0]].")
        self.labels = list(labels) if labels is not None else list(range(len(self.matrix)))
        if len(self.labels) != len(self.matrix) or len(set(map(repr, self.labels))) != len(self.labels):
            raise InvalidInputError(f"metric {name!r} has a {len(self.matrix)}x{len(self.matrix)} matrix and labels {self.labels}: give one distinct label per row.")
        self.gain = gain

    def of_counts(self, confusion: Confusion) -> float:
        if confusion.total <= 0:
            return math.nan
        position = {label: i for i, label in enumerate(self.labels)}
        unknown = [c for c, count in zip(confusion.classes, confusion.matrix.sum(axis=0) + confusion.matrix.sum(axis=1)) if c not in position and count > 0]
        if unknown:
            raise MetricError(f"metric {self.name!r}: class {unknown[0]!r} is not among its matrix labels {self.labels}: define it again with --labels.")
        at = [position.get(c, 0) for c in confusion.classes]
        return float((confusion.matrix * self.matrix[np.ix_(at, at)]).sum() / confusion.total)

    def describe(self) -> str:
        return f"{self.name} ({'gain' if self.gain else 'cost'} matrix {self.matrix.tolist()} over labels {self.labels}, {self.better} is better)"


def sklearn_function(name: str):
    """(the function, its options, its direction) of a scikit-learn metric named as a function
    (``recall_score``, ``mean_absolute_error``), without ``_score`` (``recall``), or as a scorer (``neg_log_loss``)."""
    from sklearn import metrics as m

    for candidate in (name, f"{name}_score"):
        function = getattr(m, candidate, None)
        if inspect.isfunction(function) and "y_true" in inspect.signature(function).parameters:
            lower = candidate.endswith(("_error", "_loss", "_deviance")) or candidate == "log_loss"
            return function, {}, "lower" if lower else "higher"
    if name in m.get_scorer_names():
        scorer = m.get_scorer(name)
        return scorer._score_func, dict(scorer._kwargs), "higher" if scorer._sign > 0 else "lower"
    raise InvalidInputError(f"scikit-learn has no metric {name!r}: name a function of sklearn.metrics (recall, f1, mean_absolute_error, ...) or a scorer.")


class Sklearn(Metric):
    """A function of ``sklearn.metrics`` with options; label metrics of classifiers decompose over
    counts (scikit-learn weighs each (label, answer) cell by its count: ``sample_weight``)."""

    kind = "sklearn"

    def __init__(self, name: str, function: str, options: dict[str, Any], better: str | None = None):
        self.function, scorer_options, direction = sklearn_function(function)
        self.options = {**scorer_options, **options}
        parameters = inspect.signature(self.function).parameters
        try:
            inspect.signature(self.function).bind_partial(None, None, **self.options)
        except TypeError as exc:
            raise InvalidInputError(f"metric {name!r}: {self.function.__name__} does not take these options ({exc}).") from None
        module = self.function.__module__
        task = "regression" if module.endswith("_regression") else "classification" if module.endswith(("_classification", "_ranking")) else None
        super().__init__(name, better or direction, task)
        self.scores = next((p for p in ("y_score", "y_prob", "y_proba") if p in parameters), None)
        if self.function.__name__ in PROBABILITY_FUNCTIONS:
            self.scores = "y_pred"
        self.needs = ("y_proba",) if self.scores else ()
        self.counts = task == "classification" and self.scores is None and "sample_weight" in parameters
        self.accepts_labels = "labels" in parameters

    def of_counts(self, confusion: Confusion) -> float:
        if confusion.total <= 0:
            return math.nan
        labels, outputs, weights = confusion.cells()
        return self._call(_array(labels), _array(outputs), sample_weight=weights)

    def of_rows(self, y_true, y_pred, y_proba=None, classes=None, X=None) -> float:
        if self.scores is None:
            if self.counts:
                return super().of_rows(y_true, y_pred)
            return self._call(_array(y_true), _array(y_pred))
        if y_proba is None:
            raise MetricError(f"metric {self.name!r} needs class probabilities: the model gives none (no predict_proba).")
        classes = list(classes)
        options = dict(self.options)
        if len(classes) == 2 and self.function.__name__ not in PROBABILITY_FUNCTIONS:
            positive = options.get("pos_label", classes[1])
            if positive not in classes:
                raise MetricError(f"metric {self.name!r}: pos_label {positive!r} is not a class of the model ({classes}).")
            scores = y_proba[:, classes.index(positive)]
        else:
            scores = y_proba
            if self.accepts_labels:
                options.setdefault("labels", classes)
        return self._call(_array(y_true), scores, **options)

    def _call(self, y_true, y_pred, **extra) -> float:
        fix = "choose options that give one value (e.g. average)"
        return _number(f"metric {self.name!r} ({self.function.__name__})", fix, self.function, y_true, y_pred, **{**self.options, **extra})

    def describe(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        return f"{self.name} (sklearn {self.function.__name__}({options}), {self.better} is better)"


class Function(Metric):
    """A Python function of (y_true, y_pred[, y_proba][, X]), compiled from its stored source."""

    kind = "function"

    def __init__(self, name: str, source: str, function: str, inputs: list[str], better: str = "higher", task: str | None = None):
        super().__init__(name, better, task)
        self.source, self.function, self.inputs = source, function, list(inputs)
        self.needs = tuple(i for i in self.inputs if i in ("y_proba", "X"))

    def of_rows(self, y_true, y_pred, y_proba=None, classes=None, X=None) -> float:
        given = {"y_true": _array(y_true), "y_pred": _array(y_pred), "y_proba": y_proba, "X": X}
        for needed in self.needs:
            if given[needed] is None:
                what = "class probabilities (the model has no predict_proba)" if needed == "y_proba" else "the inputs X"
                raise MetricError(f"metric {self.name!r} needs {what}, which are not available here.")
        function = function_source.load(self.name, self.source, self.function)
        return _number(f"metric {self.name!r}", "make it return one float", function, **{i: given[i] for i in self.inputs})

    def describe(self) -> str:
        return f"{self.name} (function {self.function}({', '.join(self.inputs)}), {self.better} is better)"


def _number(what: str, fix: str, function, *args, **kwargs) -> float:
    """``function(*args, **kwargs)`` as one finite float, or a ``MetricError`` line saying what it did instead."""
    try:
        value = function(*args, **kwargs)
    except Exception as exc:
        raise MetricError(f"{what} raised {type(exc).__name__}: {exc}") from None
    number = as_metric_value(value)
    if number is None:
        raise MetricError(f"{what} returned {value!r:.60}, not a number: {fix}.")
    return number


class Broken(Metric):
    """A stored definition this process cannot build (e.g. a scikit-learn function gone): every use says so."""

    kind = "broken"

    def __init__(self, name: str, reason: str, better: str):
        super().__init__(name, better or "higher", task=None)
        self.reason = reason

    def of_counts(self, confusion: Confusion) -> float:
        raise MetricError(self.reason)

    def of_rows(self, y_true, y_pred, y_proba=None, classes=None, X=None) -> float:
        raise MetricError(self.reason)


def _array(values) -> np.ndarray:
    """Labels or answers as a numpy array of their natural dtype (numbers stay numbers)."""
    return np.asarray(_plain(values))
