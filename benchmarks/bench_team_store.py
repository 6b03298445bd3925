"""The team store: ``mm.runs()`` over 10,000 runs on PostgreSQL against SQLite (the baseline, same runs, same run).

    python benchmarks/bench_team_store.py [--runs 10000] [--writes 300] [--postgresql URL]

Without ``--postgresql`` a throw-away PostgreSQL server is started on 127.0.0.1 (Debian's binaries,
as the tests do; durable settings: fsync and synchronous commits on). Each store gets the same
``--runs`` runs of 10 params and 5 metrics; then ``mm.runs(sort=metric)`` is timed (median of 5),
and so are opening an up-to-date store and writing whole runs one transaction each (as a kernel
does). Prints each figure and PostgreSQL's ratio to SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.postgres_support starts the server


def fill(url: str, n_runs: int) -> None:
    from mlops_magic.store import Store, schema

    store = Store(url)
    with store.db.writing() as conn:
        experiment = conn.execute(schema.experiments.insert().values(name="big", created_at=time.time())).inserted_primary_key[0]
        ids = [uuid.uuid4().hex for _ in range(n_runs)]
        conn.execute(schema.runs.insert(), [
            {"run_id": r, "experiment_id": experiment, "name": f"run-{i}", "status": "finished", "start_time": time.time() + i, "duration_s": 1.0}
            for i, r in enumerate(ids)
        ])  # fmt: skip
        conn.execute(schema.params.insert(), [{"run_id": r, "key": f"param_{k}", "value": str(i % 7 + k)} for i, r in enumerate(ids) for k in range(10)])
        conn.execute(schema.metrics.insert(), [{"run_id": r, "key": f"metric_{k}", "value": (i * 7919 % 1000) / 1000 + k} for i, r in enumerate(ids) for k in range(5)])
    store.close()


def measure(url: str, n_runs: int, n_writes: int) -> dict[str, float]:
    """Milliseconds: ``mm.runs()`` (median of 5, after one warm-up), opening the store, one whole run written."""
    from mlops_magic import api
    from mlops_magic.store import Run, Store

    fill(url, n_runs)
    api.set_store(url)
    api.runs("big", sort="metric_0")  # the connection pool and the first imports
    times = []
    for _ in range(5):
        started = time.perf_counter()
        frame = api.runs("big", sort="metric_0")
        times.append(time.perf_counter() - started)
    assert len(frame) == n_runs and frame["metrics.metric_0"].is_monotonic_decreasing
    opens = []
    for _ in range(5):
        started = time.perf_counter()
        Store(url).close()
        opens.append(time.perf_counter() - started)
    store = Store(url)
    started = time.perf_counter()
    for i in range(n_writes):
        run = Run(uuid.uuid4().hex, "writes", f"w{i}", "finished", time.time(), params={f"p{k}": str(k) for k in range(10)}, metrics={f"m{k}": k / 10 for k in range(5)})
        store.write_run(run)
    per_write = (time.perf_counter() - started) / n_writes
    store.close()
    return {"runs_ms": statistics.median(times) * 1000, "open_ms": statistics.median(opens) * 1000, "write_run_ms": per_write * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=300, help="whole runs written one transaction each")
    parser.add_argument("--postgresql", default=None, help="an empty PostgreSQL database to use (default: start a server)")
    args = parser.parse_args()

    sqlite = measure(tempfile.mkdtemp(prefix="bench-team-"), args.runs, args.writes)
    server = None
    if args.postgresql:
        url = args.postgresql
    else:
        from tests.postgres_support import PostgresServer

        server = PostgresServer.start(durable=True)
        url = server.url(server.new_database())
    try:
        postgresql = measure(url, args.runs, args.writes)
    finally:
        if server is not None:
            server.stop()
    print(f"{args.runs:,} runs x 10 params x 5 metrics; {args.writes} whole runs written one transaction each")
    print(f"  {'':28s} {'SQLite':>9s} {'PostgreSQL':>11s} {'ratio':>7s}")
    for key, label in (("runs_ms", "mm.runs(sort=metric) ms"), ("open_ms", "open an up-to-date store ms"), ("write_run_ms", "write one run ms")):
        print(f"  {label:28s} {sqlite[key]:9.1f} {postgresql[key]:11.1f} {postgresql[key] / sqlite[key]:6.2f}x")


if __name__ == "__main__":
    main()
