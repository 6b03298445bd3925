"""What a metric's name alone says: whether it is better higher or lower, and what counts as its value."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

LOWER_IS_BETTER_WORDS = {"rmse", "mse", "mae", "mape", "loss", "logloss", "error", "err", "brier", "cost"}


def words(name: str) -> set[str]:
    """The words of a name, each also without its digits: ``top5_acc`` → top5, top, acc; ``f1`` → f1, f."""
    found = {w for w in re.split(r"[_\W]+", name.lower()) if w}
    return found | {w.strip("0123456789") for w in found} - {""}


def higher_is_better_by_name(metric: str) -> bool:
    """For a metric nobody defined: lower is better when its name says error, loss, cost, ..."""
    return not any(word in LOWER_IS_BETTER_WORDS for word in words(metric))


def as_metric_value(value: Any) -> float | None:
    """A finite real number as float; None for anything else (bools, arrays, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        import numpy as np

        if isinstance(value, np.generic) and np.ndim(value) == 0 and not isinstance(value, np.bool_):
            value = float(value)
        else:
            return None
    value = float(value)
    return value if math.isfinite(value) else None
