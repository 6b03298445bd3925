"""A policy's actions, checked where they are set: the trigger, the gate, the margin, the cool-down.

A policy with ``retrain`` fires when its window crosses the threshold (or, with the drift trigger,
when the newest window drifts), that window holds at least ``min_labelled`` labelled predictions,
and no retraining job of the model ran within ``cooldown_s``. The retrained challenger is promoted
to ``alias`` only if it passes ``gate`` and beats the champion by ``min_improvement`` (absolute, in
the metric's direction) on the held-out window: MLflow's ``MetricThreshold`` semantics.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from .. import html as h
from ..errors import InvalidInputError
from ..monitoring.windows import UNITS
from ..registry import parse_conditions
from ..store.monitoring import Policy

DRIFT = "drift"  # the metric name of a drift trigger: mm.set_policy(name, "drift", retrain=True)
DEFAULT_ALIAS = "production"


def parse_duration(text: str | int | float, what: str = "--cooldown") -> float:
    """Seconds from ``600``, ``"90s"``, ``"10min"``, ``"1h"`` (units: s, min or m, h, d)."""
    spec = str(text).strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", spec)
    if match is None or (match.group(2) and match.group(2) not in UNITS):
        raise InvalidInputError(f"{what} {text!r} is not a duration: write e.g. 90s, 10min or 1h.")
    return float(match.group(1)) * UNITS.get(match.group(2) or "s", 1)


def parse_production_rows(text: str) -> str:
    """``all``, ``none`` or ``recent:N``: which labelled production rows a retraining adds."""
    spec = str(text).strip().lower()
    if spec in ("all", "none") or (re.fullmatch(r"recent:\d+", spec) and int(spec[7:]) > 0):
        return spec
    raise InvalidInputError(f"production_rows {text!r} is not understood: use all, none or recent:N (e.g. recent:500).")


def action_fields(
    metric: str,
    retrain: bool,
    gate: str | None,
    min_improvement: float,
    cooldown: str | int | float,
    min_labelled: int,
    alias: str | None,
    production_rows: str,
) -> dict[str, Any]:
    """The action columns of a policy, each checked (a bad value is one line naming the fix)."""
    if gate:
        parse_conditions([gate])
    if min_labelled < 0:
        raise InvalidInputError(f"min_labelled={min_labelled}: give 0 or more labelled predictions.")
    if min_improvement < 0:
        raise InvalidInputError(f"min_improvement={min_improvement}: the margin over the champion is 0 or more (absolute).")
    if alias is not None and not re.fullmatch(r"[A-Za-z][\w\-]*", alias):
        raise InvalidInputError(f"alias {alias!r} is not valid: use letters, digits, '_' or '-', e.g. production.")
    if not retrain and (gate or alias):
        raise InvalidInputError("a gate or an alias applies to a retrained model: add --retrain (retrain=True).")
    return {
        "trigger": DRIFT if metric == DRIFT else "threshold",
        "retrain": bool(retrain),
        "gate": gate or None,
        "min_improvement": float(min_improvement),
        "cooldown_s": parse_duration(cooldown),
        "min_labelled": int(min_labelled),
        "alias": alias,
        "production_rows": parse_production_rows(production_rows),
    }


def describe(policy: Policy) -> str:
    """One line: what crosses, over which window, and what the loop then does."""
    if policy.trigger == DRIFT:
        when = f"data drift in the newest window of {policy.window}"
    else:
        bounds = " and ".join(f"{n} {b:g}" for n, b in (("min", policy.min_value), ("max", policy.max_value)) if b is not None)
        when = f"{policy.metric} ({bounds}) over windows of {policy.window}"
    if not policy.retrain:
        return f"policy on {policy.model}: alert on {when}"
    gate = f"gate {policy.gate}" if policy.gate else "no gate"
    return (
        f"policy on {policy.model}: on {when}, with {policy.min_labelled}+ labelled predictions, retrain "
        f"(production rows: {policy.production_rows}; the newest window held out), promote to "
        f"{policy.alias or DEFAULT_ALIAS} past {gate} and a margin of {policy.min_improvement:g} over the champion; "
        f"cool-down {policy.cooldown_s:g} s"
    )


class PolicyCard:
    """A stored policy as the notebook shows it: ``.policy`` is the ``Policy``."""

    def __init__(self, policy: Policy):
        self.policy = policy

    def __repr__(self) -> str:
        return f"<Policy {self.policy.policy_id}: {describe(self.policy)}>"

    def _repr_html_(self) -> str:
        fields = {k: v for k, v in asdict(self.policy).items() if k not in ("model", "created_at")}
        rows = [[k, h.escape("–" if v is None else v)] for k, v in fields.items()]
        return f"<p><b>Policy</b>: {h.escape(describe(self.policy))}</p>" + h.table(["", ""], rows, raw=True)
