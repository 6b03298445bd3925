"""A metric function's source, kept with the imports it needs so another process can run it.

As a run's recipe keeps the cells its code needs, a function metric keeps its own ``def`` (its
decorators dropped) and one import line per module, or module-level function, it reads. Any other
global (a constant, a variable of the notebook) is refused with a line saying to move it inside.
"""

from __future__ import annotations

import ast
import builtins
import dis
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputError, MetricError

INPUTS = ("y_true", "y_pred", "y_proba", "X")  # what a metric function may take, by these names
_compiled: dict[tuple[str, str], Callable[..., Any]] = {}


def _global_names(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _import_line(metric: str, name: str, value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return f"import {value.__name__}" if value.__name__ == name else f"import {value.__name__} as {name}"
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if module and module != "__main__" and "." not in qualname:
        try:
            if getattr(importlib.import_module(module), qualname, None) is value:
                return f"from {module} import {qualname}" + (f" as {name}" if qualname != name else "")
        except ImportError:
            pass
    raise InvalidInputError(
        f"metric {metric!r} reads {name!r}, which is not a module or an importable function: move its value inside the function, "
        "so other processes compute the same."
    )


def capture(metric: str, function: Callable[..., Any]) -> tuple[str, str, list[str]]:
    """(source with its imports, the function's name, the inputs it takes) of a metric function."""
    if not inspect.isfunction(function) or function.__name__ == "<lambda>":
        raise InvalidInputError(f"metric {metric!r} must be a function defined with def (y_true, y_pred[, y_proba][, X]).")
    if function.__code__.co_freevars:
        raise InvalidInputError(f"metric {metric!r} reads variables of an enclosing function ({', '.join(function.__code__.co_freevars)}): define it at the top level.")
    inputs = list(inspect.signature(function).parameters)
    if inputs[:2] != ["y_true", "y_pred"] or not set(inputs) <= set(INPUTS):
        raise InvalidInputError(f"metric {metric!r} takes ({', '.join(inputs)}): write def {function.__name__}(y_true, y_pred[, y_proba][, X]).")
    try:
        text = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        raise InvalidInputError(f"the source of metric {metric!r} cannot be read: define it in a notebook cell or a file.") from None
    definition = next(node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))
    body = "\n".join(text.splitlines()[definition.lineno - 1 : definition.end_lineno])
    imports = []
    for name in sorted(_global_names(function.__code__)):
        if name == function.__name__ or (name not in function.__globals__ and hasattr(builtins, name)):
            continue
        if name not in function.__globals__:
            raise InvalidInputError(f"metric {metric!r} reads {name!r}, which is not defined: define or import it first.")
        imports.append(_import_line(metric, name, function.__globals__[name]))
    return "\n".join([*imports, body]) + "\n", function.__name__, inputs


def load(metric: str, source: str, name: str) -> Callable[..., Any]:
    """The function ``name`` that ``source`` defines (compiled once per process)."""
    key = (metric, source)
    if key not in _compiled:
        namespace: dict[str, Any] = {}
        try:
            exec(compile(source, f"<metric {metric}>", "exec"), namespace)  # the store's own definition, as a recipe is replayed
        except Exception as exc:
            raise MetricError(f"metric {metric!r} cannot be loaded: {type(exc).__name__}: {exc}") from None
        _compiled[key] = namespace[name]
    return _compiled[key]
