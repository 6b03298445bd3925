"""The command line: the tour (the README's main command) and ``runs``."""

from __future__ import annotations

import subprocess
import sys


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlops_magic.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_tour_runs_end_to_end_and_runs_lists_its_runs(tmp_path):
    store = str(tmp_path / "store")
    tour = cli("--store", store, "tour", cwd=tmp_path)
    assert tour.returncode == 0, tour.stderr
    assert "Train: track experiments" in tour.stdout and "done in" in tour.stdout
    runs = cli("--store", store, "runs", "-e", "wine", "--sort", "accuracy", "--limit", "1", cwd=tmp_path)
    assert runs.returncode == 0, runs.stderr
    assert len(runs.stdout.strip().splitlines()) == 2  # header and the best run


def test_bad_where_exits_non_zero_with_one_line(tmp_path):
    result = cli("--store", str(tmp_path / "s"), "runs", "--where", "accuracy >", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot be applied" in result.stderr
