"""The watcher: evaluate every policy with an action on its own window, on an interval, and act.

One watcher per store and model, held by the store's ``watchers`` row (claimed, renewed by each
tick's heartbeat, released on exit): a second watcher of the same model exits with one line.

Each tick first supervises the model's jobs (one past its timeout is killed), then evaluates each
window that a retraining policy uses (``monitor_model`` with ``record=True``, so alerts are
recorded as ``%mlops_monitor`` records them). A policy fires when its newest window crosses the
threshold (or drifts, for a drift trigger), that window holds at least ``min_labelled`` labelled
predictions, the alert has not started a job already, and ``store.start_job`` grants a job (none
running, none within the cool-down): then the job's process is started (the alert itself was
recorded, with its ``alert.fired`` event, by the monitoring evaluation).

``python -m mlops_magic.loop.watch`` (``mlops-magic watch``) is the watcher process.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import dataclass, field

from ..config import store_location
from ..errors import ConflictError, MLOpsError
from ..monitoring.monitor import monitor_model
from ..monitoring.policies import on_window
from ..store import Store
from . import jobs
from .actions import DRIFT, parse_duration

DEFAULT_INTERVAL = "5s"


@dataclass
class Decision:
    """What one policy led to in one tick: ``fired`` (with the job started) or why it held."""

    policy_id: int | None
    metric: str
    outcome: str  # fired | within bounds | too few labels | already fired | held
    detail: str
    alert_id: int | None = None
    job_id: int | None = None


@dataclass
class Tick:
    """One evaluation of a model's retraining policies."""

    model: str
    decisions: list[Decision] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # jobs ended by supervision (killed past the timeout, or lost)

    @property
    def job_ids(self) -> list[int]:
        return [d.job_id for d in self.decisions if d.job_id is not None]

    def __repr__(self) -> str:
        lines = [f"{d.metric}: {d.outcome} ({d.detail})" for d in self.decisions] or ["no policy with an action"]
        return f"<Watch {self.model}: " + "; ".join(lines) + ">"


def action_policies(store, model: str):
    return [p for p in store.policies(model) if p.retrain]


def _crossings(report, policy):
    """The alerts of this evaluation that ``policy`` reacts to: the newest realised window's, then
    the newest window's when it is newer and only estimated (``policies.newest_values``)."""
    kind = "drift" if policy.trigger == DRIFT else "threshold"
    return [a for a in report.fired if a["kind"] == kind and (kind == "drift" or (a["metric"] == policy.metric and a.get("slice") == policy.slice))]


def _labelled(report, alert) -> int:
    """The labelled predictions of the alert's window (of its slice's rows, for a policy on a slice)."""
    windows = report.series_table(alert.get("slice"))
    ends = [end.timestamp() for end in windows["end"]]
    at = [i for i, end in enumerate(ends) if abs(end - alert["window"]["end"]) < 1e-6]
    return int(windows["n_labelled"].iloc[at[-1]]) if at else 0


def _alert_id(store, model: str, alert) -> int | None:
    recorded = store.alerts_frame(model, limit=200)
    for row in recorded.itertuples():
        same_slice = (row.slice if isinstance(row.slice, str) else None) == alert.get("slice")
        if row.kind == alert["kind"] and row.window == alert["window"] and (row.metric == alert["metric"] or alert["metric"] is None) and same_slice:
            return int(row.alert_id)
    return None


def tick(store, model: str, job_timeout: float = jobs.JOB_TIMEOUT_S) -> Tick:
    """One evaluation of ``model``'s retraining policies; starts (never waits for) at most one job."""
    result = Tick(model, ended=[j.job_id for j in jobs.supervise(store, model, job_timeout)])
    policies = action_policies(store, model)
    fired_before = {j.alert_id for j in store.jobs(model) if j.alert_id is not None}
    for window in sorted({p.window for p in policies}):
        report = monitor_model(store, model, window, record=True)
        for policy in on_window(policies, window):
            decision = _decide(store, report, policy, fired_before, job_timeout)
            result.decisions.append(decision)
            if decision.alert_id is not None:
                fired_before.add(decision.alert_id)
    return result


def _decide(store, report, policy, fired_before: set[int], job_timeout: float) -> Decision:
    crossed = [(alert, _labelled(report, alert)) for alert in _crossings(report, policy)]
    if not crossed:
        return Decision(policy.policy_id, policy.metric, "within bounds", f"window {policy.window}")
    enough = [(alert, labelled) for alert, labelled in crossed if labelled >= policy.min_labelled]
    if not enough:
        most = max(labelled for _, labelled in crossed)
        return Decision(policy.policy_id, policy.metric, "too few labels", f"{most} labelled predictions in the crossing window < {policy.min_labelled}")
    alert, labelled = enough[0]
    alert_id = _alert_id(store, policy.model, alert)
    if alert_id in fired_before:
        return Decision(policy.policy_id, policy.metric, "already fired", f"alert {alert_id} already started a job", alert_id)
    job_id = store.start_job(policy.model, policy.policy_id, alert_id, policy.cooldown_s)
    if job_id is None:
        return Decision(policy.policy_id, policy.metric, "held", f"a job is running or ended under {policy.cooldown_s:g} s ago (cool-down)")
    jobs.launch(store, job_id, policy.model, job_timeout)
    return Decision(policy.policy_id, policy.metric, "fired", alert["message"], alert_id, job_id)


class WatcherHeld(ConflictError):
    """Another watcher holds the model's lock."""


def claim(store, model: str, interval_s: float, announce: bool) -> None:
    if not store.claim_watcher(model, interval_s, stale_after_s=max(30.0, 5 * interval_s), announce=announce):
        held = next((w for w in store.watcher_records() if w["model"] == model), {})
        raise WatcherHeld(f"{model} is already watched by pid {held.get('pid')} on {held.get('host')}: one watcher per store and model; stop that one first.")


def watching(store, models: list[str], interval: str | float = DEFAULT_INTERVAL, once: bool = False, job_timeout: float = jobs.JOB_TIMEOUT_S, stop: threading.Event | None = None):
    """Watch ``models`` (holding each one's lock), yielding each ``Tick``, every ``interval`` until
    ``stop`` is set (or once); the locks are released when it ends."""
    interval_s = parse_duration(interval, "--interval")
    stop = stop or threading.Event()
    claimed, ticks = [], 0
    try:
        for model in models:
            store.model_versions(model)  # NotFoundError names the fix
            claim(store, model, interval_s, announce=not once)  # a one-off check is not a schedule: no lineage event
            claimed.append(model)
        while True:
            for model in models:
                if not store.beat_watcher(model):
                    raise WatcherHeld(f"the watcher lock of {model} was taken by another watcher: this one stops.")
                yield tick(store, model, job_timeout)
            ticks += 1
            if once or stop.wait(interval_s):
                return
    finally:
        for model in claimed:
            store.release_watcher(model, None if once else ticks)


def _webhook_sender(store):
    """The webhook sender (``loop/webhooks.py``), started beside the watcher."""
    from . import webhooks

    sender = webhooks.WebhookSender(store)
    sender.start()
    return sender


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_magic.loop.watch", description="Watch models' policies and retrain when they fire.")
    parser.add_argument("--store", default=store_location(), help="the store's SQLAlchemy URL or folder (default MLOPS_MAGIC_STORE)")
    parser.add_argument("--artifacts", default=None)
    parser.add_argument("models", nargs="*", help="models to watch (default: every model with a retraining policy)")
    parser.add_argument("--interval", default=DEFAULT_INTERVAL)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--job-timeout", default=f"{jobs.JOB_TIMEOUT_S:g}s")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        store = Store(args.store, args.artifacts)
        models = args.models or sorted({p.model for p in store.policies() if p.retrain})
        if not models:
            print("mlops-magic watch: no model has a policy with an action: add one with %mlops_policy NAME ... --retrain.", file=sys.stderr)
            return 2
        sender = _webhook_sender(store)
        print(f"mlops-magic watch: watching {', '.join(models)} every {args.interval} (pid {os.getpid()})", flush=True)
        try:
            for ticked in watching(store, models, args.interval, args.once, parse_duration(args.job_timeout, "--job-timeout"), stop):
                if args.once or ticked.job_ids:
                    print(f"mlops-magic watch: {ticked!r}", flush=True)
        finally:
            sender.stop()
    except MLOpsError as error:
        print(f"mlops-magic watch: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
