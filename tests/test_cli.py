"""The command line: ``runs`` (the tour is tested in test_maturity.py)."""

from __future__ import annotations

import subprocess
import sys


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlops_magic.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_bad_where_exits_non_zero_with_one_line(tmp_path):
    result = cli("--store", str(tmp_path / "s"), "runs", "--where", "accuracy >", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot be applied" in result.stderr
