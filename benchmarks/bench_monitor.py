"""``%mlops_monitor`` on a store holding 1,000,000 logged predictions with feedback: time to render.

Builds the store once (a wine classifier; predictions logged through ``store.log_predictions`` in
batches as the serving process does, with the answered class's confidence, feedback for every
one, a request record per 10), then times
``mm.monitor`` plus building the dashboard widget and its static HTML: a cold call (fresh process:
imports, the skops model load) and warm calls. The baseline is reading the whole log as
``mm.predictions`` does, in the same run. Then domain metrics (a cost matrix, a per-class recall, a
function, a slice) against accuracy alone, on the same store.

    python benchmarks/bench_monitor.py [--rows 1000000] [--store /tmp/bench-monitor]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

BATCH = 50_000


def build(store_dir: Path, rows: int) -> None:
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlops_magic as mm
    from mlops_magic import api

    mm.set_store(str(store_dir))
    frame = load_wine(as_frame=True).frame
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with api.run("bench", name="wine", data=frame, target="target") as active:
        model.fit(frame.drop(columns="target"), frame["target"])
        active.track_model(model)
    version = api.promote(active.run_id, name="wine").version
    store = api.get_store()
    X = frame.drop(columns="target")
    records = X.to_dict(orient="records")
    outputs = model.predict(X).tolist()
    confidences = model.predict_proba(X).max(axis=1).tolist()  # the answered class's probability, as serving logs it
    labels = frame["target"].tolist()
    rng = np.random.default_rng(0)
    start = time.time() - rows * 0.01
    for offset in range(0, rows, BATCH):
        picks = rng.integers(0, len(X), size=min(BATCH, rows - offset))
        ids = [uuid.uuid4().hex for _ in picks]
        times = [start + (offset + i) * 0.01 for i in range(len(picks))]
        store.log_predictions(
            [
                {"prediction_id": pid, "time": t, "model": "wine", "version": version, "variant": None, "shadow": False,
                 "inputs": records[k], "output": outputs[k], "latency_ms": 1.0 + k % 7, "confidence": confidences[k]}
                for pid, t, k in zip(ids, times, picks)
            ]
        )
        store.log_requests(
            [{"time": times[i], "model": "wine", "version": version, "status_code": 200, "latency_ms": 1.0 + i % 7, "n_rows": 10}
             for i in range(0, len(picks), 10)]
        )
        store.log_feedback(ids, [labels[k] for k in picks])
        print(f"  logged {offset + len(picks):,} predictions", flush=True)


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


def render_once() -> tuple[float, str]:
    from mlops_magic import api
    from mlops_magic.widgets.monitor import MonitorDashboard

    started = time.perf_counter()
    dashboard = MonitorDashboard(api.monitor("wine", window=1000, metric="accuracy", min_value=0.9))
    dashboard._repr_html_()
    return time.perf_counter() - started, dashboard.report.summary()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", default=None, help="reuse (or create) the store here instead of a temp folder")
    args = parser.parse_args()
    folder = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    import mlops_magic as mm

    if not (folder / "store.db").exists():
        started = time.perf_counter()
        build(folder, args.rows)
        print(f"built the store in {time.perf_counter() - started:.0f} s")
    mm.set_store(str(folder))
    size = (folder / "store.db").stat().st_size / 2**20
    print(f"store: {mm.get_store().count_predictions('wine'):,} predictions, {size:.0f} MiB at {folder}")
    started = time.perf_counter()
    import matplotlib.figure  # noqa: F401  what a kernel that trained and saved a model has imported already
    import sklearn.linear_model  # noqa: F401
    import skops.io  # noqa: F401

    imports = time.perf_counter() - started
    cold, summary = render_once()
    warm = statistics.median(render_once()[0] for _ in range(3))
    print(f"%mlops_monitor render: first call {cold:.2f} s (model load from the store, after {imports:.1f} s of imports")
    print(f"  a training kernel has done: sklearn, skops, matplotlib), then {warm:.2f} s (median of 3)")
    print(f"  {summary}")
    print(f"  under 2 s: first call {'yes' if cold < 2 else 'NO'}, later calls {'yes' if warm < 2 else 'NO'}")
    started = time.perf_counter()
    hourly = mm.monitor("wine", window="1h", record=False)
    print(
        f"time windows (--window 1h, {int(hourly.windows['n_predictions'].sum()):,} predictions in the shown range): "
        f"{time.perf_counter() - started:.2f} s (every row in range is aggregated)"
    )
    domain_metrics()
    started = time.perf_counter()
    mm.get_store().predictions_frame("wine", include_shadow=False)
    baseline = time.perf_counter() - started
    print(f"baseline: reading the whole log (store.predictions_frame) {baseline:.1f} s; the dashboard is {baseline / warm:.0f}x faster")
    if not args.store:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
