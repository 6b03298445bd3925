"""``mm.maturity`` on a store of 10,000 runs and 1,000,000 logged predictions: time to assess.

Builds the store once: 10,000 finished runs (10 params, 5 metrics, code, a data fingerprint and an
environment each), a registered model served with a shadow, 1,000,000 predictions logged in batches
as the serving process logs them, each labelled by a later feedback batch, a request record per 10.
Times the assessment (folder and store) warm, then again with every label removed (the worst case
of the label lookups: no labelled row to stop at). The baseline, measured in the same run, is
``mm.runs()`` over the same 10,000 runs, which a user waits for in every runs table.

    python benchmarks/bench_maturity.py [--runs 10000] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

BATCH = 50_000


def build_runs(store, n_runs: int) -> None:
    from mlops_magic.store import schema

    environment = json.dumps({"python": "3.11", "git": {"commit": "0" * 40, "branch": "main", "dirty": False}})
    now = time.time() - n_runs
    with store.db.writing() as conn:
        conn.execute(schema.experiments.insert().values(experiment_id=1, name="big", created_at=now))
        ids = [uuid.uuid4().hex for _ in range(n_runs)]
        conn.execute(schema.runs.insert(), [
            {"run_id": r, "experiment_id": 1, "name": f"run-{i}", "status": "finished", "start_time": now + i, "duration_s": 1.0,
             "source": "model = make_model().fit(X, y)", "environment": environment}
            for i, r in enumerate(ids)
        ])  # fmt: skip
        conn.execute(schema.params.insert(), [{"run_id": r, "key": f"param_{k}", "value": str(i % 7 + k)} for i, r in enumerate(ids) for k in range(10)])
        conn.execute(schema.metrics.insert(), [{"run_id": r, "key": f"metric_{k}", "value": (i * 7919 % 1000) / 1000 + k} for i, r in enumerate(ids) for k in range(5)])
        conn.execute(schema.datasets.insert(), [
            {"run_id": r, "role": "train", "variable": "train_df", "digest": "d" * 64, "n_rows": 100, "columns": "{}", "target": "y"} for r in ids
        ])  # fmt: skip


def build_serving(store, rows: int) -> None:
    import numpy as np
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    from mlops_magic import api

    frame = load_wine(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    model = LogisticRegression(max_iter=2000)
    with api.run("bench", name="wine", data=frame, target="target") as active:
        model.fit(X, y)
        active.track_model(model)
    api.promote(active.run_id, name="wine", alias="production")
    api.promote(active.run_id, name="wine", alias="challenger")
    store.record_deployment("wine", {"name": "wine", "variants": [{"label": "production", "alias": "production", "version": 1}], "shadow": None}, "127.0.0.1", 1, 1)
    store.mark_deployment_stopped("wine")
    records, outputs, labels = X.to_dict(orient="records"), model.predict(X).tolist(), y.tolist()
    rng, start = np.random.default_rng(0), time.time() - rows * 0.01
    for offset in range(0, rows, BATCH):
        picks = rng.integers(0, len(X), size=min(BATCH, rows - offset))
        ids = [uuid.uuid4().hex for _ in picks]
        times = [start + (offset + i) * 0.01 for i in range(len(picks))]
        store.log_predictions([
            {"prediction_id": pid, "time": t, "model": "wine", "version": 1, "variant": None, "shadow": False,
             "inputs": records[k], "output": outputs[k], "latency_ms": 1.0, "confidence": 0.9}
            for pid, t, k in zip(ids, times, picks)
        ])  # fmt: skip
        store.log_requests([{"time": times[i], "model": "wine", "version": 1, "status_code": 200, "latency_ms": 1.0, "n_rows": 10} for i in range(0, len(picks), 10)])
        store.log_feedback(ids, [labels[k] for k in picks])
        print(f"  logged {offset + len(picks):,} predictions", flush=True)


def project_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bench-maturity-project-"))
    (folder / "tests").mkdir()
    (folder / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@localhost", "commit", "-q", "--allow-empty", "-m", "x"], cwd=folder, check=True)
    return folder


def median_s(call, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    import mlops_magic as mm
    from mlops_magic import api
    from mlops_magic.store import schema

    folder = Path(tempfile.mkdtemp(prefix="bench-maturity-"))
    project = project_folder()
    try:
        mm.set_store(str(folder))
        store = api.get_store()
        started = time.perf_counter()
        build_runs(store, args.runs)
        build_serving(store, args.rows)
        print(f"built {args.runs:,} runs and {args.rows:,} predictions in {time.perf_counter() - started:.0f} s")
        cold = median_s(lambda: mm.maturity(str(project)), repeats=1)
        warm = median_s(lambda: mm.maturity(str(project)))
        baseline = median_s(lambda: mm.runs("big"))
        report = mm.maturity(str(project))
        print(f"mm.maturity: first call {cold:.3f} s, then median {warm:.3f} s (target 1 s); level {report.level}, "
              f"{int((report.checks['status'] == 'met').sum())} criteria met")  # fmt: skip
        print(f"baseline mm.runs() over the same {args.runs:,} runs: {baseline:.3f} s; the assessment takes {warm / baseline:.2f}x its time")
        with store.db.writing() as conn:
            conn.execute(schema.predictions.update().values(label=None, label_time=None))
        unlabelled = median_s(lambda: mm.maturity(str(project)))
        print(f"with no label anywhere (the label lookups cannot stop early): median {unlabelled:.3f} s ({unlabelled / baseline:.2f}x mm.runs())")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    main()
