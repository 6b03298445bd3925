"""Find the scikit-learn estimators a cell fitted, and describe them: params, class, task."""

from __future__ import annotations

import sys
from typing import Any

MAX_PARAM_LENGTH = 250


def _sklearn_base():
    """``sklearn.base`` if scikit-learn is imported (no estimator can exist otherwise), else None."""
    return sys.modules.get("sklearn.base") if "sklearn" in sys.modules else None


def is_estimator(value: Any) -> bool:
    base = _sklearn_base()
    return base is not None and isinstance(value, base.BaseEstimator) and not isinstance(value, type)


def is_fitted(estimator: Any) -> bool:
    from sklearn.utils.validation import check_is_fitted
    from sklearn.exceptions import NotFittedError

    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


def estimators_in(namespace: dict[str, Any], names: list[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """(fitted estimators among ``names`` as (name, object), names of estimators left unfitted)."""
    fitted, unfitted = [], []
    for name in names:
        value = namespace.get(name)
        if is_estimator(value):
            (fitted if is_fitted(value) else unfitted).append((name, value))
    # One object bound to several names is one model: keep its last name.
    unique = {id(obj): (name, obj) for name, obj in fitted}
    return list(unique.values()), [name for name, _ in unfitted]


def task_of(estimator: Any) -> str:
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    return "other"


def _describe(value: Any) -> str:
    if is_estimator(value):
        return type(value).__name__
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 1] + "…"


def params_of(estimator: Any) -> dict[str, str]:
    """``get_params(deep=True)`` as strings; nested estimators appear as their class name."""
    params = {}
    for key, value in estimator.get_params(deep=True).items():
        if key in ("steps", "transformers", "estimators") and isinstance(value, list):
            params[key] = ", ".join(f"{step[0]}={_describe(step[1])}" for step in value if isinstance(step, tuple) and len(step) >= 2)
        else:
            params[key] = _describe(value)
    return params
