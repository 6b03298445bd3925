"""mlops_magic: the MLOps life-cycle (track, deploy, monitor) inside Jupyter.

``%load_ext mlops_magic`` registers the magics; ``import mlops_magic as mm`` gives the same
operations as functions. Attributes are imported on first use, so loading the extension stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public API names, served lazily from ``mlops_magic.api``.
_API = {
    "set_store",
    "get_store",
    "run",
    "log_metric",
    "log_param",
    "set_tag",
    "runs",
    "get_run",
    "load_model",
    "compare",
    "replay",
    "monitor",
    "drift",
    "drift_sketch",
    "set_retention",
    "check_data",
    "set_policy",
    "retrain",
    "watch",
    "alerts",
    "backtest",
    "check_policies",
    "promote",
    "models",
    "serve",
    "stop",
    "deployments",
    "served",
    "predictions",
    "lineage",
    "add_webhook",
    "webhooks",
    "deliver_webhooks",
    "maturity",
    "answer_maturity",
    "ci_init",
    "metric",
    "define_metric",
    "defined_metrics",
    "drop_metric",
}


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module("mlops_magic.api"), name)
    raise AttributeError(f"module 'mlops_magic' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])


def load_ipython_extension(ipython):
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython):
    from .magics import unregister

    unregister(ipython)
