"""Defining a metric: checked where it is set (one line naming the fix), then stored once per store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import current_user
from ..errors import InvalidInputError
from . import source
from .catalog import BUILTIN, NAME, PER_CLASS, build

BETTER = ("higher", "lower")


def definition(
    name: str,
    *,
    sklearn: str | None = None,
    options: dict[str, Any] | None = None,
    cost_matrix: list[list[float]] | None = None,
    gain_matrix: list[list[float]] | None = None,
    labels: list[Any] | None = None,
    function: Callable[..., Any] | None = None,
    better: str | None = None,
    task: str | None = None,
):
    """A checked ``MetricDefinition``: exactly one of a scikit-learn metric (with ``options``), a cost
    or gain matrix (rows the true class, columns the answer, over ``labels``: default 0..k-1), or a function."""
    from ..store.metrics import MetricDefinition

    if not NAME.match(name or "") or name in BUILTIN or PER_CLASS.match(name or ""):
        raise InvalidInputError(f"metric name {name!r} is not free: use letters, digits and '_' (e.g. fraud_cost), not a built-in name.")
    forms = [f for f, given in (("sklearn", sklearn), ("cost_matrix", cost_matrix), ("gain_matrix", gain_matrix), ("function", function)) if given is not None]
    if len(forms) != 1:
        raise InvalidInputError(f"metric {name!r} needs exactly one definition: --sklearn NAME, --cost-matrix, --gain-matrix, or a function (@mm.metric).")
    if better is not None and better not in BETTER:
        raise InvalidInputError(f"better={better!r}: say 'higher' or 'lower'.")
    if (options or labels is not None) and forms[0] in ("function",):
        raise InvalidInputError(f"metric {name!r}: options and labels go with --sklearn or a matrix, not a function.")
    if forms[0] == "sklearn":
        found = MetricDefinition(name, "sklearn", {"function": sklearn, "options": dict(options or {})}, better or "")
    elif forms[0] == "function":
        text, function_name, inputs = source.capture(name, function)
        found = MetricDefinition(name, "function", {"function": function_name, "inputs": inputs, "task": task}, better or "higher", source=text)
    else:
        gain = forms[0] == "gain_matrix"
        matrix = gain_matrix if gain else cost_matrix
        found = MetricDefinition(name, "matrix", {"matrix": matrix, "labels": labels, "gain": gain}, better or ("higher" if gain else "lower"))
    found.better = build(found).better  # a scikit-learn metric's direction is its own unless said
    found.user = current_user()
    return found
