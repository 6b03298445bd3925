"""Many writers on one SQLite store: nothing lost, no "database is locked" reaching anyone, no duplicate version.

    python benchmarks/bench_writers.py [--seconds 60] [--json] [--no-baseline] [--postgresql]

``--postgresql``: the same on a PostgreSQL store (a throw-away server on 127.0.0.1, as the tests
start it; durable settings), artifacts in the temporary folder; the lock wait timed there is a
promotion's ``SELECT ... FOR UPDATE``, and there is no ``PRAGMA integrity_check``.

In a fresh temporary store, for ``--seconds``, at once: two tracking kernels (IPython shells with the
extension, each running ``%%mlops_train`` cells in a loop), a two-worker serving process logging
every prediction (a client posts rows and their labels, ``/feedback``), the model's watcher (which
``mm.set_policy`` starts beside a served model: monitor, heartbeat), a retraining loop (``mm.retrain``: each job a replay in its own process, which
promotes to production when it wins), and a promotion loop (tracked runs to ``staging``, forced). First the
baseline: one tracking kernel alone for a sixth of the time.

Figures: rows written per second (runs, predictions, request records, versions, events), write
transactions per second of the instrumented processes (the kernels and the two loops),
the longest wait for the write lock (``BEGIN IMMEDIATE``) and where, runs per second of a kernel
alone and among the others. Checks: every tracked run, answered prediction, recorded label and
promoted version is in the store, once; versions are 1..N; no output, log, warning or job error
says "database is locked"; ``PRAGMA integrity_check`` is ok. ``--json`` prints the figures as JSON
(the suite runs a short version and checks them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

LOCKED = "database is locked"
NAME = "wine"
STORE: dict[str, str] = {}  # "url": the PostgreSQL store of --postgresql (else the temporary folder's SQLite)

# Every child process runs this first: it times each BEGIN IMMEDIATE (the wait for the write lock;
# on PostgreSQL each SELECT ... FOR UPDATE, and it counts the transactions that wrote) and prints its
# figures as one "STATS {...}" line when it exits. Each says READY once set up; the benchmark then
# sends every one the same deadline. MLOPS_MAGIC_STORE is the store.
PRELUDE = """
import atexit, json, os, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
STATS = {"role": sys.argv[2], "transactions": 0, "longest_wait_s": 0.0, "done": []}
PG = os.environ["MLOPS_MAGIC_STORE"].startswith("postgresql")
def _locks(statement):
    return statement.rstrip().endswith("FOR UPDATE") if PG else statement.startswith("BEGIN IMMEDIATE")
@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, *args):
    if _locks(statement):
        conn.info["begun"] = time.perf_counter()
    if PG and statement.startswith(("INSERT", "UPDATE", "DELETE")):
        conn.info["wrote"] = True
@event.listens_for(Engine, "commit")
def _commit(conn):
    if conn.info.pop("wrote", False):
        STATS["transactions"] += 1
@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, *args):
    if _locks(statement):
        STATS["transactions"] += not PG  # on PostgreSQL: counted at commit
        STATS["longest_wait_s"] = max(STATS["longest_wait_s"], time.perf_counter() - conn.info.pop("begun"))
atexit.register(lambda: print("STATS " + json.dumps(STATS), flush=True))
import mlops_magic as mm
def ready():
    \"\"\"Set up: tell the benchmark, and write until the deadline it answers.\"\"\"
    print("READY", flush=True)
    return float(sys.stdin.readline())
"""

KERNEL = """
from IPython.core.interactiveshell import InteractiveShell
from mlops_magic import api
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "mlops_magic")
assert shell.run_cell("from sklearn.datasets import load_wine\\nfrom sklearn.tree import DecisionTreeClassifier\\n"
                      "X, y = load_wine(return_X_y=True, as_frame=True)", store_history=True).success
DEADLINE = ready()
depth = 0
while time.time() < DEADLINE:
    depth = depth % 6 + 1
    cell = f"tree = DecisionTreeClassifier(max_depth={depth}, random_state=0).fit(X, y)\\nacc = tree.score(X, y)"
    _, card = api.train_cell(shell, cell, experiment=sys.argv[2])
    STATS["done"].append(card.run.run_id)
    for warning in card.warnings:
        print("WARNING", warning, flush=True)
for warning in api._current_session.tracker.flush():  # the last run's write, if it failed
    print("WARNING", warning, flush=True)
"""

PROMOTER = """
import random
mm.get_store()
DEADLINE = ready()
while time.time() < DEADLINE:
    runs = mm.runs()
    runs = runs[runs["experiment"].str.match("kernel|seed") & (runs["status"] == "finished")]  # each with a model
    if len(runs):
        promotion = mm.promote(random.choice(list(runs["run_id"])), name=sys.argv[4], alias="staging", force=True)
        STATS["done"].append(promotion.version)
    time.sleep(0.05)
"""

RETRAINER = """
mm.get_store()
DEADLINE = ready()
while time.time() < DEADLINE:
    job = mm.retrain(sys.argv[4], timeout=120)
    STATS["done"].append([job.job_id, job.status, job.error])
"""

SEED = [
    "from sklearn.datasets import load_wine\nfrom sklearn.model_selection import train_test_split\n"
    "wine = load_wine(as_frame=True).frame\n"
    'train_df, test_df = train_test_split(wine, test_size=0.3, random_state=0, stratify=wine["target"])',
    "%%mlops_train -e seed --data train_df --target target --eval test_df --quiet\n"
    "from sklearn.tree import DecisionTreeClassifier\n"
    "model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(train_df.drop(columns='target'), train_df['target'])",
]


class Child:
    """A writer process: started, set up (it says READY), then sent the deadline."""

    def __init__(self, program: str, folder: str, role: str, *extra: str):
        env = {**os.environ, "MLOPS_MAGIC_STORE": STORE.get("url", folder), "MLOPS_MAGIC_ARTIFACTS": str(Path(folder) / "artifacts")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + program, folder, role, "", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        self.lines: list[str] = []

    def wait_ready(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if line.strip() == "READY":
                return
        raise RuntimeError(f"a writer process ended before it was ready:\n{''.join(self.lines)[-3000:]}")

    def go(self, deadline: float) -> None:
        self.process.stdin.write(f"{deadline}\n")
        self.process.stdin.flush()


def finished(child: Child, timeout: float) -> tuple[dict, str]:
    """The STATS of a writer process that has ended, and all it printed."""
    rest, _ = child.process.communicate(timeout=timeout)
    output, process = "".join(child.lines) + rest, child.process
    stats = next((json.loads(line[6:]) for line in output.splitlines() if line.startswith("STATS ")), None)
    if process.returncode != 0 or stats is None:
        raise RuntimeError(f"a writer process failed (exit {process.returncode}):\n{output[-3000:]}")
    return stats, output


class Client:
    """Posts 5-row requests and, every 10 answers, their labels to ``/feedback``; keeps every answer."""

    def __init__(self, url: str, rows: list[dict], labels: list[int]):
        self.url, self.rows, self.labels = url, rows, labels
        self.answered: list[str] = []
        self.labelled = 0
        self.refused: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        with requests.Session() as session:
            pending: list[str] = []
            while not self.stop.is_set():
                answer = session.post(f"{self.url}/invocations", json={"dataframe_records": self.rows}, timeout=60)
                if answer.status_code != 200:
                    self.refused.append(answer.text)
                    continue
                ids = answer.json()["ids"]
                self.answered += ids
                pending += ids
                if len(pending) >= 50:
                    feedback = session.post(f"{self.url}/feedback", json={"ids": pending, "labels": self.labels * (len(pending) // 5)}, timeout=60)
                    if feedback.status_code == 200:
                        self.labelled += feedback.json()["recorded"]
                        pending = []
                    else:
                        self.refused.append(feedback.text)
                time.sleep(0.01)

    def finish(self):
        self.stop.set()
        self.thread.join(120)


def measure(seconds: float, baseline: bool = True) -> dict:
    from IPython.core.interactiveshell import InteractiveShell

    import mlops_magic as mm
    from mlops_magic.store import Store

    folder = tempfile.mkdtemp(prefix="bench-writers-")
    location, artifacts = STORE.get("url", folder), str(Path(folder) / "artifacts")
    mm.set_store(location, artifact_root=artifacts)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlops_magic")
    mm.set_store(location, artifact_root=artifacts)
    for cell in SEED:
        if not shell.run_cell(cell, store_history=True).success:
            raise RuntimeError(f"the seed cell failed: {cell.splitlines()[0]}")
    mm.promote(mm.runs("seed")["run_id"][0], name=NAME, alias="production")
    test = shell.user_ns["test_df"].head(5)
    rows, labels = test.drop(columns="target").to_dict("records"), test["target"].tolist()

    baseline_s = max(3.0, seconds / 6)
    alone = {"done": []}
    if baseline:
        kernel = Child(KERNEL, folder, "kernel-alone")
        kernel.wait_ready()
        kernel.go(time.time() + baseline_s)
        alone, _ = finished(kernel, timeout=baseline_s + 120)

    deployment = mm.serve(f"{NAME}@production", workers=2)
    # a retraining policy on the served model starts its watcher; it never fires by itself: the retraining loop starts the jobs
    mm.set_policy(NAME, "accuracy", min_value=0.0, window=50, retrain=True, cooldown=0)
    processes = {
        "kernel-1": Child(KERNEL, folder, "kernel-1"),
        "kernel-2": Child(KERNEL, folder, "kernel-2"),
        "promoter": Child(PROMOTER, folder, "promoter", NAME),
        "retrainer": Child(RETRAINER, folder, "retrainer", NAME),
    }
    for process in processes.values():
        process.wait_ready()
    started = time.time()
    deadline = started + seconds
    for process in processes.values():
        process.go(deadline)
    client = Client(deployment.url, rows, labels)
    time.sleep(max(0.0, deadline - time.time()))
    client.finish()
    results = {role: finished(process, timeout=180) for role, process in processes.items()}
    elapsed = time.time() - started  # the last retraining job may end after the deadline
    mm.stop(NAME)
    shell.run_line_magic("unload_ext", "mlops_magic")

    store = Store(location, artifacts)
    with store.db.reading() as connection:
        count = {t: connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("runs", "predictions", "requests_log", "model_versions", "events")}
        versions = [v for (v,) in connection.exec_driver_sql(f"SELECT version FROM model_versions WHERE name = '{NAME}' ORDER BY version")]
        labelled = connection.exec_driver_sql("SELECT count(*) FROM predictions WHERE label IS NOT NULL").scalar()
        integrity = connection.exec_driver_sql("PRAGMA integrity_check").scalar() if "url" not in STORE else None
    runs = store.runs_frame()
    statuses = dict(zip(runs["run_id"], runs["status"]))
    logged = mm.predictions(NAME)["prediction_id"]
    tracked = [r for role in ("kernel-1", "kernel-2") for r in results[role][0]["done"]]
    promoted = results["promoter"][0]["done"]
    jobs = results["retrainer"][0]["done"]
    logs = "".join(path.read_text(errors="replace") for path in (Path(folder) / "serving").glob("*.log"))
    outputs = "".join(output for _, output in results.values()) + logs + "".join(client.refused)
    instrumented = [stats for stats, _ in results.values()]
    slowest = max(instrumented, key=lambda s: s["longest_wait_s"])
    figures = {
        "seconds": round(elapsed, 1),
        "rows": count,
        "rows_per_s": round((count["runs"] + count["predictions"] + count["requests_log"] + count["model_versions"] + count["events"]) / elapsed, 1),
        "write_transactions_per_s": round(sum(s["transactions"] for s in instrumented) / elapsed, 1),
        "longest_lock_wait_s": round(slowest["longest_wait_s"], 3),
        "longest_lock_wait_in": slowest["role"],
        "runs_per_s_alone": round(len(alone["done"]) / baseline_s, 2) if baseline else None,
        "runs_per_s_among_others": round(len(tracked) / 2 / elapsed, 2),
        "tracked": len(tracked),
        "answered": len(client.answered),
        "labelled": client.labelled,
        "promotions": len(promoted),
        "jobs": [status for _, status, _ in jobs],
        "job_errors": [error for _, _, error in jobs if error],
        "lost_runs": sum(statuses.get(r) != "finished" for r in tracked),
        "lost_predictions": len(set(client.answered) - set(logged)),
        "duplicate_predictions": int(len(logged) - len(set(logged))),
        "lost_labels": client.labelled - labelled,
        "lost_versions": len(set(promoted) - set(versions)),
        "versions_are_1_to_n": versions == list(range(1, len(versions) + 1)),
        "refused_requests": len(client.refused),
        "locked_messages": outputs.count(LOCKED) + sum(LOCKED in (error or "") for _, _, error in jobs),
        "integrity": integrity,
    }
    store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-baseline", action="store_true", help="skip the kernel tracking alone")
    parser.add_argument("--postgresql", action="store_true", help="on a PostgreSQL store (a throw-away server)")
    args = parser.parse_args()
    server = None
    if args.postgresql:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.postgres_support import PostgresServer

        server = PostgresServer.start(durable=True)
        STORE["url"] = server.url(server.new_database())
    try:
        figures = measure(args.seconds, baseline=not args.no_baseline)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(figures))
        return
    kind = "PostgreSQL store (lock wait: SELECT ... FOR UPDATE)" if args.postgresql else "SQLite store (WAL, BEGIN IMMEDIATE, busy timeout)"
    print(f"{args.seconds:.0f} s, 8 writers on one {kind}:")
    for key, value in figures.items():
        print(f"  {key:26s} {value}")
    if figures["runs_per_s_alone"]:
        print(f"  a kernel among the others tracks at {figures['runs_per_s_among_others'] / figures['runs_per_s_alone']:.2f}x its speed alone")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
