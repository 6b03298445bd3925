"""Metrics by name, one home for all of them: the built-ins, per-class forms and the metrics a store
defines (a scikit-learn metric with options, a cost or gain matrix, a function whose source is kept).

``Catalog.of(store)`` says what a name computes and which way is better; ``Confusion`` holds the
counts that every decomposable metric is computed from, in a run's evaluation and in monitoring.
The names below are imported on first use: the magics load ``metrics.flags`` without numpy.
"""

from importlib import import_module

_HOMES = {"Catalog": "catalog", "Confusion": "confusion", "Metric": "kinds", "as_metric_value": "names", "higher_is_better_by_name": "names"}

__all__ = list(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
