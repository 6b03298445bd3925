"""Every metric a name can stand for: the built-ins, ``precision|recall|f1[CLASS]``, and the store's definitions.

``Catalog.of(store)`` is what every process (the kernel, the CLI, the watcher, a retraining job)
asks, so a name means the same thing everywhere, and its direction decides gates and rankings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import InvalidInputError, MetricError, MLOpsError
from . import kinds
from .names import higher_is_better_by_name

BUILTIN: dict[str, kinds.Metric] = {
    **{name: kinds.Macro(name) for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro")},
    "roc_auc": kinds.Probabilistic("roc_auc"),
    "log_loss": kinds.Probabilistic("log_loss", better="lower"),
    "rmse": kinds.Regression("rmse", "lower"),
    "mae": kinds.Regression("mae", "lower"),
    "r2": kinds.Regression("r2", "higher"),
}
TASK_METRICS = {  # what --eval records for each task
    "classification": ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
PER_CLASS = re.compile(r"^(precision|recall|f1)\[(.+)\]$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def class_label(text: str) -> Any:
    """The class a ``recall[...]`` names: a JSON value (``1``, ``"a"``), else the text as written."""
    try:
        return json.loads(text)
    except ValueError:
        return text.strip("'\"")


def build(definition) -> kinds.Metric:
    """The metric a stored ``MetricDefinition`` describes."""
    spec = definition.spec
    if definition.kind == "sklearn":
        return kinds.Sklearn(definition.name, spec["function"], spec.get("options", {}), definition.better)
    if definition.kind == "matrix":
        return kinds.CostMatrix(definition.name, spec["matrix"], spec.get("labels"), spec.get("gain", False), definition.better)
    if definition.kind == "function":
        return kinds.Function(definition.name, definition.source, spec["function"], spec["inputs"], definition.better, spec.get("task"))
    raise InvalidInputError(f"metric {definition.name!r} has an unknown kind {definition.kind!r}: define it again.")


class Catalog:
    """The metrics known by name: built-ins, per-class forms and ``definitions`` (``MetricDefinition``s)."""

    def __init__(self, definitions=()):
        self.defined: dict[str, kinds.Metric] = {}
        for d in definitions:
            try:
                self.defined[d.name] = build(d)
            except MLOpsError as exc:  # one bad definition must not stop the others, nor the monitor
                self.defined[d.name] = kinds.Broken(d.name, f"metric {d.name!r} cannot be built here: {exc}", d.better)

    @classmethod
    def of(cls, store) -> Catalog:
        return cls(store.metric_definitions())

    def get(self, name: str) -> kinds.Metric | None:
        if name in self.defined:
            return self.defined[name]
        if name in BUILTIN:
            return BUILTIN[name]
        match = PER_CLASS.match(name)
        return kinds.PerClass(name, match[1], class_label(match[2])) if match else None

    def higher_is_better(self, name: str) -> bool:
        """The metric's direction: its definition's, else what its name says."""
        metric = self.get(name)
        return metric.higher_is_better if metric is not None else higher_is_better_by_name(name)

    def for_task(self, task: str | None) -> list[kinds.Metric]:
        """The defined metrics that apply to ``task``."""
        return [m for m in self.defined.values() if m.applies_to(task)]

    def evaluate(self, task: str, y_true, y_pred, y_proba=None, classes=None, X=None, names=()) -> tuple[dict[str, float], list[str]]:
        """The task's standard metrics, its defined ones and those ``names`` ask for, on rows; and one
        line per metric that could not be computed."""
        wanted = [BUILTIN[n] for n in TASK_METRICS.get(task, ())] + self.for_task(task) + [m for n in names if (m := self.get(n)) is not None]
        values, problems = self.score(list({m.name: m for m in wanted}.values()), y_true, y_pred, y_proba, classes, X)
        return values, list(problems.values())

    @staticmethod
    def score(metrics, y_true, y_pred, y_proba=None, classes=None, X=None) -> tuple[dict[str, float], dict[str, str]]:
        """``metrics`` on rows: their values, and the line of each metric that could not be computed."""
        values, problems = {}, {}
        for metric in metrics:
            if "y_proba" in metric.needs and y_proba is None and metric.kind == "builtin":
                continue  # a model without probabilities simply has no ROC AUC
            try:
                value = metric.of_rows(y_true, y_pred, y_proba, classes, X)
            except MetricError as exc:
                problems[metric.name] = str(exc)
                continue
            if not math.isnan(value):
                values[metric.name] = value
        return values, problems

    def check(self, name: str, task: str | None = None) -> kinds.Metric:
        """The metric ``name``, or one line naming the ones there are."""
        metric = self.get(name)
        if metric is None or (task is not None and not metric.applies_to(task)):
            known = ", ".join([*TASK_METRICS.get(task or "classification", ()), *(m.name for m in self.for_task(task))])
            raise InvalidInputError(f"no metric {name!r}{f' for {task}' if task else ''}: use one of {known}, recall[CLASS], or define it with %mlops_metric.")
        return metric
