"""Serving processes seen from the kernel: start one and wait until it is ready, list, probe, stop.

A process runs in its own session, so it outlives the kernel; the store's ``deployments`` table
is how a new kernel finds it again. A deployment is ``running`` when its recorded pid answers
``/health`` on its port, ``dead`` when it does not, ``stopped`` after ``stop``.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from .. import html as h
from ..errors import ServingError, StoreError
from ..store.deployments import DeploymentRecord
from . import DEFAULT_WORKERS
from .ports import free_port, port_is_free
from .router import Target
from .security import TOKEN_VARIABLE, refusal
from .served import Served, served


@dataclass
class DeploymentStatus:
    """A deployment as it is now: where, what, and whether its process answers."""

    name: str
    url: str
    status: str  # running | dead | stopped
    pid: int
    target: dict[str, Any]
    started_at: float
    versions: dict[str, int] = field(default_factory=dict)
    requests: int | None = None
    schema: list[dict[str, str]] = field(default_factory=list)  # input columns: [{"name", "dtype"}]
    log_path: str | None = None
    watcher: dict[str, Any] | None = None  # the model's policy watcher: pid, alive, heartbeat_at (or why it did not start)
    served: Served | None = None  # what a process no longer running served, from the store's request log (``statuses``, ``stop``)

    @property
    def description(self) -> str:
        return Target.from_dict(self.target).describe()

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.schema]

    def curl_example(self) -> str:
        from .payloads import is_numeric

        record = {c["name"]: 0.0 if is_numeric(c["dtype"]) else "" for c in self.schema} or {"feature": 0.0}
        body = json.dumps({"dataframe_records": [record]})
        return f"curl -s {self.url}/invocations -H 'Content-Type: application/json' -d '{body}'"

    def _repr_html_(self) -> str:
        return card_html(self)

    def __repr__(self) -> str:
        versions = ", ".join(f"{label}=v{v}" for label, v in self.versions.items()) or "-"
        count = "" if self.requests is None else f", {self.requests} requests"
        watcher = f", {watcher_text(self.watcher)}" if self.watcher else ""
        return f"<Deployment {self.name} {self.status} at {self.url} ({versions}{count}) pid {self.pid}{watcher}>"


PROBE_TIMEOUT_S = 5.0  # a process busy for longer than this (not merely slow under load) is shown dead
STATUS_COLOURS = {"running": h.GOOD, "dead": h.BAD, "stopped": h.MUTED}


def started_text(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def versions_text(status) -> str:
    return ", ".join(f"{label} → v{version}" for label, version in status.versions.items()) or "–"


def watcher_text(watcher: dict[str, Any]) -> str:
    if watcher.get("error"):
        return f"watcher not started: {watcher['error']}"
    return f"watcher pid {watcher['pid']} {'alive' if watcher['alive'] else 'not running'}"


def card_html(status: DeploymentStatus) -> str:
    """A deployment as static HTML: status, URL, what it serves, versions, requests, a curl example;
    for one no longer running, what it served (``status.served``), not dashes."""
    rows = [
        ["status", h.badge(status.status, STATUS_COLOURS.get(status.status, h.MUTED))],
        ["URL", f'<a href="{h.escape(status.url)}/docs" target="_blank">{h.escape(status.url)}</a> (API docs at /docs)'],
        ["serves", h.escape(status.description)],
    ]
    if status.status == "running" or status.served is None:
        rows += [["versions", h.escape(versions_text(status))], ["requests", h.escape("–" if status.requests is None else status.requests)]]
    else:
        rows += served_rows(status.served)
    rows.append(["process", h.escape(f"pid {status.pid}, started {started_text(status.started_at)}")])
    if status.watcher:
        rows.append(["watcher", h.escape(watcher_text(status.watcher))])
    example = h.code(status.curl_example()) if status.status == "running" else ""
    return f"<b>Deployment {h.escape(status.name)}</b>" + h.table(["", ""], rows, raw=True) + example


def served_rows(served: Served) -> list[list[str]]:
    """The card's rows of what a deployment served while it ran."""
    if not served.requests:
        rows = [["requests", "none served"]]
    else:
        rows = [
            ["versions served", h.escape(served.versions_text)],
            ["requests", h.escape(f"{served.count_text} served, {served.error_rate:.1%} errors (4xx and 5xx)")],
            ["latency", h.escape(f"p50 {served.latency_p50:.3g} ms, p95 {served.latency_p95:.3g} ms")],
            ["last request", h.escape(started_text(served.last_request_at))],
        ]
    if served.stopped_at is not None:
        rows.append(["stopped", h.escape(started_text(served.stopped_at))])
    return rows


def open_log(path):
    """The process's log file, opened to append; a folder it cannot write is a one-line ``ServingError``."""
    try:
        return open(path, "ab")  # noqa: SIM115 - the caller's with-block closes it
    except OSError as exc:
        raise ServingError(f"cannot write the serving log {path}: {exc.strerror}. Make the store's folder writable.") from None


def start(
    store, target: Target, host: str = "127.0.0.1", port: int | None = None, workers: int = DEFAULT_WORKERS, timeout: float = 60.0, token: str | None = None
) -> DeploymentStatus:
    """Start a serving process for ``target`` (``workers`` processes on its port), wait until it answers ``/ready``, record it.

    ``token`` (else ``MLOPS_MAGIC_TOKEN`` of this process) reaches it in its environment, never its command line;
    beyond loopback there must be one."""
    token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
    refused = refusal(host, token)
    if refused:
        raise ServingError(refused)
    existing = store.deployment(target.name)
    if existing is not None and existing.stopped_at is None and probe(existing).status == "running":
        raise ServingError(f"{target.name} is already served at {existing.url}: stop it first with %mlops_serve --stop {target.name}.")
    port = port or free_port(host)
    if not port_is_free(host, port):
        raise ServingError(f"port {port} on {host} is busy: choose another --port, or stop what uses it.")
    log_path = store.deployment_log_path(target.name)
    options, environment = store.for_a_process()
    command = [
        sys.executable, "-m", "mlops_magic.serving", *options,
        "--target", json.dumps(target.to_dict()), "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with open_log(log_path) as log:
        environment = {k: v for k, v in environment.items() if k != TOKEN_VARIABLE} | ({TOKEN_VARIABLE: token} if token is not None else {})
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=environment)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while True:
            if process.poll() is not None:
                raise ServingError(f"the serving process for {target.name} exited: {last_line(log_path)}")
            try:
                if session.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                _terminate(process.pid)
                raise ServingError(f"the serving process for {target.name} was not ready after {timeout:.0f} s; see {log_path}.")
            time.sleep(0.05)
    record = store.record_deployment(target.name, target.to_dict(), host, port, process.pid)
    watcher = start_watcher(store, target.name) if any(p.retrain for p in store.policies(target.name)) else None
    return _with_watcher(store, probe(record, log_path, token), watcher)


def start_watcher(store, name: str, timeout: float = 30.0) -> dict[str, Any]:
    """Start the policy watcher of ``name`` (``python -m mlops_magic.loop.watch``) in its own session and
    wait until it holds the model's watcher lock; ``{"error": ...}`` if it exits first (e.g. another holds it)."""
    log_path = store.deployment_log_path(name).with_name(f"{name}.watch.log")
    options, environment = store.for_a_process()
    command = [sys.executable, "-m", "mlops_magic.loop.watch", *options, name]
    with open_log(log_path) as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(w["model"] == name and w["pid"] == process.pid for w in store.watcher_records()):
            return {"pid": process.pid}
        if process.poll() is not None:
            return {"error": last_line(log_path).removeprefix("mlops-magic watch: ")}
        time.sleep(0.05)
    _terminate(process.pid)
    return {"error": f"the watcher did not take the lock of {name} within {timeout:.0f} s; see {log_path}"}


def _with_watcher(store, status: DeploymentStatus, started: dict[str, Any] | None = None) -> DeploymentStatus:
    """``status`` with the model's watcher (the lock's holder), or why the one just started is not running."""
    held = next((w for w in store.watcher_records() if w["model"] == status.name), None)
    if held is not None:
        status.watcher = {"pid": held["pid"], "alive": held["host"] != socket.gethostname() or _alive(held["pid"]), "heartbeat_at": held["heartbeat_at"]}
    elif started is not None and "error" in started:
        status.watcher = started
    return status


def stop_watcher(store, name: str, timeout: float = 30.0) -> None:
    """Stop the watcher of ``name`` running on this machine (it releases its lock on the way out)."""
    held = next((w for w in store.watcher_records() if w["model"] == name), None)
    if held is not None and held["host"] == socket.gethostname() and held["pid"] != os.getpid():
        _terminate(held["pid"], timeout)


def last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].removeprefix("mlops-serving: ") if lines else "no output"


def probe(record: DeploymentRecord, log_path: Path | None = None, token: str | None = None) -> DeploymentStatus:
    """The deployment's live status: its pid must answer ``/health`` on the recorded port. What it serves
    comes from ``/model``, which a token-guarded process shows only with ``token`` (else ``MLOPS_MAGIC_TOKEN``)."""
    status = DeploymentStatus(record.name, record.url, "stopped", record.pid, record.target, record.started_at, log_path=str(log_path) if log_path else None)
    if record.stopped_at is not None:
        return status
    status.status = "dead"
    if not _alive(record.pid):
        return status
    try:
        health = requests.get(f"{record.url}/health", timeout=PROBE_TIMEOUT_S).json()
        if health.get("pid") != record.pid:
            return status
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
        answer = requests.get(f"{record.url}/model", timeout=PROBE_TIMEOUT_S, headers={"Authorization": f"Bearer {token}"} if token else None)
        if answer.status_code == 401:  # running; what it serves is not shown without its token
            status.status, status.requests = "running", health.get("requests")
            return status
        model = answer.json()
        status.versions = {v["label"]: v["version"] for v in [*model["variants"], *([model["shadow"]] if model["shadow"] else [])]}
        status.schema = model["input_schema"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return status
    status.status, status.requests = "running", health.get("requests")
    return status


def stop(store, name: str, timeout: float = 30.0) -> DeploymentStatus:
    """SIGTERM the serving process of ``name`` (it writes every queued prediction first, or journals it) and wait for it."""
    record = store.deployment(name)
    if record is None:
        deployed = ", ".join(r.name for r in store.deployment_records()) or "none"
        raise ServingError(f"{name!r} is not deployed (deployments: {deployed}).")
    if record.stopped_at is None and probe(record).status == "running":
        if not _terminate(record.pid, timeout):
            raise ServingError(f"the serving process {record.pid} of {name} did not stop within {timeout:.0f} s; kill it with: kill -9 {record.pid}")
    stop_watcher(store, name, timeout)
    store.mark_deployment_stopped(name)
    return _with_served(store, probe(store.deployment(name), store.deployment_log_path(name)))


def statuses(store, name: str | None = None) -> list[DeploymentStatus]:
    records = store.deployment_records()
    return [_with_served(store, _with_watcher(store, probe(r, store.deployment_log_path(r.name)))) for r in records if name is None or r.name == name]


def _with_served(store, status: DeploymentStatus) -> DeploymentStatus:
    """``status`` with what its process served once it no longer runs (its card shows that, not the probe's
    dashes); as the probe saw it if the store's request log cannot be read now."""
    if status.status != "running":
        try:
            status.served = served(store, status.name)
        except StoreError:
            pass
    return status


def _terminate(pid: int, timeout: float = 30.0) -> bool:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:  # a process this one started is reaped here once it has exited, so it never lingers as a zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # started by another process (an earlier kernel, the command line)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True
