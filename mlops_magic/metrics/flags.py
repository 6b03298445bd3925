"""The flags of a metric definition, one list for ``%mlops_metric`` and ``mlops-magic metric``, named as
``mm.define_metric``'s keywords. Kept free of heavy imports (the magics load it)."""

from __future__ import annotations

import json
from typing import Any

METRIC_FLAGS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--sklearn",), {"default": None, "metavar": "NAME", "help": "a scikit-learn metric: recall, f1, roc_auc, mean_absolute_error, a scorer name, ..."}),
    (("--pos-label",), {"default": None, "help": "the positive class of a scikit-learn metric (pos_label)"}),
    (("--average",), {"default": None, "help": "the average of a scikit-learn metric: binary, macro, micro, weighted"}),
    (("--option",), {"action": "append", "default": None, "metavar": "KEY=VALUE", "help": "another option of the scikit-learn metric, e.g. beta=2 (repeatable)"}),
    (("--cost-matrix",), {"nargs": "+", "default": None, "help": 'cost per row, rows the true class and columns the answer: "[[0, 1], [50, 0]]" (lower is better)'}),
    (("--gain-matrix",), {"nargs": "+", "default": None, "help": "gain per row, laid out as --cost-matrix (higher is better)"}),
    (("--function",), {"default": None, "metavar": "FILE.py:NAME", "help": "a function of (y_true, y_pred[, y_proba][, X]) in a Python file (in a notebook: @mm.metric)"}),
    (("--labels",), {"default": None, "help": "the classes of the matrix rows, e.g. 0,1 or '[\"no\", \"yes\"]' (default 0..k-1)"}),
    (("--better",), {"default": None, "choices": ["higher", "lower"], "help": "which way is better (default: the metric's own, lower for a cost)"}),
    (("--drop",), {"action": "store_true", "help": "remove the definition (values already recorded stay)"}),
]


def add_metric_flags(add_argument) -> None:
    """Declare the flags with ``add_argument`` (argparse's, or IPython's ``argument`` decorator)."""
    for names, options in METRIC_FLAGS:
        add_argument(*names, **options)


def value(text: str) -> Any:
    """A flag's value as JSON where it parses (``1``, ``true``, ``[0, 1]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def joined(words: list[str] | None) -> str | None:
    """The words of an ``nargs="+"`` flag as one text, one pair of surrounding quotes dropped (IPython keeps them)."""
    if not words:
        return None
    text = " ".join(words).strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def metric_arguments(args) -> dict[str, Any]:
    """The keywords of ``define_metric`` from parsed flags."""
    from ..errors import InvalidInputError

    options = {}
    for pair in args.option or []:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--option {pair!r} is not KEY=VALUE: write e.g. --option beta=2.")
        options[key] = value(text)
    if args.pos_label is not None:
        options["pos_label"] = value(args.pos_label)
    if args.average is not None:
        options["average"] = args.average
    matrices = {}
    for key, words in (("cost_matrix", args.cost_matrix), ("gain_matrix", args.gain_matrix)):
        text = joined(words)
        if text is not None:
            matrices[key] = value(text)
            if not isinstance(matrices[key], list):
                raise InvalidInputError(f"--{key.replace('_', '-')} {text!r} is not a JSON matrix: write e.g. \"[[0, 1], [50, 0]]\".")
    labels = None
    if args.labels is not None:
        parsed = value(args.labels.strip("'\""))
        labels = parsed if isinstance(parsed, list) else [value(v.strip()) for v in str(args.labels).strip("'\"").split(",")]
    return {"sklearn": args.sklearn, "options": options or None, **matrices, "labels": labels, "function": function_in(args.function), "better": args.better}


def function_in(spec: str | None):
    """The function ``NAME`` that the Python file ``FILE.py`` defines (the file is run to find it)."""
    from ..errors import InvalidInputError

    if spec is None:
        return None
    path, sep, name = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise InvalidInputError(f"--function {spec!r} is not FILE.py:NAME: write e.g. --function metrics.py:fraud_cost.")
    import runpy

    try:
        namespace = runpy.run_path(path)
    except (OSError, SyntaxError) as exc:
        raise InvalidInputError(f"--function {spec!r}: {path} cannot be read ({type(exc).__name__}: {exc}).") from None
    if name not in namespace:
        raise InvalidInputError(f"--function {spec!r}: {path} defines no {name!r}.")
    return namespace[name]
