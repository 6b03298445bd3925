"""Eight processes write one SQLite store at once (``benchmarks/bench_writers.py``, short): nothing lost,
no "database is locked" reaching anyone, version numbers 1..N, a sound database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_writers.py"


def test_eight_writers_lose_nothing_and_never_show_a_locked_database():
    done = subprocess.run([sys.executable, str(BENCH), "--seconds", "10", "--json", "--no-baseline"], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["tracked"] > 0 and figures["answered"] > 0 and figures["labelled"] > 0 and figures["promotions"] > 0 and figures["jobs"]
    assert figures["lost_runs"] == figures["lost_predictions"] == figures["duplicate_predictions"] == figures["lost_labels"] == figures["lost_versions"] == 0
    assert figures["versions_are_1_to_n"] and figures["refused_requests"] == 0 and figures["locked_messages"] == 0
    assert figures["integrity"] == "ok" and all(status in ("promoted", "refused") for status in figures["jobs"])
