"""Drift of 20 numeric + 5 categorical columns, 100,000 reference rows against 100,000 current rows:
``mm.drift`` against Evidently's data-drift report on the same frames, in the same run.

Evidently 0.7 needs pandas < 3, so it runs in its own virtual environment; give its Python with
``--evidently-python`` (or ``EVIDENTLY_PYTHON``), e.g. after
``python -m venv /tmp/ev && /tmp/ev/bin/pip install "pandas<3" evidently``. Both sides build the
frames from the same seed and print a checksum of them, so the data is the same.

    python benchmarks/bench_drift.py --evidently-python /tmp/ev/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROWS = 100_000
NUMERIC, CATEGORICAL = 20, 5
REPEATS = 3


def frames(rows: int = ROWS, seed: int = 0):
    """Reference and current frames; the current one has 3 numeric and 1 categorical column shifted."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def build(shifted: bool):
        data = {f"num{i}": rng.normal(0.3 if shifted and i < 3 else 0.0, 1.0, rows) for i in range(NUMERIC)}
        for i in range(CATEGORICAL):
            weights = [0.4, 0.3, 0.2, 0.1] if not (shifted and i == 0) else [0.25, 0.25, 0.25, 0.25]
            data[f"cat{i}"] = rng.choice(["a", "b", "c", "d"], size=rows, p=weights)
        return pd.DataFrame(data)

    return build(False), build(True)


def checksum(reference, current) -> str:
    import pandas as pd

    return str(int(pd.util.hash_pandas_object(reference, index=False).sum() ^ pd.util.hash_pandas_object(current, index=False).sum()))


def timed(function, repeats: int = REPEATS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run_evidently() -> dict:
    """Evidently's DataDriftPreset on the frames (run inside the Evidently environment)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current = frames()
    seconds, snapshot = timed(lambda: Report([DataDriftPreset()]).run(current_data=current, reference_data=reference))
    result = snapshot.dict()
    drifted = next(m["value"] for m in result["metrics"] if m["metric_name"].startswith("DriftedColumnsCount"))
    return {"seconds": seconds, "checksum": checksum(reference, current), "drifted_columns": int(drifted["count"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evidently-python", default=os.environ.get("EVIDENTLY_PYTHON"))
    parser.add_argument("--evidently", action="store_true", help=argparse.SUPPRESS)  # inner mode
    args = parser.parse_args()
    if args.evidently:
        print(json.dumps(run_evidently()))
        return 0

    import mlops_magic as mm

    reference, current = frames()
    mm.drift(reference.iloc[:1000], current.iloc[:1000])  # imports and first-call costs out of the timing
    seconds, report = timed(lambda: mm.drift(reference, current))
    print(f"mlops_magic drift: {NUMERIC}+{CATEGORICAL} columns, {ROWS:,} vs {ROWS:,} rows: {seconds:.3f} s (median of {REPEATS})")
    print(f"  drifted columns: {', '.join(report.drifted_columns)}  (expected num0, num1, num2, cat0)")
    print(f"  under 1 s: {'yes' if seconds < 1 else 'NO'}")
    if not args.evidently_python:
        print("Evidently: skipped (give --evidently-python, see the docstring)")
        return 0
    inner = subprocess.run([args.evidently_python, __file__, "--evidently"], capture_output=True, text=True, check=True)
    evidently = json.loads(inner.stdout.strip().splitlines()[-1])
    same = evidently["checksum"] == checksum(reference, current)
    print(f"Evidently DataDriftPreset: {evidently['seconds']:.3f} s (median of {REPEATS}), drifted columns: {evidently['drifted_columns']}")
    print(f"  same frames: {'yes' if same else 'NO'}")
    print(f"ratio: mlops_magic is {evidently['seconds'] / seconds:.1f}x faster than Evidently")
    return 0


if __name__ == "__main__":
    sys.exit(main())
