"""One retraining job, in its own process: ``python -m mlops_magic.loop.retrain --job ID``.

The champion is the version the policy's alias (default ``production``) points at. Its run's
recipe is replayed on the run's training snapshot plus the labelled production rows (their logged
inputs and feedback labels, in the training frame's columns and target name), with the newest
labelled window held out and never trained on: the policy's ``window`` (the newest N labelled
rows, or those of the newest span of time). ``production_rows`` says which of the older labelled
rows are added: ``all``, ``recent:N`` (the newest N) or ``none``.

Challenger and champion are scored on the held-out window and on the run's eval snapshot. The
challenger is promoted to the alias only if, on the held-out window, it passes the gate and beats
the champion by ``min_improvement`` (absolute, in the metric's direction); the promotion then goes
through the registry's own gates (``registry.promote`` with the gate as ``require``, never forced),
which check the challenger's recorded metrics on the eval snapshot and that it is not worse there
than the champion. Every step is a lineage event; a failure is recorded with its traceback and
leaves the registry and production as they were.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import traceback
from typing import Any

from ..config import store_location
from ..errors import GateError, InvalidInputError
from ..metrics import Catalog
from ..monitoring.monitor import load_version_model
from ..monitoring.windows import DEFAULT_WINDOW, parse_window
from ..registry import GateCheck, check_requirements, parse_conditions, primary_metric, promote
from ..store import Store
from ..store.monitoring import Policy
from ..tracking.metrics import evaluate
from ..tracking.replay import REPLAY_TIMEOUT_S, replay_run, snapshot_frame
from .actions import DEFAULT_ALIAS


def default_policy(model: str) -> Policy:
    """What ``mm.retrain`` uses for a model with no retraining policy: the defaults of ``set_policy``."""
    return Policy(None, model, "accuracy", None, None, DEFAULT_WINDOW, 0.0, retrain=True)


def policy_of(store, model: str, policy_id: int | None) -> Policy:
    """The job's policy; if it was replaced since the job started, the model's retraining policy now
    (its gate holds, never none); the defaults only for a job asked for by hand without one."""
    policies = store.policies(model)
    found = [p for p in policies if p.policy_id == policy_id] or [p for p in policies if p.retrain]
    if found:
        return found[0]
    if policy_id is not None:
        raise InvalidInputError(f"policy {policy_id} of {model} was removed and no retraining policy replaced it: nothing says how to gate a retrained model.")
    return default_policy(model)


def production_frames(store, run, policy: Policy):
    """(rows to train on, the held-out window): labelled production rows as frames laid out as the
    run's training data (its feature columns and target name), oldest first."""
    import pandas as pd

    dataset = run.datasets["train"]
    features = [c for c in dataset.columns if c != dataset.target]
    logged = store.predictions_frame(policy.model, include_shadow=False)
    logged = logged[logged["label"].notna()].sort_values(["time", "prediction_id"], kind="stable")
    frame = logged[[f"inputs.{c}" for c in features if f"inputs.{c}" in logged.columns]].rename(columns=lambda c: c[len("inputs.") :])
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"the logged inputs of {policy.model} lack the training columns {missing}: the production rows cannot be trained on.")
    frame = frame.reindex(columns=features)
    frame[dataset.target] = list(logged["label"])
    frame = frame.reset_index(drop=True)
    spec = parse_window(policy.window)
    if spec.count is not None:
        cut = max(0, len(frame) - spec.count)
    else:
        times = logged["time"].reset_index(drop=True)
        cut = int((times <= times.iloc[-1] - pd.Timedelta(seconds=spec.seconds)).sum()) if len(times) else 0
    held_out, older = frame.iloc[cut:], frame.iloc[:cut]
    if not len(held_out):
        raise InvalidInputError(f"{policy.model} has no labelled production rows to hold out: send feedback labels to /feedback first.")
    if policy.production_rows == "none":
        older = older.iloc[:0]
    elif policy.production_rows.startswith("recent:"):
        older = older.iloc[max(0, len(older) - int(policy.production_rows[7:])) :]
    return older, held_out


def _like(frame, reference):
    """``frame`` with the dtypes of ``reference`` where they convert (logged JSON turns ints into floats and back)."""
    for column in frame.columns:
        if column in reference.columns:
            try:
                frame[column] = frame[column].astype(reference[column].dtype)
            except (TypeError, ValueError):
                pass
    return frame


def scores(store, run, frame, task: str, catalog: Catalog, names=(), problems: list[str] | None = None) -> dict[str, float]:
    """The standard and defined metrics (and ``names``) of ``run``'s model on ``frame`` (features and
    target); a metric that cannot be computed adds its line to ``problems``."""
    dataset = run.datasets["train"]
    _, model = load_version_model(store, run, run.model.variable)
    features = [c for c in dataset.columns if c != dataset.target]
    values, lines = evaluate(model, frame[features], frame[dataset.target], task, catalog, names)
    if problems is not None:
        problems.extend(line for line in lines if line not in problems)
    return values


def decide(policy: Policy, metric: str, challenger_run, challenger: dict[str, float], champion: dict[str, float], catalog: Catalog) -> tuple[bool, list[str]]:
    """Whether the challenger passes the gate and the margin on the held-out window; the reasons it does not."""
    reasons = []
    as_scored = dataclasses.replace(challenger_run, metrics=challenger)
    for check in check_requirements(as_scored, parse_conditions([policy.gate] if policy.gate else [])):
        if not check.passed:
            reasons.append(f"gate {check.detail} on the held-out window")
    new, old = challenger.get(metric), champion.get(metric)
    if new is None or old is None:
        reasons.append(f"{metric} could not be scored on the held-out window")
    else:
        improvement = new - old if catalog.higher_is_better(metric) else old - new
        if improvement < policy.min_improvement:
            reasons.append(
                f"margin: challenger {metric} {new:.4g} vs champion {old:.4g} on the held-out window, "
                f"an improvement of {improvement:+.4g} < {policy.min_improvement:g}"
            )
    return not reasons, reasons


def run_job(store, job_id: int, timeout: float = REPLAY_TIMEOUT_S) -> str:
    """Do job ``job_id`` (recorded running): retrain, score, gate, promote. Returns its final status."""
    import pandas as pd

    job = store.jobs(job_id=job_id)[0]
    policy = policy_of(store, job.model, job.policy_id)
    alias = policy.alias or DEFAULT_ALIAS
    ids: dict[str, Any] = {"policy_id": job.policy_id, "alert_id": job.alert_id, "job_id": job_id}
    champion_version = None
    try:
        champion_version = store.model_version(job.model, alias=alias)
        champion = store.get_run(champion_version.run_id)
        store.record_event("retrain.started", job.model, version=champion_version.version, run_id=champion.run_id, **ids, detail={"alias": alias, "policy": policy.metric})
        task = champion.task or "classification"
        catalog = Catalog.of(store)
        known = catalog.get(policy.metric) if policy.trigger == "threshold" else None
        metric = policy.metric if known is not None and known.applies_to(task) else primary_metric(champion) or "accuracy"
        names = (metric, *(c.metric for c in parse_conditions([policy.gate] if policy.gate else [])))
        problems: list[str] = []
        training = snapshot_frame(store, champion, "train")
        older, held_out = production_frames(store, champion, policy)
        data = pd.concat([training, _like(older, training)], ignore_index=True)
        held_out = _like(held_out, training)
        challenger = store.get_run(replay_run(store, champion.run_id, data=data, timeout=timeout))
        detail: dict[str, Any] = {
            "metric": metric,
            "trained_rows": len(data),
            "production_rows": len(older),
            "held_out_rows": len(held_out),
            "held_out": {side: scores(store, r, held_out, task, catalog, names, problems) for side, r in (("challenger", challenger), ("champion", champion))},
        }
        if "eval" in champion.datasets and champion.datasets["eval"].snapshot_sha256:
            evaluation = snapshot_frame(store, champion, "eval")
            detail["eval"] = {side: scores(store, r, evaluation, task, catalog, names, problems) for side, r in (("challenger", challenger), ("champion", champion))}
        if problems:
            detail["problems"] = problems
        passed, reasons = decide(policy, metric, challenger, detail["held_out"]["challenger"], detail["held_out"]["champion"], catalog)
        store.record_event("retrain.finished", job.model, version=champion_version.version, run_id=challenger.run_id, **ids, detail=detail)
        promoted = None
        if passed:
            try:
                new, old = detail["held_out"]["challenger"].get(metric), detail["held_out"]["champion"].get(metric)
                gate = f"champion/challenger vs {alias} v{champion_version.version} on the held-out window"
                verdict = GateCheck(gate, True, f"{gate}: {metric} {new} against {old} (margin {policy.min_improvement:g})")
                promoted = promote(
                    store, challenger.run_id, job.model, alias=alias, require=[policy.gate] if policy.gate else None,
                    reason=f"retrained by job {job_id}", compared_with=(champion_version.version, verdict), via="policy",
                )
            except GateError as refused:
                reasons.append(str(refused))
        if promoted is None:
            figures = {"challenger": detail["held_out"]["challenger"].get(metric), "champion": detail["held_out"]["champion"].get(metric)}
            store.record_event("promotion.refused", job.model, version=champion_version.version, run_id=challenger.run_id, **ids, detail={"reasons": reasons, "metric": metric, **figures})
            store.finish_job(job_id, "refused", run_id=challenger.run_id, error="; ".join(reasons), detail=detail)
            return "refused"
        store.finish_job(job_id, "promoted", run_id=challenger.run_id, detail={**detail, "version": promoted.version, "alias": alias})
        return "promoted"
    except Exception as error:
        trace = traceback.format_exc()
        store.record_event(
            "retrain.failed", job.model, version=champion_version.version if champion_version else None, **ids,
            detail={"error": f"{type(error).__name__}: {error}", "traceback": trace},
        )  # fmt: skip
        store.finish_job(job_id, "failed", error=trace)
        return "failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_magic.loop.retrain", description="Run one retraining job of the store.")
    parser.add_argument("--store", default=store_location(), help="the store's SQLAlchemy URL or folder (default MLOPS_MAGIC_STORE)")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--job", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=REPLAY_TIMEOUT_S, help="seconds the replay may take")
    args = parser.parse_args(argv)
    status = run_job(Store(args.store, args.artifacts), args.job, args.timeout)
    print(f"mlops-magic retrain: job {args.job} {status}", flush=True)
    return 0 if status in ("promoted", "refused") else 1


if __name__ == "__main__":
    sys.exit(main())
