"""Metrics by name, one home for all of them: the built-ins, per-class forms and the metrics a store
defines (a scikit-learn metric with options, a cost or gain matrix, a function whose source is kept).

``Catalog.of(store)`` says what a name computes and which way is better; ``Confusion`` holds the
counts that every decomposable metric is computed from, in a run's evaluation and in monitoring.
"""

from .catalog import Catalog
from .confusion import Confusion
from .kinds import Metric
from .names import as_metric_value, higher_is_better_by_name

__all__ = ["Catalog", "Confusion", "Metric", "as_metric_value", "higher_is_better_by_name"]
