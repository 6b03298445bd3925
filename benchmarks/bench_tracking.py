"""Tracking speed: extension load, per-cell overhead (vs MLflow), runs query at 10,000 runs, store growth.

    python benchmarks/bench_tracking.py [--mlflow-python /path/to/venv/bin/python]

MLflow is measured in its own interpreter (it is a benchmark extra, never a dependency): pass a
Python that has ``mlflow`` installed, or leave it out to skip that comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

LOAD_EXT = """
import time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
t1 = time.perf_counter()
shell.run_line_magic("load_ext", "mlops_magic")
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

SETUP = """
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
frame = load_breast_cancer(as_frame=True).frame
train_df, test_df = train_test_split(frame, test_size=0.2, random_state=0)
X_train, y_train = train_df.drop(columns="target"), train_df["target"]
"""
FIT = "model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_train, y_train)"

MLFLOW = """
import sys, tempfile, time, statistics, logging, warnings
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import mlflow, mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.metrics import accuracy_score, f1_score
frame = load_breast_cancer(as_frame=True).frame
train_df, test_df = train_test_split(frame, test_size=0.2, random_state=0)
X_train, y_train = train_df.drop(columns="target"), train_df["target"]
X_test, y_test = test_df.drop(columns="target"), test_df["target"]
folder = tempfile.mkdtemp()
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
mlflow.set_experiment("bench")
model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_train, y_train)
def log(fast):
    t = time.perf_counter()
    with mlflow.start_run():
        mlflow.log_params(model.get_params(deep=True))
        predicted = model.predict(X_test)
        mlflow.log_metrics({"accuracy": accuracy_score(y_test, predicted), "f1": f1_score(y_test, predicted)})
        extra = {"pip_requirements": ["scikit-learn"]} if fast else {}
        # MLflow 3 saves sklearn models with skops too, and needs the same tree type trusted.
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X_train, model.predict(X_train)), input_example=X_train.iloc[:5],
                                 skops_trusted_types=["sklearn.tree._tree.Tree"], **extra)
    return time.perf_counter() - t
log(True)
default = [log(False) for _ in range(int(sys.argv[1]))]
fast = [log(True) for _ in range(int(sys.argv[1]))]
print(statistics.median(default), statistics.median(fast))
"""

MLFLOW_SEARCH = """
import sys, tempfile, time, statistics, logging, warnings
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
n = int(sys.argv[1])
mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
client = MlflowClient()
experiment = client.create_experiment("big")
now = int(time.time() * 1000)
for i in range(n):
    run = client.create_run(experiment)
    client.log_batch(run.info.run_id,
                     metrics=[Metric(f"metric_{k}", (i * 7919 % 1000) / 1000 + k, now, 0) for k in range(5)],
                     params=[Param(f"param_{k}", str(i % 7 + k)) for k in range(10)])
    client.set_terminated(run.info.run_id)
times = []
for _ in range(3):
    t = time.perf_counter()
    frame = mlflow.search_runs(experiment_ids=[experiment], order_by=["metrics.metric_0 DESC"], max_results=n)
    times.append(time.perf_counter() - t)
assert len(frame) == n
print(statistics.median(times))
"""


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def bench_load_ext(repeats: int = 7) -> None:
    shells, loads = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", LOAD_EXT], capture_output=True, text=True, check=True).stdout.split()
        shells.append(float(out[0]))
        loads.append(float(out[1]))
    print(f"%load_ext mlops_magic: median {median_ms(loads):.1f} ms added import time "
          f"(baseline: creating the IPython shell itself, {median_ms(shells):.0f} ms; ratio {statistics.median(loads) / statistics.median(shells):.2f})")


def bench_cell_overhead(repeats: int, mlflow_python: str | None) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    import mlops_magic as mm
    from mlops_magic import api

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlops_magic")
    mm.set_store(tempfile.mkdtemp())
    shell.run_cell(SETUP)
    magic = "%%mlops_train -e bench --data train_df --target target --eval test_df --quiet\n" + FIT
    for _ in range(2):  # warm-up: first-use imports (skops, sklearn.metrics, pyarrow)
        shell.run_cell(magic)
        api.current_session().tracker.flush()
    bare, cell, saved = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        shell.run_cell(FIT)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        shell.run_cell(magic)
        cell.append(time.perf_counter() - t)
        api.current_session().tracker.flush()
        saved.append(time.perf_counter() - t)
    fit_ms = median_ms(bare)
    overhead = median_ms(cell) - fit_ms
    overhead_saved = median_ms(saved) - fit_ms
    print(f"%%mlops_train, RandomForest(50) on breast cancer with --data/--eval: bare fit {fit_ms:.0f} ms; "
          f"overhead until the cell returns {overhead:.1f} ms, until the model is saved and the run written {overhead_saved:.1f} ms (median of {repeats})")
    if mlflow_python:
        out = subprocess.run([mlflow_python, "-c", MLFLOW, "5"], capture_output=True, text=True)
        if out.returncode != 0:
            print("MLflow comparison failed:", out.stderr.strip().splitlines()[-1:])
            return
        default, fast = (float(v) * 1000 for v in out.stdout.split()[-2:])
        print(f"MLflow logging the same run: {default:.0f} ms by default, {fast:.0f} ms with pip_requirements given; "
              f"mlops_magic (model saved) is {default / overhead_saved:.0f}x less than MLflow's default and {fast / overhead_saved:.1f}x less than its fast path")


def runs_query_ms(n_runs: int) -> float:
    """Median time of ``mm.runs()`` sorted by a metric over ``n_runs`` runs of 10 params and 5 metrics."""
    from mlops_magic import api
    from mlops_magic.store import Store, schema

    store = Store(tempfile.mkdtemp())
    with store.db.writing() as conn:
        conn.execute(schema.experiments.insert().values(experiment_id=1, name="big", created_at=time.time()))
        ids = [uuid.uuid4().hex for _ in range(n_runs)]
        conn.execute(schema.runs.insert(), [
            {"run_id": r, "experiment_id": 1, "name": f"run-{i}", "status": "finished", "start_time": time.time() + i, "duration_s": 1.0}
            for i, r in enumerate(ids)
        ])
        conn.execute(schema.params.insert(), [{"run_id": r, "key": f"param_{k}", "value": str(i % 7 + k)} for i, r in enumerate(ids) for k in range(10)])
        conn.execute(schema.metrics.insert(), [{"run_id": r, "key": f"metric_{k}", "value": (i * 7919 % 1000) / 1000 + k} for i, r in enumerate(ids) for k in range(5)])
    api.set_store(store.url)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        frame = api.runs("big", sort="metric_0")
        times.append(time.perf_counter() - t)
    assert len(frame) == n_runs and frame["metrics.metric_0"].is_monotonic_decreasing
    return median_ms(times)


def bench_runs_query(mlflow_python: str | None, n_runs: int = 10_000, n_compared: int = 2_500) -> None:
    print(f"mm.runs() over {n_runs:,} runs x 10 params x 5 metrics, sorted by a metric: median {runs_query_ms(n_runs):.0f} ms (target 500 ms)")
    if mlflow_python:
        ours = runs_query_ms(n_compared)
        out = subprocess.run([mlflow_python, "-c", MLFLOW_SEARCH, str(n_compared)], capture_output=True, text=True)
        if out.returncode != 0:
            print("MLflow search_runs comparison failed:", out.stderr.strip().splitlines()[-1:])
            return
        theirs = float(out.stdout.split()[-1]) * 1000
        print(f"  at {n_compared:,} runs: mm.runs() {ours:.0f} ms, MLflow search_runs (SQLite store, same runs) {theirs:.0f} ms: {theirs / ours:.0f}x")


def bench_store_growth(n_runs: int = 30) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    import mlops_magic as mm

    folder = Path(tempfile.mkdtemp())
    mm.set_store(str(folder))
    shell = InteractiveShell.instance()
    shell.run_cell(SETUP)
    cell = "%%mlops_train -e growth --data train_df --target target --eval test_df --quiet\n" + FIT

    def size() -> int:
        store = mm.get_store()
        with store.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return (folder / "store.db").stat().st_size

    shell.run_cell(cell)
    before = size()
    for _ in range(n_runs):
        shell.run_cell(cell)
    growth = (size() - before) / n_runs
    print(f"store growth per tracked run without the model (code, params, 10 metrics, environment, two data profiles): "
          f"{growth / 1024:.1f} KiB in store.db (MLflow: about 8 KB); data samples are shared by content")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-python", default=None, help="a Python interpreter with mlflow installed")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    bench_load_ext()
    bench_cell_overhead(args.repeats, args.mlflow_python)
    bench_runs_query(args.mlflow_python)
    bench_store_growth()
    print(json.dumps({"python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
