"""Serving speed against ``mlflow models serve``, same model (RandomForest, 50 trees, breast cancer), same run.

    python benchmarks/bench_serving.py [--mlflow-python /path/to/venv/bin/python] [--seconds 5]

Figures: start-up time; overhead of a 1-row request (kept-alive ``requests.Session``) above a bare
in-process ``model.predict`` of that row; throughput of 4 client threads on 1-row requests (ours
with prediction logging on); a 1,000-row batch against bare ``json.loads`` + DataFrame +
``model.predict``; and, after the load, that the store holds exactly one prediction per row answered.
MLflow runs in its own interpreter (a benchmark extra, never a dependency); without
``--mlflow-python`` only our figures are printed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

CLIENTS = 4
ROUNDS = 3  # the two servers are measured in alternation, ROUNDS times each, medians reported


class Client:
    """A kept-alive HTTP/1.1 connection (``http.client``): the same client measures both servers."""

    def __init__(self, url: str):
        self.host, port = url.removeprefix("http://").split("/", 1)[0].split(":")
        self.connection = http.client.HTTPConnection(self.host, int(port))
        self.path = "/" + url.removeprefix("http://").split("/", 1)[1]

    def post(self, body: bytes) -> None:
        self.connection.request("POST", self.path, body, {"Content-Type": "application/json"})
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{self.path} answered {answer.status}: {data[:200]!r}")
        json.loads(data)

    def close(self) -> None:
        self.connection.close()


def median_ms(action, repeat: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def throughput(url: str, body: bytes, seconds: float) -> tuple[float, int]:
    """Requests per second of ``CLIENTS`` threads, each on its own kept-alive connection."""
    counts = [0] * CLIENTS
    stop = threading.Event()

    def client(index: int) -> None:
        connection = Client(url)
        while not stop.is_set():
            connection.post(body)
            counts[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started), sum(counts)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def measure(url: str, one_row: bytes, batch: bytes, seconds: float) -> dict[str, float]:
    """One round on one server: 1-row latency, 4-client throughput, 1000-row latency; rows sent."""
    client = Client(url)
    latency = median_ms(lambda: client.post(one_row), repeat=500, warmup=30)
    rps, count = throughput(url, one_row, seconds)
    batch_ms = median_ms(lambda: client.post(batch), repeat=20, warmup=3)
    client.close()
    return {"latency": latency, "rps": rps, "batch": batch_ms, "rows": 530 + count + 23 * 1000}


def start_mlflow(mlflow_python: str, model, folder: Path, port: int) -> tuple[subprocess.Popen, float]:
    """Save ``model`` in MLflow's format with MLflow's interpreter, then start ``mlflow models serve``."""
    pickled = folder / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))
    saved = folder / "mlflow-model"
    save = (
        "import pickle, mlflow.sklearn; "
        f"mlflow.sklearn.save_model(pickle.load(open({str(pickled)!r}, 'rb')), {str(saved)!r}, "
        "skops_trusted_types=['sklearn.tree._tree.Tree'])"
    )  # MLflow 3 saves with skops too, and asks for the same trusted type
    subprocess.run([mlflow_python, "-c", save], check=True, capture_output=True)
    command = [mlflow_python, "-m", "mlflow", "models", "serve", "-m", str(saved), "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    started = time.perf_counter()
    env = {**os.environ, "PATH": f"{Path(mlflow_python).parent}{os.pathsep}{os.environ['PATH']}"}  # it execs its venv's uvicorn
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    wait_ready(f"http://127.0.0.1:{port}/ping", process)
    return process, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-python", default=None, help="a Python with mlflow installed (e.g. a venv with the benchmarks extra)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    args = parser.parse_args()

    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    import mlops_magic as mm
    from mlops_magic.serving.ports import free_port

    frame = load_breast_cancer(as_frame=True).frame
    X = frame.drop(columns="target")
    row, rows = X.iloc[[0]], X.sample(1000, replace=True, random_state=0)
    one_row = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": row.to_numpy().tolist()}}).encode()
    batch = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": rows.to_numpy().tolist()}}).encode()

    folder = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    mm.set_store(str(folder / "store"))
    with mm.run("bench", data=frame, target="target") as active:
        model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, frame["target"])
        active.track_model(model)
    mm.promote(active.run_id, name="bc", alias="production")

    def bare_batch():
        split = json.loads(batch)["dataframe_split"]
        model.predict(pd.DataFrame(split["data"], columns=split["columns"]))

    started = time.perf_counter()
    status = mm.serve("bc@production")
    ours_start = time.perf_counter() - started
    servers = {"mlops_magic": f"{status.url}/invocations"}
    starts = {"mlops_magic": ours_start}
    process = None
    if args.mlflow_python:
        port = free_port()
        process, starts["mlflow"] = start_mlflow(args.mlflow_python, model, folder, port)
        servers["mlflow"] = f"http://127.0.0.1:{port}/invocations"
    print(f"machine: {os.cpu_count()} cores; model: RandomForest(50) on breast cancer ({X.shape[1]} features); "
          f"{ROUNDS} rounds, servers measured in alternation; client: kept-alive http.client")  # fmt: skip
    print("start-up (to ready): " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in starts.items()))

    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in [*servers, "bare"]}
    try:
        for number in range(ROUNDS):
            rounds["bare"].append({"latency": median_ms(lambda: model.predict(row), 500, 30), "batch": median_ms(bare_batch, 20, 3)})
            for name in list(servers)[:: 1 if number % 2 == 0 else -1]:
                rounds[name].append(measure(servers[name], one_row, batch, args.seconds))
            print(f"  round {number + 1}: " + "; ".join(
                f"{name} 1-row {r[-1]['latency']:.2f} ms" + (f", {r[-1]['rps']:.0f} req/s" if "rps" in r[-1] else "") + f", 1000-row {r[-1]['batch']:.2f} ms"
                for name, r in rounds.items()))  # fmt: skip
    finally:
        mm.stop("bc")  # SIGTERM: the background writer flushes before the process exits
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)

    med = {name: {key: statistics.median(r[key] for r in results) for key in results[0]} for name, results in rounds.items()}
    bare, ours = med["bare"], med["mlops_magic"]
    logged, answered = len(mm.predictions("bc")), sum(r["rows"] for r in rounds["mlops_magic"])
    overhead = ours["latency"] - bare["latency"]
    print("\nresults (medians over rounds)")
    print(f"  bare model.predict of 1 row {bare['latency']:.2f} ms; mlops_magic 1-row request {ours['latency']:.2f} ms "
          f"-> overhead {overhead:.2f} ms (aim < 1.5 ms)")  # fmt: skip
    print(f"  1000 rows: bare json.loads + DataFrame + predict {bare['batch']:.2f} ms; mlops_magic {ours['batch']:.2f} ms "
          f"-> {ours['batch'] / bare['batch']:.2f}x (aim <= 1.20x)")  # fmt: skip
    if "mlflow" in med:
        theirs = med["mlflow"]
        mlflow_overhead = theirs["latency"] - bare["latency"]
        print(f"  1-row overhead: mlflow {mlflow_overhead:.2f} ms vs mlops_magic {overhead:.2f} ms -> {mlflow_overhead / overhead:.1f}x less (aim >= 5x)")
        print(f"  4-client throughput: mlops_magic {ours['rps']:.0f} req/s (logging on) vs mlflow {theirs['rps']:.0f} req/s "
              f"-> {ours['rps'] / theirs['rps']:.2f}x (aim >= 2x)")  # fmt: skip
        print(f"  1000 rows: mlflow {theirs['batch']:.2f} ms -> mlops_magic {theirs['batch'] / ours['batch']:.2f}x faster")
    print(f"  nothing lost: {answered} rows answered, {logged} predictions in the store -> {'OK' if logged == answered else 'MISMATCH'}")
    return 0 if logged == answered else 1


if __name__ == "__main__":
    sys.exit(main())
