"""Run a cell's body as IPython would: same namespace, same output, same exceptions.

``shell.run_cell`` would swallow the body's exception (measured on IPython 8 and 9), so the body is transformed
(``%magics`` and ``!cmd`` still work), parsed, all statements but the last executed, and the last
one evaluated when it is an expression so its value is displayed as the cell's result.
"""

from __future__ import annotations

import ast
from typing import Any


def run_body(shell, cell: str, number: int) -> Any:
    """Execute ``cell`` in the user namespace; return the value of a final expression, if any.

    ``number`` is the cell's execution count, so tracebacks read ``Cell In[number]``.
    """
    __tracebackhide__ = True  # IPython hides this frame from the user's traceback
    source = shell.transform_cell(cell)
    filename = shell.compile.cache(source, number)
    tree = ast.parse(source, filename=filename)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body = tree.body[:-1]
    namespace = shell.user_ns
    if tree.body:
        exec(compile(tree, filename, "exec"), shell.user_global_ns, namespace)
    if last is not None:
        expression = ast.Expression(last.value)
        return eval(compile(expression, filename, "eval"), shell.user_global_ns, namespace)
    return None


def names_assigned(source: str) -> list[str]:
    """Top-level names the code binds, in order of first binding (assignments, loops, imports, ...)."""
    seen: dict[str, None] = {}
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            seen.setdefault(node.id, None)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                seen.setdefault((alias.asname or alias.name).split(".")[0], None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            seen.setdefault(node.name, None)
    return list(seen)


def names_used(source: str) -> list[str]:
    """Names the code reads from its own scope, in order of first use (a function's parameters and
    locals are the function's: ``def f(c): return c`` reads no ``c``)."""
    seen: dict[str, None] = {}

    def visit(node: ast.AST, local: frozenset[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            for outer in [*getattr(node, "decorator_list", []), *args.defaults, *(d for d in args.kw_defaults if d is not None)]:
                visit(outer, local)  # evaluated where the function is defined
            params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a is not None}
            body = node.body if isinstance(node.body, list) else [node.body]
            assigned = {n.id for part in body for n in ast.walk(part) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            for part in body:
                visit(part, local | params | assigned)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            seen.setdefault(node.id, None)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(_parse(source), frozenset())
    return list(seen)


def fit_arguments(source: str) -> list[tuple[str | None, str | None]]:
    """For each ``<...>.fit(X, y)`` call, the variable names of X and y (None where not a plain name)."""
    calls = []
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("fit", "fit_transform", "fit_predict"):
            args = list(node.args[:2])
            keywords = {k.arg: k.value for k in node.keywords}
            x = args[0] if args else keywords.get("X")
            y = args[1] if len(args) > 1 else keywords.get("y")
            calls.append(tuple(n.id if isinstance(n, ast.Name) else None for n in (x, y)))
    return calls


def fit_receivers(source: str) -> list[str]:
    """Names whose ``fit`` method the code calls (``model.fit(X, y)``), in order."""
    seen: dict[str, None] = {}
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("fit"):
            if isinstance(node.func.value, ast.Name):
                seen.setdefault(node.func.value.id, None)
    return list(seen)


def _parse(source: str) -> ast.AST:
    try:
        return ast.parse(source)
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])
