"""Serving processes' life: SIGTERM under load loses nothing, survives a kernel restart, dead shown dead, clear errors."""

from __future__ import annotations

import html
import os
import signal
import socket
import threading
import time

import pytest
import requests
from IPython.core.error import UsageError

from mlops_magic import api, cli
from mlops_magic.errors import ServingError
from mlops_magic.serving import manager

from .serving_support import invoke, logistic, train


@pytest.fixture(autouse=True)
def no_stray_processes():
    """A test that fails half-way must not leave its serving process behind."""
    before = set(manager._children)
    yield
    for pid in set(manager._children) - before:
        manager._terminate(pid, timeout=10)


@pytest.fixture
def promoted(store):
    run, model = train(logistic())
    api.promote(run.run_id, name="wine", alias="production")
    return store


def test_sigterm_under_load_loses_no_logged_prediction(promoted):
    from .serving_support import wine_frames

    record = {"dataframe_records": wine_frames()[1].drop(columns="target").head(5).to_dict("records")}
    status = api.serve("wine@production")
    answered: list[str] = []
    stop_sending = threading.Event()

    def client():
        with requests.Session() as session:
            while not stop_sending.is_set():
                try:
                    answer = invoke(session, status.url, record)
                except requests.RequestException:
                    return  # the server has closed: stop, as a real client would
                if answer.status_code == 200:
                    answered.extend(answer.json()["ids"])

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    time.sleep(1.5)
    try:
        stopped = api.stop("wine")  # SIGTERM while the clients keep sending
    finally:
        stop_sending.set()
        for thread in clients:
            thread.join()
    assert stopped.status == "stopped" and len(answered) > 20
    logged = api.predictions("wine")["prediction_id"]
    assert len(logged) == len(answered) and set(logged) == set(answered)
    requests_log = promoted.requests_frame("wine")
    assert requests_log.query("status_code == 200")["n_rows"].sum() == len(answered)


def test_a_deployment_outlives_the_kernel_and_a_dead_process_is_shown_dead(promoted, monkeypatch):
    status = api.serve("wine@production")
    monkeypatch.setattr(manager, "_children", {})  # a new kernel: it did not start the process
    found = api.deployments()
    assert [(d.name, d.status, d.pid, d.versions) for d in found] == [("wine", "running", status.pid, {"production": 1})]
    with pytest.raises(ServingError, match="already served at"):
        api.serve("wine@production")
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while api.deployments()[0].status != "dead" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.deployments()[0].status == "dead"
    restarted = api.serve("wine@production")  # a dead deployment can be served again
    assert restarted.status == "running" and restarted.pid != status.pid
    assert api.stop("wine").status == "stopped"


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
    assert "curl -s http://127.0.0.1:" in card.body.value and '"alcohol": 0.0' in html.unescape(card.body.value)
    with requests.Session() as session:
        invoke(session, card.status.url, {"dataframe_records": [{c: 1.0 for c in card.status.columns}]})
    card.refresh_button.click()
    assert card.status.requests == 1 and "<td" in card.body.value
    table = ip.run_line_magic("mlops_deployments", "")
    assert isinstance(table, DeploymentsTable) and "running" in table.body.value
    assert ip.run_line_magic("mlops_serve", "--stop wine").status.status == "stopped"
    table.refresh_button.click()
    assert "stopped" in table.body.value and "running" not in table.body.value


def test_cli_serve_and_stop(promoted, capsys):
    assert cli.main(["--store", promoted.url, "serve", "wine@production"]) == 0
    out = capsys.readouterr().out
    assert "running at http://127.0.0.1:" in out and "curl -s" in out
    assert cli.main(["--store", promoted.url, "deployments"]) == 0
    assert "wine running" in capsys.readouterr().out
    assert cli.main(["--store", promoted.url, "serve", "--stop", "wine"]) == 0
    assert "wine stopped" in capsys.readouterr().out


def test_two_workers_share_the_port_log_everything_and_stop_together(promoted):
    from .serving_support import wine_frames

    record = {"dataframe_records": wine_frames()[1].drop(columns="target").head(3).to_dict("records")}
    status = api.serve("wine@production", workers=2)
    answered, workers = [], set()
    for _ in range(40):  # fresh connections, so both workers get some
        with requests.Session() as session:
            answered += invoke(session, status.url, record).json()["ids"]
            health = session.get(f"{status.url}/health").json()
            assert health["pid"] == status.pid
            workers.add(health["worker"])
    assert len(workers) == 2 and len({i.split("-")[0] for i in answered}) == 2  # one id prefix per worker
    scraped = set()
    for _ in range(40):  # /health and /metrics on one connection: one worker answers both
        with requests.Session() as session:
            scraped.add(session.get(f"{status.url}/health").json()["worker"])
            metrics = session.get(f"{status.url}/metrics").text
        assert sample_sum(metrics, "mlops_requests_total") == 40 and sample_sum(metrics, "mlops_request_latency_seconds_count") == 40
        assert sample_sum(metrics, "mlops_predictions_total") == 40 * 3  # every worker's series, summed
        if scraped == workers:
            break
        time.sleep(0.05)  # both workers idle again: otherwise the one that just answered tends to accept the next connection too
    assert scraped == workers
    with requests.Session() as session:  # whichever worker takes it, feedback finds ids the other one logged
        assert session.post(f"{status.url}/feedback", json={"ids": answered, "labels": [1] * len(answered)}).json() == {"recorded": len(answered)}
    assert api.deployments("wine")[0].requests == 40  # scoring requests of both workers
    assert api.stop("wine").status == "stopped"
    for worker in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)
    logged = api.predictions("wine")["prediction_id"]
    assert sorted(logged) == sorted(answered)


def sample_sum(metrics: str, name: str) -> float:
    """The sum of every sample of ``name`` in a Prometheus text exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(name + "{"))
