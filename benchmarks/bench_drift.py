"""Drift of 20 numeric + 5 categorical columns, 100,000 reference rows against 100,000 current rows:
``mm.drift`` against Evidently's data-drift report on the same frames, in the same run; and at
scale (``--scale``), 10,000,000 rows against 10,000,000: the reference as a stored sketch, the
current data streamed from parquet in chunks, with time, peak memory, the time of the stream as it
read parquet before (pyarrow's decoding threads, pandas frames, text as strings) in the same run,
and the deviation from the exact statistics (``mm.drift`` on two DataFrames, and per column at
10,000,000 rows).

Evidently 0.7 needs pandas < 3, so it runs in its own virtual environment; give its Python with
``--evidently-python`` (or ``EVIDENTLY_PYTHON``), e.g. after
``python -m venv /tmp/ev && /tmp/ev/bin/pip install "pandas<3" evidently``. Both sides build the
frames from the same seed and print a checksum of them, so the data is the same.

    python benchmarks/bench_drift.py --evidently-python /tmp/ev/bin/python
    python benchmarks/bench_drift.py --scale [--rows 10000000] [--folder /tmp/drift-data] [--no-whole-columns]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 100_000
NUMERIC, CATEGORICAL = 20, 5
REPEATS = 3


def frames(rows: int = ROWS, seed: int = 0):
    """Reference and current frames; the current one has 3 numeric and 1 categorical column shifted."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return build(rng, rows, False), build(rng, rows, True)


def build(rng, rows: int, shifted: bool):
    """One frame; shifted: num0-num2 moved by 0.3 standard deviations, cat0 made uniform."""
    import pandas as pd

    data = {f"num{i}": rng.normal(0.3 if shifted and i < 3 else 0.0, 1.0, rows) for i in range(NUMERIC)}
    for i in range(CATEGORICAL):
        weights = [0.4, 0.3, 0.2, 0.1] if not (shifted and i == 0) else [0.25, 0.25, 0.25, 0.25]
        data[f"cat{i}"] = rng.choice(["a", "b", "c", "d"], size=rows, p=weights)
    return pd.DataFrame(data)


CHUNK = 500_000


def write_parquet(folder: Path, rows: int) -> tuple[Path, Path]:
    """reference.parquet and current.parquet of ``rows`` rows each, written chunk by chunk (row groups of ``CHUNK``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = folder / "reference.parquet", folder / "current.parquet"
    if all(p.exists() and pq.ParquetFile(p).metadata.num_rows == rows for p in paths):
        return paths
    for seed, (path, shifted) in enumerate(zip(paths, (False, True))):
        rng = np.random.default_rng(seed)
        writer = None
        for start in range(0, rows, CHUNK):
            table = pa.Table.from_pandas(build(rng, min(CHUNK, rows - start), shifted), preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        writer.close()
    return paths


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(name: str, folder: Path) -> dict:
    """One measured step, in its own process (so its peak memory is its own)."""
    import scipy.spatial.distance  # noqa: F401  imports out of the timing, as in a kernel that has computed anything
    import scipy.stats  # noqa: F401

    import mlops_magic as mm
    from mlops_magic.monitoring.sketch import DriftSketch

    reference, current = folder / "reference.parquet", folder / "current.parquet"
    base = peak_mib()
    started = time.perf_counter()
    if name == "sketch":
        mm.drift_sketch(reference).save(folder / "reference.sketch.json")
        found = {"size_kib": (folder / "reference.sketch.json").stat().st_size / 1024}
    elif name == "drift":
        report = mm.drift(DriftSketch.load(folder / "reference.sketch.json"), current)
        report.table.to_json(folder / "sketched.json", orient="records")
        found = {"drifted": report.drifted_columns}
    elif name == "drift-pandas":  # the baseline: the stream as it read parquet before (pyarrow's decoding threads, pandas frames, text as strings)
        import pandas as pd
        import pyarrow.parquet as pq

        chunks = lambda: (b.to_pandas(types_mapper=pd.ArrowDtype) for b in pq.ParquetFile(current, pre_buffer=False).iter_batches(batch_size=CHUNK))  # noqa: E731
        report = mm.drift(DriftSketch.load(folder / "reference.sketch.json"), chunks)
        found = {"drifted": report.drifted_columns}
    else:  # exact on DataFrames of the first ``rows`` rows, and the sketch path on the same rows
        import pyarrow.parquet as pq

        rows = int(name.split(":")[1])
        ref, cur = (pq.ParquetFile(p).read_row_groups(range(max(1, rows // CHUNK))).to_pandas() for p in (reference, current))
        base = peak_mib()
        started = time.perf_counter()
        exact = mm.drift(ref, cur)
        exact_s = time.perf_counter() - started
        started = time.perf_counter()
        sketched = mm.drift(lambda: iter([ref]), lambda: (cur.iloc[i : i + CHUNK] for i in range(0, len(cur), CHUNK)))
        return {"exact_s": exact_s, "sketched_s": time.perf_counter() - started, "rows": len(ref),
                "deviation": deviation(exact.table, sketched.table), "same_verdicts": exact.drifted_columns == sketched.drifted_columns}  # fmt: skip
    return {"seconds": time.perf_counter() - started, "peak_mib": peak_mib(), "start_mib": base, **found}


def deviation(exact, sketched) -> dict:
    """The largest |sketched - exact| of each statistic over the columns (numeric and categorical apart)."""
    a, b = exact.set_index("column"), sketched.set_index("column").loc[exact["column"]]
    found = {}
    for kind in ("numeric", "categorical"):
        rows = a["kind"] == kind
        for figure in ("statistic", "psi", "js_distance"):
            found[f"{kind} {figure}"] = float((a.loc[rows, figure] - b.loc[rows, figure]).abs().max())
    return found


def exact_columns(folder: Path, columns: list[str]) -> dict:
    """The exact normalised Wasserstein distance of whole columns (read one at a time), against the sketched ones."""
    import numpy as np
    import pyarrow.parquet as pq

    from mlops_magic.monitoring.drift import wasserstein_sorted

    sketched = {r["column"]: r for r in json.loads((folder / "sketched.json").read_text())}
    worst, started = 0.0, time.perf_counter()
    for column in columns:
        ref, cur = (np.sort(pq.read_table(folder / f"{side}.parquet", columns=[column]).column(0).to_numpy()) for side in ("reference", "current"))
        exact = wasserstein_sorted(ref, cur) / float(np.std(ref))
        worst = max(worst, abs(exact - sketched[column]["statistic"]))
    return {"columns": len(columns), "worst": worst, "seconds": time.perf_counter() - started}


def in_child(args: list[str]) -> dict:
    inner = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if inner.returncode:
        raise SystemExit(inner.stderr)
    return json.loads(inner.stdout.strip().splitlines()[-1])


def scale(rows: int, folder: Path, keep: bool, whole_columns: bool = True) -> int:
    from mlops_magic.monitoring.sketch import WASSERSTEIN_TOLERANCE

    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_parquet(folder, rows)
    size = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20
    print(f"data: {NUMERIC}+{CATEGORICAL} columns, {rows:,} reference rows and {rows:,} current rows in parquet ({size:,.0f} MiB), "
          f"ready in {time.perf_counter() - started:.0f} s")  # fmt: skip
    sketch = in_child(["--phase", "sketch", "--folder", str(folder)])
    print(f"reference sketch (two passes over the parquet file, kept as JSON, {sketch['size_kib']:.0f} KiB): {sketch['seconds']:.1f} s, peak memory {sketch['peak_mib']:.0f} MiB ({load()})")
    drift = in_child(["--phase", "drift", "--folder", str(folder)])
    print(f"mm.drift(sketch, current.parquet): {drift['seconds']:.1f} s, peak memory {drift['peak_mib']:.0f} MiB (the process starts at {drift['start_mib']:.0f} MiB; {load()})")
    print(f"  drifted columns: {', '.join(drift['drifted'])}  (expected num0, num1, num2, cat0); under 20 s: {'yes' if drift['seconds'] < 20 else 'NO'}")
    frames_in = in_child(["--phase", "drift-pandas", "--folder", str(folder)])
    print(f"  baseline: the same file read as before (decoding threads, pandas frames) {frames_in['seconds']:.1f} s, peak memory {frames_in['peak_mib']:.0f} MiB "
          f"({frames_in['seconds'] / drift['seconds']:.2f}x the record batches' time; {load()}); same verdicts: {'yes' if frames_in['drifted'] == drift['drifted'] else 'NO'}")  # fmt: skip
    column_bytes = rows * (NUMERIC * 8 + CATEGORICAL * 8) / 2**20
    print(f"  the two frames alone would hold {2 * column_bytes:,.0f} MiB in memory (numbers and string pointers), before sorting copies")
    small = min(rows, 1_000_000)
    both = in_child(["--phase", f"exact:{small}", "--folder", str(folder)])
    print(f"baseline on the first {both['rows']:,} rows of each: exact mm.drift on two DataFrames {both['exact_s']:.2f} s, the sketch path {both['sketched_s']:.2f} s"
          f" ({both['exact_s'] / both['sketched_s']:.1f}x; {load()}); same verdicts: {'yes' if both['same_verdicts'] else 'NO'}")  # fmt: skip
    for figure, value in both["deviation"].items():
        print(f"  largest |sketch - exact| {figure:24s} {value:.2e}")
    if whole_columns:
        numeric = [f"num{i}" for i in range(NUMERIC)]
        whole = exact_columns(folder, numeric)
        print(f"at {rows:,} rows, the exact normalised Wasserstein distance of each of {whole['columns']} numeric columns (read one at a time, sorted, "
              f"{whole['seconds']:.0f} s): largest |sketch - exact| {whole['worst']:.2e} (tolerance {WASSERSTEIN_TOLERANCE:g})")  # fmt: skip
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


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
    parser.add_argument("--scale", action="store_true", help="10,000,000 vs 10,000,000 rows: sketch and stream")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows per side with --scale")
    parser.add_argument("--folder", default=None, help="where --scale writes its parquet files (kept, and reused, if given)")
    parser.add_argument("--no-whole-columns", action="store_true", help="with --scale, leave out the exact distance of each whole column (minutes)")
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)  # inner mode
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, Path(args.folder))))
        return 0
    if args.scale:
        folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="bench-drift-"))
        return scale(args.rows, folder, keep=args.folder is not None, whole_columns=not args.no_whole_columns)
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
