"""The flags of a policy, one list for ``%mlops_policy`` and ``mlops-magic monitor policy``: the same names
as ``mm.set_policy``'s keywords. Kept free of heavy imports (the magics load it)."""

from __future__ import annotations

from typing import Any

from ..metrics.flags import joined
from ..monitoring.windows import DEFAULT_WINDOW

DEFAULT_COOLDOWN = "10min"  # no new retraining within this time of the last one

POLICY_FLAGS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--metric",), {"default": None, "help": "metric to watch: accuracy, f1_macro, roc_auc, rmse, error_rate, latency_p95, ..."}),
    (("--drift",), {"action": "store_true", "help": "trigger on data drift of the newest window instead of a metric threshold"}),
    (("--min",), {"dest": "min_value", "type": float, "default": None, "help": "fire when the metric falls below this"}),
    (("--max",), {"dest": "max_value", "type": float, "default": None, "help": "fire when the metric rises above this"}),
    (("--window",), {"default": DEFAULT_WINDOW, "help": f"a number of answered predictions ({DEFAULT_WINDOW}) or a duration (1h)"}),
    (("--retrain",), {"action": "store_true", "help": "retrain on the training data plus the labelled production rows when it fires"}),
    (("--gate",), {"nargs": "+", "default": None, "help": 'conditions the retrained model must pass on the held-out window, e.g. "accuracy >= 0.88"'}),
    (("--min-improvement",), {"type": float, "default": 0.0, "help": "absolute margin over the champion on the held-out window (default 0)"}),
    (("--cooldown",), {"default": DEFAULT_COOLDOWN, "help": f"no new job within this time of the last one (default {DEFAULT_COOLDOWN})"}),
    (("--min-labelled",), {"type": int, "default": 0, "help": "labelled predictions the window needs before the policy may fire"}),
    (("--alias",), {"default": None, "help": "alias a retrained version is promoted to (default production)"}),
    (("--production-rows",), {"default": "all", "help": "labelled production rows to train on: all, recent:N or none (the newest window is always held out)"}),
    (("--slice",), {"nargs": "+", "default": None, "help": "watch only the rows whose logged inputs match this pandas query, e.g. \"region == 'north'\""}),
]


def add_policy_flags(add_argument) -> None:
    """Declare the flags with ``add_argument`` (argparse's, or IPython's ``argument`` decorator)."""
    for names, options in POLICY_FLAGS:
        add_argument(*names, **options)


def policy_arguments(args) -> tuple[str, dict[str, Any]]:
    """The metric (``"drift"`` with ``--drift``) and the keywords of ``set_policy`` from parsed flags."""
    from ..errors import InvalidInputError

    if bool(args.metric) == bool(args.drift):
        raise InvalidInputError("a policy watches a metric or drift: give --metric METRIC with --min/--max, or --drift.")
    gate = " ".join(args.gate).strip().strip("'\"") if args.gate else None
    keywords = {
        "min_value": args.min_value,
        "max_value": args.max_value,
        "window": args.window,
        "retrain": args.retrain,
        "gate": gate,
        "min_improvement": args.min_improvement,
        "cooldown": args.cooldown,
        "min_labelled": args.min_labelled,
        "alias": args.alias,
        "production_rows": args.production_rows,
        "slice": joined(args.slice),
    }
    return ("drift" if args.drift else args.metric), keywords
