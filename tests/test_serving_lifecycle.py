"""Serving processes' life: SIGTERM under load loses nothing, an unreachable store neither hangs a stop nor loses a row,
feedback never answers a false 404, a deployment outlives its kernel, dead shown dead, clear errors."""

from __future__ import annotations

import contextlib
import html
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from IPython.core.error import UsageError

from mlops_magic import api, cli
from mlops_magic.errors import ServingError
from mlops_magic.serving import manager

from .serving_support import invoke, logistic, train


@pytest.fixture(autouse=True)
def no_stray_processes(store):
    """A test that fails half-way must not leave its serving process behind."""
    yield
    for status in manager.statuses(store):
        if status.status == "running":
            manager._terminate(status.pid, timeout=10)


@pytest.fixture
def promoted(store):
    run, model = train(logistic())
    api.promote(run.run_id, name="wine", alias="production")
    return store


def wine_records(n: int) -> dict:
    from .serving_support import wine_frames

    return {"dataframe_records": wine_frames()[1].drop(columns="target").head(n).to_dict("records")}


def wait_until_ended(pid: int, timeout: float) -> float:
    """Seconds until process ``pid`` has ended: every thread of it gone or a zombie. Its first thread alone
    is not enough: it shows as a zombie while other threads still hold the process's files (its pipes)."""
    from pathlib import Path

    started = time.monotonic()
    while True:
        states = []
        for task in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                states.append(task.read_text().rsplit(") ", 1)[1][0])
            except (FileNotFoundError, ProcessLookupError):  # that thread has just been reaped
                pass
        if all(state in "ZX" for state in states):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"process {pid} still runs after {timeout} s"
        time.sleep(0.05)


class Load:
    """``clients`` threads posting ``record`` to ``url`` on kept-alive connections until stopped or the server goes."""

    def __init__(self, url: str, record: dict, clients: int = 4):
        self.url, self.record = url, record
        self.answered: list[str] = []  # ids of every prediction answered 200
        self.requests = 0  # requests answered 200
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _client(self):
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    answer = invoke(session, self.url, self.record)
                except requests.RequestException:
                    return  # the server has closed: stop, as a real client would
                if answer.status_code == 200:
                    self.answered.extend(answer.json()["ids"])
                    self.requests += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + 30
        while self.requests < 40 and time.monotonic() < deadline:  # under load: a count, not a duration
            time.sleep(0.02)
        assert self.requests >= 40, "the clients were not answered"
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_loses_no_logged_prediction(promoted, workers):
    status = api.serve("wine@production", workers=workers)
    with Load(status.url, wine_records(5)) as load:
        stopped = api.stop("wine")  # SIGTERM while the clients keep sending
    assert stopped.status == "stopped"
    logged = api.predictions("wine")["prediction_id"]
    assert len(logged) == len(load.answered) and set(logged) == set(load.answered)  # every answered row, once
    answered_requests = promoted.requests_frame("wine").query("status_code == 200")
    assert len(answered_requests) == load.requests and answered_requests["n_rows"].sum() == len(load.answered)


@pytest.mark.parametrize("workers", [1, 2])
def test_feedback_answers_503_with_a_retry_hint_while_the_log_writer_is_stopped(promoted, workers):
    """A writer that does not write (here: SIGSTOP) must not turn valid ids into a 404."""
    from .serving_support import session_on_worker, writer_of

    status = api.serve("wine@production", workers=workers)
    scoring, worker = session_on_worker(status.url)
    writer = writer_of(worker)
    os.kill(writer, signal.SIGSTOP)
    try:
        ids = invoke(scoring, status.url, wine_records(4)).json()["ids"]
        # with two workers, the other one takes the feedback: its own log is written, these ids are queued in a sibling's
        asking, other = (scoring, worker) if workers == 1 else session_on_worker(status.url, avoid=worker)
        refused = asking.post(f"{status.url}/feedback", json={"ids": ids, "labels": [0, 1, 2, 0]}, timeout=30)
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5" and "send the feedback again in 5 s" in refused.json()["error"]
        why = "did not reach the store within 5 s" if workers == 1 else "still queued by another worker of this endpoint"
        assert why in refused.json()["error"]
    finally:
        os.kill(writer, signal.SIGCONT)
    assert asking.post(f"{status.url}/feedback", json={"ids": ids, "labels": [0, 1, 2, 0]}, timeout=30).json() == {"recorded": 4}
    assert api.predictions("wine").set_index("prediction_id").loc[ids, "label"].tolist() == [0, 1, 2, 0]
    os.kill(writer, signal.SIGKILL)  # a writer gone: no answer whose prediction could not be kept
    wait_until_ended(writer, timeout=5)
    on_that_worker = scoring if workers == 1 else session_on_worker(status.url, avoid=other)[0]  # its idle connection may have closed
    refused = invoke(on_that_worker, status.url, wine_records(1))  # at once: its pipe has no reader any more
    assert refused.status_code == 503 and "prediction log writer of this serving process stopped" in refused.json()["error"], refused.text
    api.stop("wine")


def test_a_stalled_log_writer_turns_answers_into_503s_and_never_freezes_the_server(promoted):
    """Answers stop once the pipe to a stopped writer is nearly full (never an answer kept nowhere), health still answers,
    and once the writer runs again every answered row is stored."""
    from .serving_support import session_on_worker, writer_of

    status = api.serve("wine@production")
    scoring, worker = session_on_worker(status.url)
    writer = writer_of(worker)
    os.kill(writer, signal.SIGSTOP)
    answered = []
    try:
        for _ in range(1000):
            answer = invoke(scoring, status.url, wine_records(60))
            if answer.status_code != 200:
                break
            answered += answer.json()["ids"]
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5", answer.text
        assert "prediction log writer of this serving process is behind: send the request again in 5 s" in answer.json()["error"]
        assert 0 < len(answered) < 1000 * 60
        assert scoring.get(f"{status.url}/health", timeout=5).status_code == 200  # the server itself goes on
    finally:
        os.kill(writer, signal.SIGCONT)
    deadline, large = time.monotonic() + 10, {"dataframe_records": wine_records(60)["dataframe_records"] * 200}  # 12,000 rows: more than the pipe holds
    while (answer := invoke(scoring, status.url, large)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)  # the writer empties the pipe
    assert answer.status_code == 200, answer.text
    answered += answer.json()["ids"]
    api.stop("wine")
    assert set(answered) <= set(api.predictions("wine")["prediction_id"])


def wait_until_every_writer_ended(store, timeout: float) -> None:
    """Until no log writer of ``store`` runs: each holds the lock of its journal while it lives. (The
    processes below a server, read from ``/proc``, may miss one that its dying parent left behind.)"""
    import fcntl

    from mlops_magic.store.journal import journal_folder

    deadline = time.monotonic() + timeout
    for path in journal_folder(store.artifacts.root).glob("*.jsonl"):
        while True:
            try:
                with open(path, "rb") as journal:
                    fcntl.flock(journal.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when closed
                break
            except FileNotFoundError:  # removed by its writer, empty, as it ended
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, f"the writer of {path.name} still runs after {timeout} s"
                time.sleep(0.05)


def journaled(store) -> set[str]:
    """Ids of the predictions in the store's journals (rows serving processes could not store yet)."""
    import orjson

    from mlops_magic.store.journal import journal_folder

    ids = set()
    for path in journal_folder(store.artifacts.root).glob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):  # a line cut by a kill
                ids.update(row["prediction_id"] for row in orjson.loads(line)["predictions"])
    return ids


@contextlib.contextmanager
def unreachable(store, how: str):
    """The store made unwritable while the block runs: ``locked`` (another connection holds it) or ``read-only`` (its folder remounted so)."""
    import sqlite3

    folder = Path(store.url.split("///", 1)[1]).parent
    if how == "locked":
        locker = sqlite3.connect(folder / "store.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # no other connection writes until this one ends
        try:
            yield
        finally:
            locker.rollback()
            locker.close()
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)  # new files and connections: "Read-only file system"
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)  # lazy: a worker still exiting may hold a file there


@pytest.mark.parametrize("workers, how", [(1, "locked"), (2, "locked"), (2, "read-only")])
def test_a_sigterm_under_load_with_the_store_unreachable_ends_soon_and_the_next_start_writes_every_row(promoted, workers, how):
    from mlops_magic.serving.prediction_log import CLOSE_TIMEOUT_S
    from mlops_magic.store.journal import journal_folder

    from .serving_support import descendants

    status = api.serve("wine@production", workers=workers)
    with unreachable(promoted, how):
        with Load(status.url, wine_records(3)) as load:
            below = descendants(status.pid)
            os.kill(status.pid, signal.SIGTERM)  # while the clients keep sending
            took = wait_until_ended(status.pid, timeout=CLOSE_TIMEOUT_S + 10)
            for pid in below:  # a worker may answer a moment longer than the process that started it
                wait_until_ended(pid, timeout=CLOSE_TIMEOUT_S + 10)
            wait_until_every_writer_ended(promoted, timeout=CLOSE_TIMEOUT_S + 10)
        left = journaled(promoted)
        if how == "read-only":
            with pytest.raises(ServingError, match="Read-only file system. Make the store.s folder writable"):  # refused in one line
                api.serve("wine@production", workers=workers)
    print(f"SIGTERM, store {how}, {workers} worker(s): ended in {took:.2f} s; {len(load.answered)} answered, {len(left)} in the journal")
    assert took < CLOSE_TIMEOUT_S + 5  # ended in bounded time
    assert set(load.answered) <= set(api.predictions("wine")["prediction_id"]) | left  # every answered row kept somewhere
    restarted = api.serve("wine@production", workers=workers)  # the next start writes what the last one could not, before it is ready
    logged = api.predictions("wine")["prediction_id"]
    assert len(logged) == len(set(logged)) and set(load.answered) <= set(logged)  # every row, once
    with requests.Session() as session:
        labels = {"ids": load.answered[:30], "labels": [1] * 30}
        assert session.post(f"{restarted.url}/feedback", json=labels, timeout=30).json() == {"recorded": 30}
    api.stop("wine")
    assert not list(journal_folder(promoted.artifacts.root).glob("*.jsonl"))


SEND_THEN_DIE = """
import os, signal, sys, time
import numpy as np
from mlops_magic.serving.prediction_log import PredictionBatch, PredictionLog
log = PredictionLog(sys.argv[1], sys.argv[2], journal_name="dying")
log.start()
for i in range(300):
    assert log.predictions(PredictionBatch([f"p-{i:04d}"], ["x"], np.array([[float(i)]]), [i % 3], None, "wine", 1, None, False, 0.1, time.time()))
os.kill(os.getpid(), signal.SIGKILL)  # right after the last send: no thread of this process runs again
"""


def test_what_the_log_took_survives_the_serving_process_killed_the_next_instant(store):
    """The moment a send returns (a request is answered), the row is out of the process: in the writer's pipe."""
    died = subprocess.run([sys.executable, "-c", SEND_THEN_DIE, store.url, str(store.artifacts.root)], capture_output=True, text=True, timeout=120)
    assert died.returncode == -signal.SIGKILL, died.stderr
    deadline, kept = time.monotonic() + 30, set()
    while time.monotonic() < deadline and len(kept) < 300:  # the orphaned writer reads the rest, journals and stores it
        kept = set(api.predictions("wine")["prediction_id"]) | journaled(store)
        time.sleep(0.2)
    assert kept == {f"p-{i:04d}" for i in range(300)}


def test_kill_9_under_load_keeps_every_answered_prediction_and_a_sound_store(promoted):
    """Two workers: the killed serving process (worker 0, its log writer orphaned) and its forked worker (sent SIGTERM)."""
    import sqlite3

    workers = 2
    status = api.serve("wine@production", workers=workers)
    with Load(status.url, wine_records(3)) as load:
        os.kill(status.pid, signal.SIGKILL)
        wait_until_ended(status.pid, timeout=10)
    time.sleep(1.5)  # its writer (and workers) notice it is gone and write or journal what they hold
    stored = set(api.predictions("wine")["prediction_id"])
    kept = stored | journaled(promoted)
    lost = set(load.answered) - kept
    print(f"kill -9, {workers} worker(s): {len(load.answered)} answered, {len(stored)} in the store, {len(kept - stored)} only in the journal, {len(lost)} lost")
    assert not lost and len(load.answered) > 0  # each answer was in the pipe to the writer before it was sent
    with contextlib.closing(sqlite3.connect(promoted.url.split("///", 1)[1])) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert api.deployments("wine")[0].status == "dead"
    restarted = api.serve("wine@production", workers=workers)
    with requests.Session() as session:
        assert invoke(session, restarted.url, wine_records(2)).status_code == 200
    logged = api.predictions("wine")["prediction_id"]
    assert len(logged) == len(set(logged)) and set(load.answered) - lost <= set(logged)
    api.stop("wine")


def test_a_deployment_outlives_the_kernel_that_started_it(promoted):
    """A real process (a kernel) serves the model and exits; this one finds the deployment, calls it, stops it."""
    kernel = "import sys, mlops_magic as mm; mm.set_store(sys.argv[1]); print(mm.serve('wine@production', workers=1).pid)"
    pid = int(subprocess.run([sys.executable, "-c", kernel, promoted.url], capture_output=True, text=True, timeout=120, check=True).stdout.split()[-1])
    try:
        found = api.deployments()
        assert [(d.name, d.status, d.pid, d.versions) for d in found] == [("wine", "running", pid, {"production": 1})]
        with requests.Session() as session:
            assert invoke(session, found[0].url, wine_records(2)).status_code == 200
        with pytest.raises(ServingError, match="already served at"):
            api.serve("wine@production")
        assert api.stop("wine").status == "stopped"
        wait_until_ended(pid, timeout=5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # not this process's child: the autouse fixture would not find it
    assert len(api.predictions("wine")) == 2


def test_a_busy_port_is_a_clear_error(promoted):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServingError, match=f"port {port} on 127.0.0.1 is busy"):
            api.serve("wine@production", port=port)


def test_a_model_that_fails_to_load_is_a_clear_error(promoted):
    version = promoted.model_version("wine", alias="production")
    sha = next(m.sha256 for m in promoted.get_run(version.run_id).models if m.variable == version.variable)
    path = promoted.artifacts.path_of(sha)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ServingError, match=r"exited: cannot serve: artifact .* was modified"):
        api.serve("wine@production")
    with pytest.raises(ServingError, match="'nope' is not deployed"):
        api.stop("nope")


def test_magics_serve_return_a_live_card_list_and_stop(ip):
    from mlops_magic.widgets.deployments import DeploymentCard, DeploymentsTable

    run, _ = train(logistic())
    api.promote(run.run_id, name="wine", alias="production")
    with pytest.raises(UsageError, match="give a model to serve"):
        ip.run_line_magic("mlops_serve", "")
    with pytest.raises(UsageError, match="no registered model 'nope'"):
        ip.run_line_magic("mlops_serve", "nope@production")
    card = ip.run_line_magic("mlops_serve", "wine@production")
    assert isinstance(card, DeploymentCard) and card.status.status == "running"
    assert card.status._repr_html_() == card.body.value  # mm.serve()'s status reads as the same card without a widget
    assert "curl -s http://127.0.0.1:" in card.body.value and '"alcohol": 0.0' in html.unescape(card.body.value)
    with requests.Session() as session:
        invoke(session, card.status.url, {"dataframe_records": [{c: 1.0 for c in card.status.columns}]})
    card.refresh_button.click()
    assert card.status.requests == 1 and "<td" in card.body.value
    table = ip.run_line_magic("mlops_deployments", "")
    assert isinstance(table, DeploymentsTable) and "running" in table.body.value
    stopped = ip.run_line_magic("mlops_serve", "--stop wine").status
    assert stopped.status == "stopped" and "1 served, 0.0% errors" in stopped._repr_html_()  # what it served, not the probe's dashes
    table.refresh_button.click()
    assert "stopped" in table.body.value and "running" not in table.body.value and "1 served (v1)" in table.body.value


def test_cli_serve_and_stop(promoted, capsys):
    assert cli.main(["--store", promoted.url, "serve", "wine@production"]) == 0
    out = capsys.readouterr().out
    assert "running at http://127.0.0.1:" in out and "curl -s" in out
    assert cli.main(["--store", promoted.url, "deployments"]) == 0
    assert "wine running" in capsys.readouterr().out
    assert cli.main(["--store", promoted.url, "serve", "--stop", "wine"]) == 0
    assert "wine stopped" in capsys.readouterr().out


def test_two_workers_share_the_port_log_everything_and_stop_together(promoted):
    record = wine_records(3)
    status = api.serve("wine@production", workers=2)
    answered, workers, sent = [], set(), 0
    deadline = time.monotonic() + 30
    while (len(workers) < 2 or sent < 20) and time.monotonic() < deadline:  # fresh connections until both workers answered
        with requests.Session() as session:
            answered += invoke(session, status.url, record).json()["ids"]
            health = session.get(f"{status.url}/health").json()  # the same connection: the worker that scored
        sent += 1
        assert health["pid"] == status.pid
        workers.add(health["worker"])
        time.sleep(0.01)
    assert len(workers) == 2 and len({i.split("-")[0] for i in answered}) == 2  # one id prefix per worker
    scraped = set()
    while scraped != workers and time.monotonic() < deadline:  # /health and /metrics on one connection: one worker answers both
        with requests.Session() as session:
            scraped.add(session.get(f"{status.url}/health").json()["worker"])
            metrics = session.get(f"{status.url}/metrics").text
        assert sample_sum(metrics, "mlops_requests_total") == sent and sample_sum(metrics, "mlops_request_latency_seconds_count") == sent
        assert sample_sum(metrics, "mlops_predictions_total") == sent * 3  # every worker's series, summed
        time.sleep(0.05)  # both workers idle again: otherwise the one that just answered tends to accept the next connection too
    assert scraped == workers
    with requests.Session() as session:  # whichever worker takes it, feedback finds ids the other one logged
        assert session.post(f"{status.url}/feedback", json={"ids": answered, "labels": [1] * len(answered)}).json() == {"recorded": len(answered)}
    assert api.deployments("wine")[0].requests == sent  # scoring requests of both workers
    assert api.stop("wine").status == "stopped"
    assert all(ended(worker) for worker in workers)
    logged = api.predictions("wine")["prediction_id"]
    assert sorted(logged) == sorted(answered)


def ended(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` has exited (gone, or a zombie its new parent has not reaped yet) within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z":
                return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


def sample_sum(metrics: str, name: str) -> float:
    """The sum of every sample of ``name`` in a Prometheus text exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(name + "{"))


def test_a_journal_tells_whether_rows_of_an_ended_serving_process_still_wait(tmp_path):
    from mlops_magic.store.journal import Journal, replays_waiting

    entry = {"predictions": [], "requests": [{"time": 1.0, "model": "m", "version": 1, "status_code": 200, "latency_ms": 1.0, "n_rows": 1}], "items": 1, "replayed": False}
    live = Journal(tmp_path, "live")
    live.append(entry)
    assert not replays_waiting(tmp_path)  # a live writer's own rows: it writes them
    ended = Journal(tmp_path, "ended")
    ended.append(entry)
    ended.close()  # a writer gone with its rows not stored: they wait in its file
    assert replays_waiting(tmp_path)
    assert live.adopt_orphans() == 1 and not (tmp_path / "ended.jsonl").exists()
    assert replays_waiting(tmp_path)  # adopted, not yet stored
    entries, upto = live.unstored(timeout=0)
    assert [e["replayed"] for e in entries] == [False, True]
    live.stored(upto)
    assert not replays_waiting(tmp_path) and (tmp_path / "live.jsonl").stat().st_size == 0
    live.close()
    assert not list(tmp_path.glob("*.jsonl"))
