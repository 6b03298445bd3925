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


def parse_retention(keep: str | int | None) -> Window | None:
    """A retention setting: ``"30d"`` (raw rows younger than that kept), ``1000000`` (the newest
    rows kept), or None / ``"all"`` (everything kept)."""
    if keep is None or str(keep).strip().lower() in ("all", "none", ""):
        return None
    try:
        return parse_window(keep)
    except InvalidInputError:
        raise InvalidInputError(f"--keep {keep!r} is not understood: give a duration (30d, 12h) or a number of predictions (1000000), or all.") from None


def retention_line(setting: dict) -> str:
    """One line saying what a retention setting keeps and what it deleted now."""
    kept = f"keeps the raw predictions of the last {setting['keep']}" if setting["keep"] and not setting["keep"].isdigit() else (
        f"keeps its newest {int(setting['keep']):,} raw predictions" if setting["keep"] else "keeps every raw prediction"
    )
    return f"{setting['model']} {kept}: {setting['deleted']:,} older rows deleted now (the per-minute aggregates stay)."
