"""Retraining jobs seen from the watcher (or ``mm.retrain``): start one process, watch it, kill it past its timeout.

A job is a row of the store's ``jobs`` table first (``store.start_job``: at most one per model, and
none within the cool-down), then ``python -m mlops_magic.loop.retrain`` in its own session at a
lower CPU priority. The process records its own outcome; a process that outlives ``timeout`` is
killed (its whole process group, the replay included) and the job recorded ``killed``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ..store.loop import Job

JOB_TIMEOUT_S = 1800.0
JOB_NICE = 10  # added to the job's niceness: serving keeps the CPU first


def log_path(store, model: str, job_id: int):
    """The output file of a job's process, beside the serving logs."""
    return store.deployment_log_path(model).with_name(f"{model}.job-{job_id}.log")


def launch(store, job_id: int, model: str, timeout: float = JOB_TIMEOUT_S) -> subprocess.Popen:
    """Start the process of job ``job_id`` (recorded running) and record its pid."""
    options, environment = store.for_a_process()
    command = [sys.executable, "-m", "mlops_magic.loop.retrain", *options, "--job", str(job_id), "--timeout", str(timeout)]
    with open(log_path(store, model, job_id), "ab") as log:
        process = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=lambda: os.nice(JOB_NICE)
        )
    store.update_job(job_id, pid=process.pid)
    return process


def _reaped_or_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (reaped here when this process started it)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return open(f"/proc/{pid}/stat").read().split(") ", 1)[1][0] == "Z"
    except (OSError, IndexError):
        return False


def supervise(store, model: str, timeout: float = JOB_TIMEOUT_S) -> list[Job]:
    """Kill ``model``'s running jobs older than ``timeout`` (recorded ``killed``), and record as
    ``failed`` those whose process ended without recording an outcome. Returns the jobs ended here."""
    ended = []
    for job in store.jobs(model, status="running"):
        if job.pid is None:
            continue  # its process is being started
        if time.time() - job.started_at > timeout:
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            _reaped_or_gone(job.pid)
            why = f"the job ran longer than its timeout of {timeout:g} s and was killed"
            if store.finish_job(job.job_id, "killed", error=why):
                store.record_event("retrain.failed", model, policy_id=job.policy_id, alert_id=job.alert_id, job_id=job.job_id, detail={"error": why, "status": "killed"})
                ended.append(job)
        elif _reaped_or_gone(job.pid):
            why = f"the job process {job.pid} ended without recording an outcome; see {log_path(store, model, job.job_id)}"
            if store.finish_job(job.job_id, "failed", error=why):
                store.record_event("retrain.failed", model, policy_id=job.policy_id, alert_id=job.alert_id, job_id=job.job_id, detail={"error": why})
                ended.append(job)
    return ended


def wait(store, job_id: int, timeout: float = JOB_TIMEOUT_S, poll: float = 0.2) -> Job:
    """Wait until job ``job_id`` has ended (killing it past ``timeout``); return it."""
    while True:
        job = store.jobs(job_id=job_id)[0]
        if job.status != "running":
            return job
        supervise(store, job.model, timeout)
        time.sleep(poll)
