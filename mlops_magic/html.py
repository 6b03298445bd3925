"""Small HTML building blocks for every static view (tables, badges, deltas), escaped and styled inline.

Plain strings only (no ipywidgets), so a record of any layer can render itself for nbconvert and GitHub."""

from __future__ import annotations

import base64
import html
import numbers
from collections.abc import Iterable
from typing import Any

GOOD, BAD, MUTED, WARN = "#1a7f37", "#cf222e", "#6e7781", "#9a6700"
TABLE = "border-collapse:collapse;font-size:12px;line-height:1.3;margin:4px 0"
# Borders and backgrounds from JupyterLab's CSS variables (its light and dark themes), with fallbacks for GitHub and nbconvert.
CELL = "padding:1px 10px;border-bottom:1px solid var(--jp-border-color2, #d0d7de);text-align:left;vertical-align:top;white-space:nowrap"
NUMBER = CELL + ";text-align:right;font-variant-numeric:tabular-nums"


def escape(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any) -> str:
    """Numbers to 4 significant digits, missing values as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], raw: bool = False, wrap: Iterable[int] = ()) -> str:
    """An HTML table; cells are escaped unless ``raw`` (already HTML); numbers align right; columns in ``wrap`` wrap their text."""
    headers, wrapped = list(headers), set(wrap)
    styles = [CELL + (";white-space:normal;min-width:200px" if i in wrapped else "") for i in range(len(headers))]
    head = "".join(f'<th style="{CELL}">{escape(h)}</th>' for h in headers)

    def cell(i: int, value: Any) -> str:
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        return f'<td style="{NUMBER if number else styles[i]}">{value if raw else escape(fmt(value))}</td>'

    body = "".join("<tr>" + "".join(cell(i, value) for i, value in enumerate(row)) + "</tr>" for row in rows)
    return f'<div style="overflow-x:auto;max-width:100%"><table style="{TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def command(text: str) -> str:
    """``text`` as code that wraps between words only (never inside ``--retrain``)."""
    words = " ".join(f'<span style="white-space:nowrap">{escape(word)}</span>' for word in text.split(" "))
    return f"<code>{words}</code>"


def badge(text: str, colour: str) -> str:
    return f'<span style="background:{colour};color:white;border-radius:3px;padding:0 6px;font-size:11px">{escape(text)}</span>'


def delta(change: float | None, improved: bool | None) -> str:
    """An arrow and the signed change, green when better, red when worse."""
    if change is None:
        return f'<span style="color:{MUTED}">first</span>'
    if improved is None:
        return f'<span style="color:{MUTED}">= best</span>'
    arrow = "▲" if change > 0 else "▼"
    return f'<span style="color:{GOOD if improved else BAD}">{arrow} {change:+.4g}</span>'


def warnings_block(messages: list[str]) -> str:
    if not messages:
        return ""
    items = "".join(f"<li>{escape(m)}</li>" for m in messages)
    return f'<div style="color:{WARN};margin-top:4px"><b>⚠ warnings</b><ul style="margin:2px 0">{items}</ul></div>'


def code(text: str) -> str:
    """Preformatted text; a long line wraps at a space (JupyterLab's outputs would break it inside a word)."""
    style = "font-size:11px;background:var(--jp-layout-color2, #f6f8fa);color:inherit;padding:6px;margin:2px 0;overflow:auto;word-break:normal"
    return f'<pre style="{style}">{escape(text)}</pre>'


def png_img(png: bytes, alt: str = "chart") -> str:
    """A PNG embedded as an ``<img>`` (static HTML carries its charts with it)."""
    return f'<img alt="{escape(alt)}" style="max-width:100%;height:auto" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'
