"""Monitoring windows: the last N answered predictions (``"200"``) or a span of time (``"30min"``, ``"1h"``, ``"1d"``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInputError

DEFAULT_WINDOW = "200"  # the last 200 answered predictions: the window of the magics, the CLI and the API
UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Window:
    """Either ``count`` predictions or ``seconds`` of time; ``text`` is how the user wrote it."""

    text: str
    count: int | None = None
    seconds: float | None = None


def parse_window(text: str | int) -> Window:
    """``200`` → the last 200 answered predictions (shadow rows go with the rows they shadow); ``"1h"`` → one hour (units: s, min or m, h, d)."""
    spec = str(text).strip().lower()
    if spec.isdigit() and int(spec) > 0:
        return Window(spec, count=int(spec))
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", spec)
    if match and match.group(2) in UNITS and float(match.group(1)) > 0:
        return Window(spec, seconds=float(match.group(1)) * UNITS[match.group(2)])
    raise InvalidInputError(
        f"window {text!r} is not understood: give a number of predictions (200) or a duration (90s, 30min, 1h, 1d)."
    )
