"""The serving process fuzzed from its own OpenAPI document with schemathesis, every check on.

No request gets a 5xx; every error answer is the declared JSON (``error``, ``status``); every status
code and content type answered is declared; schema-valid bodies are accepted and schema-violating
ones refused; the stateful phase follows the declared link from ``/invocations`` to ``/feedback``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from mlops_magic import api

from .serving_support import logistic, train

EXAMPLES_PER_OPERATION = 25
ROOT = Path(__file__).resolve().parents[1]


def test_schemathesis_finds_nothing_in_the_serving_process(store, tmp_path):
    run, _ = train(logistic())
    api.promote(run.run_id, name="wine", alias="production")
    status = api.serve("wine@production", workers=2)
    report = tmp_path / "schemathesis.json"
    try:
        fuzz = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{status.url}/openapi.json", "--checks", "all", "--max-examples", str(EXAMPLES_PER_OPERATION),
             "--seed", "12", "--report-json-path", str(report), "--no-color"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks"}, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert fuzz.returncode == 0, fuzz.stdout[-6000:] + fuzz.stderr[-2000:]
        summary = json.loads(report.read_text())
        generated = summary["test_cases"]["generated"]
        print(f"schemathesis: {generated} requests over {summary['operations']['tested']} operations, phases {summary['phases']}")
        assert summary["operations"]["tested"] == 18 and generated > 18 * EXAMPLES_PER_OPERATION
        assert all(phase["status"] == "success" for phase in summary["phases"].values() if phase["status"] != "skip")
        with requests.Session() as session:  # still serving, and the paths it does not serve answer JSON too
            assert session.get(f"{status.url}/ready").json()["ready"] is True
            assert session.delete(f"{status.url}/invocations").json() == {
                "error": "Method Not Allowed: see /docs for the paths and methods served.",
                "status": 405,
            }
            assert session.get(f"{status.url}/nope").json()["status"] == 404
    finally:
        api.stop("wine")
    assert len(api.predictions("wine")) > 0  # the accepted bodies were scored and logged
