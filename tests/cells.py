"""Whether a notebook cell failed, from the outputs it left (nbformat's): one rule for the tutorials run
by nbval (``notebooks/conftest.py``) and in JupyterLab and Notebook 7 (``tests/ui``).

A magic's user error is a ``UsageError`` printed to stderr, not an ``error`` output; a cell tagged
``raises-exception`` (with which JupyterLab's "Run All" goes on past it) must show an error.
"""

from __future__ import annotations

import re

USAGE_ERROR = re.compile(r"^UsageError: .*$", re.MULTILINE)
PRINTED_ERROR = re.compile(r"^(?:Traceback \(most recent call last\):|\w*Error: .*)$", re.MULTILINE)  # on stderr, by code that caught it


def cell_failure(outputs, must_raise: bool) -> str | None:
    """Why a cell that ran with these outputs failed, or None when it did not."""
    stderr = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")
    usage_errors = USAGE_ERROR.findall(stderr)
    if usage_errors:
        return "a magic failed: " + " / ".join(usage_errors)
    raised = [o for o in outputs if o.get("output_type") == "error"]
    if must_raise and not raised:
        return "the cell is marked to raise (raises-exception, NBVAL_RAISES_EXCEPTION) but raised no exception"
    if raised and not must_raise:
        return f"it raised {raised[0].get('ename')}: {raised[0].get('evalue')}"
    printed = PRINTED_ERROR.findall(stderr)
    if printed:
        return "it printed an error on stderr: " + printed[0]
    return None
