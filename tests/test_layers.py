"""The layering holds: faces -> api -> capabilities -> store, widgets and plots as leaves, a light serving process.

The contracts live in pyproject.toml ([tool.importlinter]); this runs them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    result = subprocess.run([shutil.which("lint-imports") or "lint-imports", "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
