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
    client.close()  # idle through the throughput run, it would outlive the server's keep-alive timeout
    rps, count = throughput(url, one_row, seconds)
    client = Client(url)
    batch_ms = median_ms(lambda: client.post(batch), repeat=20, warmup=3)
    client.close()
    return {"latency": latency, "rps": rps, "batch": batch_ms, "rows": 530 + count + 23 * 1000}


def save_for_mlflow(mlflow_python: str, model, folder: Path) -> Path:
    """Save ``model`` in MLflow's format, with MLflow's interpreter."""
    pickled = folder / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))
    saved = folder / "mlflow-model"
    save = (
        "import pickle, mlflow.sklearn; "
        f"mlflow.sklearn.save_model(pickle.load(open({str(pickled)!r}, 'rb')), {str(saved)!r}, "
        "skops_trusted_types=['sklearn.tree._tree.Tree'])"
    )  # MLflow 3 saves with skops too, and asks for the same trusted type
    subprocess.run([mlflow_python, "-c", save], check=True, capture_output=True)
    return saved


def start_mlflow(mlflow_python: str, saved: Path, port: int, workers: int) -> tuple[subprocess.Popen, float]:
    """``mlflow models serve`` on ``saved`` with ``workers`` uvicorn workers; return it and its start-up time."""
    command = [mlflow_python, "-m", "mlflow", "models", "serve", "-m", str(saved), "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    command += ["-w", str(workers)]
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

    def bare_batch():
        split = json.loads(batch)["dataframe_split"]
        model.predict(pd.DataFrame(split["data"], columns=split["columns"]))

    servers, starts, processes, deployed = {}, {}, [], []
    rounds: dict[str, list[dict[str, float]]] = {"bare": []}
    try:
        for workers in (1, 2):
            name = f"bc-{workers}w"
            mm.promote(active.run_id, name=name, alias="production")
            started = time.perf_counter()
            status = mm.serve(f"{name}@production", workers=workers)
            deployed.append(name)
            starts[f"mlops_magic {workers}w"] = time.perf_counter() - started
            servers[f"mlops_magic {workers}w"] = f"{status.url}/invocations"
        if args.mlflow_python:
            saved = save_for_mlflow(args.mlflow_python, model, folder)
            for workers in (1, 2):
                port = free_port()
                process, starts[f"mlflow {workers}w"] = start_mlflow(args.mlflow_python, saved, port, workers)
                processes.append(process)
                servers[f"mlflow {workers}w"] = f"http://127.0.0.1:{port}/invocations"
        print(f"machine: {os.cpu_count()} cores; model: RandomForest(50) on breast cancer ({X.shape[1]} features); "
              f"{ROUNDS} rounds, servers measured in alternation; client: kept-alive http.client")  # fmt: skip
        print("start-up (to ready): " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in starts.items()))
        rounds.update({name: [] for name in servers})
        for number in range(ROUNDS):
            rounds["bare"].append({"latency": median_ms(lambda: model.predict(row), 500, 30), "batch": median_ms(bare_batch, 20, 3)})
            for name in list(servers)[:: 1 if number % 2 == 0 else -1]:
                rounds[name].append(measure(servers[name], one_row, batch, args.seconds))
            print(f"  round {number + 1}: " + "; ".join(
                f"{name} {r[-1]['latency']:.2f} ms" + (f" {r[-1]['rps']:.0f} req/s" if "rps" in r[-1] else "") + f" {r[-1]['batch']:.2f} ms"
                for name, r in rounds.items()))  # fmt: skip
    finally:
        for name in deployed:
            mm.stop(name)  # SIGTERM: queued predictions are written before the process exits
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)

    med = {name: {key: statistics.median(r[key] for r in results) for key in results[0]} for name, results in rounds.items()}
    bare = med["bare"]
    print("\nresults (medians over rounds); 1-row overhead is above a bare in-process model.predict of that row")
    print(f"  bare: model.predict of 1 row {bare['latency']:.2f} ms; json.loads + DataFrame + predict of 1000 rows {bare['batch']:.2f} ms")
    print(f"  {'server':<15} {'1-row':>8} {'overhead':>9} {'4-client req/s':>15} {'1000 rows':>10} {'vs bare':>8} {'start-up':>9}")
    for name in servers:
        m = med[name]
        print(f"  {name:<15} {m['latency']:6.2f} ms {m['latency'] - bare['latency']:6.2f} ms {m['rps']:15.0f} {m['batch']:7.2f} ms {m['batch'] / bare['batch']:7.2f}x {starts[name]:7.2f} s")
    ours = med["mlops_magic 1w"]
    overhead = ours["latency"] - bare["latency"]
    print(f"  aims: overhead < 1.5 ms: {overhead:.2f} ms; 1000 rows within 1.2x bare: {ours['batch'] / bare['batch']:.2f}x")
    if "mlflow 1w" in med:
        theirs = med["mlflow 1w"]
        print(f"  vs mlflow (both 1 worker): {(theirs['latency'] - bare['latency']) / overhead:.1f}x less overhead (aim >= 5x); "
              f"throughput {ours['rps'] / theirs['rps']:.2f}x")  # fmt: skip
        print(f"  vs mlflow (both 2 workers): throughput {med['mlops_magic 2w']['rps'] / med['mlflow 2w']['rps']:.2f}x; "
              f"mlops_magic default (2 workers on 2+ cores) vs mlflow default (1 worker): {med['mlops_magic 2w']['rps'] / theirs['rps']:.2f}x (aim >= 2x)")  # fmt: skip
    lost = 0
    for workers in (1, 2):
        name = f"bc-{workers}w"
        logged, answered = len(mm.predictions(name)), sum(r["rows"] for r in rounds[f"mlops_magic {workers}w"])
        lost += answered - logged
        print(f"  nothing lost ({workers} worker(s)): {answered} rows answered, {logged} predictions in the store -> {'OK' if logged == answered else 'MISMATCH'}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
