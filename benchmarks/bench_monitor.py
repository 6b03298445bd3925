"""``%mlops_monitor`` on stores holding 1,000,000 and 10,000,000 logged predictions with feedback.

Builds one store per size (a wine classifier; predictions logged through ``store.log_predictions``
in batches, as the serving process's writer does, each with the answered class's confidence and
its label already known, so the build needs no second pass; a request record per 10), then per
size times:

- the dashboard over count windows (``--window 1000``, 50 windows: ``mm.monitor`` plus the widget
  and its static HTML), a first call (model load) and warm calls; the baseline is the windows'
  grouped query as it was, ranked in SQL (``ROW_NUMBER()`` over the newest 50,000 rows ordered by
  time and id), measured in the same run, and the two results are checked equal;
- ``--window 1h`` (50 windows: every row of the store is in range), ending at the next whole minute
  as the monitor ends them, summed from the per-minute aggregates; the baseline is the path before
  them, the same grouped query over every row in range (``GROUP BY floor((end - time) / 3600)``
  over the index), measured in the same run, and the two results are checked equal;
- the writer: rows per second into the store (the aggregates kept in the same transaction).

Every figure is printed with the load average at the time (the machine may be shared). With
``--postgres`` the same runs on a throwaway PostgreSQL 15 server the benchmark starts (as the
``postgres`` user, in a temporary folder, on 127.0.0.1 and a free port), or with ``--postgres-url``
on a server already running (databases ``store<rows>``, built there unless ``--keep`` finds them
holding predictions). Then domain metrics (a cost matrix, a per-class recall, a function, a slice)
against accuracy alone, on the largest SQLite store (``--no-domain`` leaves them out).

    python benchmarks/bench_monitor.py [--rows 1000000,10000000] [--postgres | --postgres-url URL] [--keep] [--no-domain]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

BATCH = 50_000
SPACING_S = 0.01  # 100 predictions a second: 10,000,000 rows span 28 hours
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def build(location: str, artifacts: Path, rows: int) -> float:
    """A store at ``location`` with ``rows`` labelled predictions ending now; returns rows per second logged."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlops_magic as mm
    from mlops_magic import api

    mm.set_store(location, artifact_root=str(artifacts))
    frame = load_wine(as_frame=True).frame
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with api.run("bench", name="wine", data=frame, target="target") as active:
        model.fit(frame.drop(columns="target"), frame["target"])
        active.track_model(model)
    version = api.promote(active.run_id, name="wine").version
    store = api.get_store()
    X = frame.drop(columns="target")
    records = [orjson.dumps(r).decode() for r in X.to_dict(orient="records")]  # encoded as the serving writer sends them
    outputs = model.predict(X).tolist()
    confidences = model.predict_proba(X).max(axis=1).tolist()  # the answered class's probability, as serving logs it
    labels = frame["target"].tolist()
    rng = np.random.default_rng(0)
    start = time.time() - rows * SPACING_S
    spent = 0.0
    for offset in range(0, rows, BATCH):
        picks = rng.integers(0, len(X), size=min(BATCH, rows - offset)).tolist()
        times = [start + (offset + i) * SPACING_S for i in range(len(picks))]
        predictions = [
            {"prediction_id": f"{offset + i:012x}", "time": t, "model": "wine", "version": version, "variant": None, "shadow": False,
             "inputs": records[k], "output": outputs[k], "latency_ms": 1.0 + k % 7, "confidence": confidences[k],
             "label": labels[k], "label_time": t + 1.0}
            for i, (t, k) in enumerate(zip(times, picks))
        ]  # fmt: skip
        requests = [
            {"time": times[i], "model": "wine", "version": version, "status_code": 200, "latency_ms": 1.0 + i % 7, "n_rows": 10}
            for i in range(0, len(picks), 10)
        ]
        started = time.perf_counter()
        store.log_served(predictions, requests)
        spent += time.perf_counter() - started
        if (offset // BATCH) % 20 == 0:
            print(f"  logged {offset + len(picks):,} predictions", flush=True)
    return rows / spent


def render_once() -> tuple[float, str]:
    from mlops_magic import api
    from mlops_magic.widgets.monitor import MonitorDashboard

    started = time.perf_counter()
    dashboard = MonitorDashboard(api.monitor("wine", window=1000, metric="accuracy", min_value=0.9))
    dashboard._repr_html_()
    return time.perf_counter() - started, dashboard.report.summary()


def hourly_once() -> float:
    import mlops_magic as mm

    started = time.perf_counter()
    mm.monitor("wine", window="1h", record=False)
    return time.perf_counter() - started


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def ranked_in_sql(store, count: int = 1000, windows: int = 50):
    """Count windows as they were cut before: a look for shadow rows among the newest rows, then
    the rows ranked in SQL (a window function over the newest rows ordered by time and id) and
    grouped there; rows as ``prediction_windows`` groups them."""
    from sqlalchemy import Integer, case, cast, func, select

    from mlops_magic.store import schema as s
    from mlops_magic.store.aggregates import CONFIDENCE_BINS

    p = s.predictions
    latest = (
        select(p.c.prediction_id, p.c.time, p.c.version, p.c.variant, p.c.shadow, p.c.output, p.c.label, p.c.confidence)
        .where(p.c.model == "wine", p.c.shadow.is_(False))
        .order_by(p.c.time.desc(), p.c.prediction_id.desc())
        .limit(count * windows)
        .subquery()
    )
    rank = func.row_number().over(order_by=(latest.c.time.desc(), latest.c.prediction_id.desc())) - 1
    answered = select(*latest.c, (rank // count).label("win"), (rank % count).label("position")).cte("answered")
    sub = select(answered).subquery()
    newest = select(p.c.shadow).where(p.c.model == "wine").order_by(p.c.time.desc()).limit(count * windows).subquery()  # were shadow rows among them?
    floor = cast(sub.c.confidence * CONFIDENCE_BINS, Integer) if store.db.engine.dialect.name == "sqlite" else cast(func.floor(sub.c.confidence * CONFIDENCE_BINS), Integer)
    keys = [sub.c.win, sub.c.version, sub.c.variant, sub.c.shadow, sub.c.label.isnot(None)]
    query = select(
        *keys, func.count(), func.min(sub.c.time), func.max(sub.c.time), func.max(case((sub.c.position == 0, sub.c.prediction_id))),
        sub.c.output, sub.c.label, floor.label("bin"), func.sum(sub.c.confidence),
    ).group_by(*keys[:-1], sub.c.output, sub.c.label, floor)  # fmt: skip
    with store.db.reading() as conn:
        conn.execute(select(func.max(cast(newest.c.shadow, Integer)))).scalar()
        return conn.execute(query).all()


def same_counted(store, rows) -> bool:
    """Whether ``prediction_windows`` gives the groups ranked in SQL: keys, counts, times, newest ids, sums."""
    import pandas as pd

    keys = ["win", "version", "variant", "shadow", "labelled", "output", "label", "bin"]
    ranked = pd.DataFrame(list(map(tuple, rows)), columns=[*keys[:5], "n", "first", "last", "newest_id", *keys[5:], "sum_confidence"])

    def tidy(f):  # JSON text (SQL) and decoded values (wine's classes are numbers) compare as text
        f = f.assign(variant=f["variant"].fillna(""), bin=f["bin"].fillna(-1), output=f["output"].map(str), label=f["label"].map(str),
                     shadow=f["shadow"].astype(bool), labelled=f["labelled"].astype(bool), newest_id=f["newest_id"].fillna(""))  # fmt: skip
        return f.set_index(keys).sort_index()

    a, b = tidy(ranked), tidy(store.prediction_windows("wine", count=1000, max_windows=50))
    same = a.index.equals(b.index) and all((a[c].to_numpy() == b[c].to_numpy()).all() for c in ("n", "first", "last", "newest_id"))
    return same and np.allclose(a["sum_confidence"], b["sum_confidence"], rtol=1e-12)


def aligned_end(seconds: float = 3600.0) -> float:
    """Where the monitor ends windows of whole minutes called now: the next whole minute."""
    import math

    return math.ceil(time.time() / 60) * 60.0 if seconds % 60 == 0 else time.time()


def grouped_over_rows(store, seconds: float = 3600.0, windows: int = 50):
    """The path before the aggregates: one grouped query over every row of the windows' range."""
    from mlops_magic.store import schema as s

    end = aligned_end(seconds)
    p = s.predictions
    columns = [p.c.output, p.c.label, p.c.confidence]
    return store._grouped(store._edge_rows("wine", [(end - seconds * windows, end + 1)], end, seconds, windows, end, columns), "classification"), end


def same_groups(store, seconds: float = 3600.0, windows: int = 50) -> bool:
    """Whether the aggregates give the rows' own counts per window (output, label, confidence bin)."""
    import pandas as pd

    rows, end = grouped_over_rows(store, seconds, windows)
    keys = ["win", "version", "variant", "shadow", "output", "label", "bin"]
    raw = pd.DataFrame(list(map(tuple, rows)), columns=[*keys[:4], "labelled", "n", "first", "last", "newest", *keys[4:], "sum_confidence"])
    summed = store.prediction_windows("wine", seconds=seconds, max_windows=windows, until=end)
    summed["output"] = summed["output"].map(str)
    summed["label"] = summed["label"].map(str)
    raw["output"] = raw["output"].map(lambda t: str(int(t)))
    raw["label"] = raw["label"].map(lambda t: str(int(t)))

    def totals(frame):
        frame = frame.fillna({"variant": "", "bin": -1})
        return frame.groupby(keys)[["n", "sum_confidence"]].sum().sort_index()

    a, b = totals(raw), totals(summed)
    return a.index.equals(b.index) and (a["n"] == b["n"]).all() and np.allclose(a["sum_confidence"], b["sum_confidence"], rtol=1e-9)


def holds_predictions(location: str, artifacts: Path) -> bool:
    """Whether the store at ``location`` is there already with wine's predictions (to reuse with --keep)."""
    import mlops_magic as mm

    if location.startswith("sqlite"):
        if not Path(location.split("///", 1)[1]).exists():
            return False
    mm.set_store(location, artifact_root=str(artifacts))
    try:
        return mm.get_store().count_predictions("wine") > 0
    except Exception:  # noqa: BLE001  (an empty database: no store yet)
        return False


def measure(label: str, location: str, artifacts: Path, rows: int, reuse: bool) -> dict:
    import mlops_magic as mm

    rate = None
    if not (reuse and holds_predictions(location, artifacts)):
        started = time.perf_counter()
        rate = build(location, artifacts, rows)
        print(f"  built in {time.perf_counter() - started:.0f} s")
    mm.set_store(location, artifact_root=str(artifacts))
    store = mm.get_store()
    print(f"{label}: {store.count_predictions('wine'):,} predictions ({load()})")
    cold, summary = render_once()
    warm_runs = [render_once()[0] for _ in range(3)]
    warm, warm_load = statistics.median(warm_runs), load()
    started = time.perf_counter()
    ranked = ranked_in_sql(store)
    counted_baseline, counted_load = time.perf_counter() - started, load()
    counted_equal = same_counted(store, ranked)
    hourly = [hourly_once() for _ in range(4)]
    hourly_load = load()
    started = time.perf_counter()
    grouped_over_rows(store)
    baseline, baseline_load = time.perf_counter() - started, load()
    equal = same_groups(store)
    result = {"label": label, "rows": rows, "cold": cold, "warm": warm, "hourly_first": hourly[0], "hourly": statistics.median(hourly[1:]),
              "baseline": baseline, "equal": equal, "counted_baseline": counted_baseline, "counted_equal": counted_equal, "rate": rate,
              "summary": summary, "load": hourly_load}  # fmt: skip
    print(f"  --window 1000: first call {cold:.2f} s, then {warm:.2f} s ({warm_load}); the windows' query ranked in SQL as before: "
          f"{counted_baseline:.2f} s ({counted_load}); same groups: {'yes' if counted_equal else 'NO'}")  # fmt: skip
    print(f"  --window 1h: {result['hourly']:.2f} s (first {hourly[0]:.2f} s; {hourly_load}); rows grouped in SQL: {baseline:.2f} s ({baseline_load}); "
          f"equal: {'yes' if equal else 'NO'}")  # fmt: skip
    print(f"  {summary}")
    return result


def wine_cost_fn(y_true, y_pred):
    """A free-form metric: read on each window's bounded sample, not aggregated."""
    return float(np.mean((y_true == 2) & (y_pred != 2)) * 10)


def domain_metrics(rounds: int = 3) -> None:
    """A cost matrix and a per-class recall (aggregated per window from counts, like accuracy), a
    function metric (on each window's sample) and a slice (the newest 2,000 rows of each window
    read) against accuracy alone, each in its own store state, alternated round by round."""
    from mlops_magic import api

    cases = {
        "accuracy (no defined metric)": ({}, {"metric": "accuracy"}),
        "3x3 cost matrix": ({"cost_matrix": [[0, 1, 5], [1, 0, 1], [10, 1, 0]]}, {"metric": "wine_cost"}),
        "recall[1] (per class)": ({}, {"metric": "recall[1]"}),
        "function metric (sample)": ({"function": wine_cost_fn, "better": "lower"}, {"metric": "wine_cost"}),
        "accuracy on a slice": ({}, {"metric": "accuracy", "slices": ["alcohol > 13"]}),
    }
    timings: dict[str, dict[str, list[float]]] = {case: {"1000": [], "1h": []} for case in cases}
    for _ in range(rounds):
        for case, (definition, options) in cases.items():
            drop_wine_cost()
            if definition:
                api.define_metric("wine_cost", **definition)
            for window in timings[case]:
                started = time.perf_counter()
                report = api.monitor("wine", window=window, record=False, **options)
                timings[case][window].append(time.perf_counter() - started)
                assert not report.problems, report.problems
    base = {w: statistics.median(v) for w, v in timings["accuracy (no defined metric)"].items()}
    print(f"domain metrics, --window 1000 and --window 1h (medians of {rounds} alternated rounds; ratio to accuracy alone):")
    for case, by_window in timings.items():
        figures = ", ".join(f"{w}: {statistics.median(v):.2f} s ({statistics.median(v) / base[w]:.2f}x)" for w, v in by_window.items())
        print(f"  {case:30s} {figures}")
    drop_wine_cost()


def drop_wine_cost() -> None:
    from mlops_magic import api

    if "wine_cost" in {d.name for d in api.get_store().metric_definitions()}:
        api.drop_metric("wine_cost")


@contextlib.contextmanager
def postgres_server(folder: Path):
    """A throwaway PostgreSQL 15 server in ``folder`` on 127.0.0.1 and a free port: its SQLAlchemy URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "pgdata"
    data.mkdir(parents=True)
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if user:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run([*user, str(PG_BIN / "initdb"), "-D", str(data), "-U", "bench", "--auth=trust"], check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} -c shared_buffers=1GB -c max_wal_size=8GB -c synchronous_commit=off"
    subprocess.run([*user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        subprocess.run([*user, str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "store"], check=True, capture_output=True)
        yield f"postgresql+psycopg://bench@127.0.0.1:{port}/store"
    finally:
        subprocess.run([*user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)


def curve(results: list[dict]) -> None:
    print("\nthe curve (50 windows each; medians of warm calls; baselines: the count windows' query ranked in SQL, every row in range grouped in SQL):")
    print(f"  {'store':22s} {'rows':>12s} {'--window 1000':>14s} {'ranked in SQL':>14s} {'--window 1h':>12s} {'1h baseline':>12s} {'ratio':>7s} {'< 2 s':>6s} {'load':>9s} {'writer rows/s':>14s}")
    for r in results:
        fast = "yes" if max(r["warm"], r["hourly"]) < 2 else "NO"
        rate = f"{r['rate']:,.0f}" if r["rate"] else "-"
        print(f"  {r['label']:22s} {r['rows']:>12,} {r['warm']:>12.2f} s {r['counted_baseline']:>12.2f} s {r['hourly']:>10.2f} s {r['baseline']:>10.2f} s "
              f"{r['baseline'] / r['hourly']:>6.1f}x {fast:>6s} {r['load']:>9s} {rate:>14s}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000,10000000", help="sizes, comma-separated")
    parser.add_argument("--folder", default=None, help="build (or reuse, with --keep) the stores here instead of a temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the stores (and reuse those already built there)")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL 15 server")
    parser.add_argument("--postgres-url", default=None, help="also on this PostgreSQL server (databases store<rows>, created when missing)")
    parser.add_argument("--no-domain", action="store_true", help="leave the domain metrics out")
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    import matplotlib.figure  # noqa: F401  what a kernel that trained and saved a model has imported already
    import sklearn.linear_model  # noqa: F401
    import skops.io  # noqa: F401

    print(f"imports a training kernel has done (sklearn, skops, matplotlib): {time.perf_counter() - started:.1f} s, not in the timings")
    results = []
    for rows in sizes:
        store = folder / f"sqlite-{rows}"
        results.append(measure(f"SQLite {rows:,}", f"sqlite:///{store / 'store.db'}", store / "artifacts", rows, args.keep))
    if args.postgres or args.postgres_url:
        with contextlib.nullcontext(args.postgres_url) if args.postgres_url else postgres_server(Path(tempfile.mkdtemp(prefix="bench-monitor-pg-"))) as url:
            from sqlalchemy import create_engine, text

            for rows in sizes:
                database = f"store{rows}"
                with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                    if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).first() is None:
                        conn.execute(text(f"CREATE DATABASE {database}"))
                location = url.rsplit("/", 1)[0] + f"/{database}"
                results.append(measure(f"PostgreSQL {rows:,}", location, folder / f"pg-{rows}-artifacts", rows, args.keep and bool(args.postgres_url)))
    curve(results)
    if not args.no_domain:
        domain_metrics()
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
