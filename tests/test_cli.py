"""The command line: the tour (the README's main command) and ``runs``."""

from __future__ import annotations

import re
import subprocess
import sys


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlops_magic.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_tour_does_what_it_says(tmp_path):
    store = str(tmp_path / "store")
    tour = cli("--store", store, "tour", cwd=tmp_path)
    assert tour.returncode == 0, tour.stderr
    out = tour.stdout
    assert out.count("  trained ") == 3 and "done in" in out
    runs = cli("--store", store, "runs", "-e", "wine", cwd=tmp_path)
    assert runs.returncode == 0 and len(runs.stdout.strip().splitlines()) == 1 + 3  # header and the three runs
    assert re.search(r"promoted wine-tour v1 .*production", out)
    assert re.search(r"champion/challenger gate, as it should: promotion of run \w+ to wine-tour@production refused", out)
    served = re.search(r"serving wine-tour\b.* at (http://127\.0\.0\.1:\d+)", out)
    assert served and re.search(r"POST /invocations \(3 rows\) -> predictions \[\d+, \d+, \d+\]", out)
    assert re.search(r"ALERT \[threshold\] .*accuracy", out) and re.search(r"ALERT \[drift\]", out)
    logged = int(re.search(r"Deployment wine-tour stopped .*; (\d+) predictions logged", out).group(1))
    assert logged == 3 + 400  # the three-row call and the 400-row stream, every one stored
    deployments = cli("--store", store, "deployments", cwd=tmp_path)
    assert "wine-tour stopped" in deployments.stdout


def test_bad_where_exits_non_zero_with_one_line(tmp_path):
    result = cli("--store", str(tmp_path / "s"), "runs", "--where", "accuracy >", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot be applied" in result.stderr
