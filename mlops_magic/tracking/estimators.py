"""Find the scikit-learn estimators a cell fitted, and describe them: params, class, task."""

from __future__ import annotations

import inspect
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
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

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
    """``get_params(deep=True)`` as strings, without the nested estimators themselves (their params are there)."""
    return {
        key: _describe(value)
        for key, value in estimator.get_params(deep=True).items()
        if not is_estimator(value) and not (key.rsplit("__", 1)[-1] in ("steps", "transformers", "estimators") and isinstance(value, list))
    }


def changed_params(estimator: Any, prefix: str = "") -> dict[str, str]:
    """The params set away from their defaults, nested estimators included: what a person chose."""
    signature = inspect.signature(type(estimator).__init__)
    defaults = {name: p.default for name, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}
    changed = {}
    for key, value in estimator.get_params(deep=False).items():
        if is_estimator(value):
            changed.update(changed_params(value, f"{prefix}{key}__"))
        elif key in ("steps", "transformers", "estimators") and isinstance(value, list):
            for step in value:
                if isinstance(step, tuple) and len(step) >= 2 and is_estimator(step[1]):
                    changed.update(changed_params(step[1], f"{prefix}{step[0]}__"))
        elif key not in defaults or _describe(defaults[key]) != _describe(value):
            changed[f"{prefix}{key}"] = _describe(value)
    return changed


def search_results(estimator: Any) -> tuple[dict[str, str], dict[str, float]]:
    """For a fitted hyper-parameter search: its best params (``best.<name>``) and ``best_cv_score``."""
    best = getattr(estimator, "best_params_", None)
    if not isinstance(best, dict):
        return {}, {}
    score = getattr(estimator, "best_score_", None)
    metrics = {"best_cv_score": float(score)} if isinstance(score, (int, float)) else {}
    return {f"best.{key}": _describe(value) for key, value in best.items()}, metrics
