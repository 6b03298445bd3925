"""The command line ``mlops-magic``: the same operations as the magics, for scripts and CI/CD.

Each sub-command parses its arguments, calls one ``api`` function and prints the result.
Errors a user can fix print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .errors import MLOpsError
from .loop.flags import add_policy_flags
from .metrics.flags import add_metric_flags
from .serving import DEFAULT_WORKERS
from .tutorials import DEFAULT_FOLDER, copy_tutorials


def _runs(args) -> int:
    from . import api

    frame = api.runs(args.experiment, sort=args.sort, ascending=True if args.asc else None, limit=args.limit, where=args.where)
    print(frame.to_string(index=False) if len(frame) else "no runs")
    return 0


def _metric(args) -> int:
    """Define (or --drop) a metric for the store, or list the defined ones."""
    from . import api
    from .metrics.flags import metric_arguments

    if args.name is None:
        print(repr(api.defined_metrics()))
    elif args.drop:
        print(repr(api.drop_metric(args.name)))
    else:
        print(repr(api.define_metric(args.name, **metric_arguments(args))))
    return 0


def _tour(args) -> int:
    from .tour import run_tour

    return run_tour(args.dir)


def _tutorials(args) -> int:
    copied, kept = copy_tutorials(args.folder)
    for path in kept:
        print(f"mlops-magic: kept {path}: it was changed since it was copied; move it away to get this version's.", file=sys.stderr)
    if copied:
        print(f"{len(copied)} tutorials in {args.folder}: " + ", ".join(path.name for path in copied))
    print(f"open them with: jupyter lab {shlex.quote(args.folder)}")
    return 2 if kept else 0


def _monitor_check(args) -> int:
    """Evaluate the model's policies (and drift) once; exit 1 when any alert fires, for cron/CI."""
    from . import api

    fired = []
    for report in api.check_policies(args.model, via="cli"):
        print(report.summary() + f" (window {report.window})")
        fired += report.fired
    for alert in fired:
        print(f"ALERT [{alert['kind']}] {alert['message']}")
    return 1 if fired else 0


def _monitor_retention(args) -> int:
    from . import api
    from .monitoring.windows import retention_line

    print(retention_line(api.set_retention(args.model, args.keep)))
    return 0


def _monitor_policy(args) -> int:
    from . import api
    from .loop.actions import describe
    from .loop.flags import policy_arguments

    metric, keywords = policy_arguments(args)
    policy = api.set_policy(args.model, metric, **keywords)
    print(f"policy {policy.policy_id} stored: {describe(policy)}")
    return 0


def _watch(args) -> int:
    """The watcher process: evaluate the retraining policies every --interval (or --once) and act."""
    from . import api
    from .loop.watch import main as watch_main

    store = api.get_store()
    options = ["--store", store.url, "--artifacts", str(store.artifacts.root), "--interval", args.interval, "--job-timeout", args.job_timeout]
    return watch_main([*options, *(["--once"] if args.once else []), *([args.name] if args.name else [])])


def _retrain(args) -> int:
    """One retraining job now, as the model's policy runs it; exit 1 unless it promoted a version."""
    from . import api

    job = api.retrain(args.name)
    print(f"job {job.job_id} {job.status}" + (f": run {job.run_id}" if job.run_id else "") + (f" ({job.error.strip().splitlines()[-1]})" if job.error else ""))
    return 0 if job.status == "promoted" else 1


def _replay(args) -> int:
    from . import api

    data = _read_frame(args.data) if args.data else None
    run = api.replay(args.run, data=data)
    if args.quiet:
        print(run.run_id)
    else:
        print(f"run {run.run_id} (replay of {run.parent_run_id}): " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(run.metrics.items())))
    return 0


def _maturity(args) -> int:
    """Print the maturity assessment; exit 1 below --min-level, so a CI job fails there."""
    import json

    from . import api

    report = api.maturity(args.path)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else repr(report))
    if args.min_level is not None and report.level < args.min_level:
        print(f"mlops-magic: maturity level {report.level} is below --min-level {args.min_level}: {report.next_step}", file=sys.stderr)
        return 1
    return 0


def _ci_init(args) -> int:
    from . import api

    pipeline = api.ci_init(
        args.path, model=args.model, experiment=args.experiment, provider=args.provider, require=args.require or "",
        min_level=args.min_level, tests=args.tests, script=args.script, force=args.force,
    )  # fmt: skip
    print(pipeline.summary())
    return 0


def _data(args) -> int:
    """Print the data check of a CSV or parquet file."""
    from . import api

    print(repr(api.check_data(_read_frame(args.path), target=args.target, task=args.task)))
    return 0


def _read_frame(path: str):
    """A DataFrame from a CSV or parquet file."""
    import pandas as pd

    from .errors import InvalidInputError

    if path.endswith(".csv"):
        return pd.read_csv(path)
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    raise InvalidInputError(f"{path!r} is neither .csv nor .parquet: export the data to one of them.")


def _promote(args) -> int:
    """Promote behind the gates; exit 1 when a gate refuses, so a CI/CD pipeline stops there."""
    from . import api
    from .errors import GateError

    try:
        promotion = api.promote(args.run, name=args.name, alias=args.alias, experiment=args.experiment, by=args.by, require=args.require, force=args.force, via="cli")
    except GateError as exc:
        print(f"mlops-magic: {exc}", file=sys.stderr)
        return 1
    print(promotion.summary())
    return 0


def _models(args) -> int:
    from . import api

    registry = api.models(args.name)
    print(repr(registry))
    if not registry.history.empty:
        print("\nalias history:\n" + registry.history.drop(columns=["event_id"]).to_string(index=False))
    return 0


def _serve(args) -> int:
    """Start a serving process (it keeps running after this command), or stop one."""
    from . import api

    status = api.serve_or_stop(
        args.ref, stop_name=args.stop, port=args.port, host=args.host, split=args.split, shadow=args.shadow, workers=args.workers, token=args.token
    )
    print(repr(status))
    if status.status == "running":
        print(status.curl_example())
    return 0


def _export(args) -> int:
    from . import api

    exported = api.export(args.ref, args.folder, format=args.format, allow_custom=args.allow_custom)
    print(repr(exported))
    print(f"note: {exported.note}")
    return 0


def _deployments(args) -> int:
    from . import api

    statuses = api.deployments()
    print("\n".join(repr(s) for s in statuses) or "no deployments")
    return 0


def _lineage(args) -> int:
    from . import api

    frame = api.lineage(args.name)
    print(frame.to_string(index=False) if len(frame) else f"no lineage events for {args.name} yet")
    return 0


def _webhook_add(args) -> int:
    from . import api

    hook = api.add_webhook(args.url, events=args.event, secret=args.secret)
    events = ", ".join(hook.events) if hook.events else "every event"
    print(f"webhook {hook.webhook_id} added: {hook.url} ({events}{', signed' if hook.secret else ''})")
    return 0


def _webhook_list(args) -> int:
    from . import api

    frame = api.webhooks()
    print(frame.to_string(index=False) if len(frame) else "no webhooks: add one with mlops-magic webhook add URL")
    return 0


def _webhook_deliver(args) -> int:
    from . import api

    print(repr(api.deliver_webhooks(timeout=args.timeout)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-magic", description="Track, deploy and monitor scikit-learn models.")
    parser.add_argument("--store", default=None, help="store location (SQLAlchemy URL or folder); default MLOPS_MAGIC_STORE or ./.mlops")
    commands = parser.add_subparsers(dest="command", required=True)

    runs = commands.add_parser("runs", help="list the runs")
    runs.add_argument("-e", "--experiment", default=None)
    runs.add_argument("--sort", default=None, help="metric or column to sort by (best first for metrics)")
    runs.add_argument("--asc", action="store_true", help="sort ascending")
    runs.add_argument("--limit", type=int, default=None)
    runs.add_argument("--where", default=None, help='a filter, e.g. "accuracy > 0.9"')
    runs.set_defaults(handler=_runs)

    metric = commands.add_parser("metric", help="define a metric for the store (a scikit-learn metric, a cost or gain matrix), or list them")
    metric.add_argument("name", nargs="?", default=None)
    add_metric_flags(metric.add_argument)
    metric.set_defaults(handler=_metric)

    monitor = commands.add_parser("monitor", help="policies and alerts of a served model")
    monitor_commands = monitor.add_subparsers(dest="monitor_command", required=True)
    check = monitor_commands.add_parser("check", help="evaluate the policies once; exit 1 on an alert (for cron/CI)")
    check.add_argument("model")
    check.set_defaults(handler=_monitor_check)
    policy = monitor_commands.add_parser("policy", help="store a policy: alert (and with --retrain, retrain) when METRIC leaves [--min, --max] or on --drift")
    policy.add_argument("model")
    add_policy_flags(policy.add_argument)
    policy.set_defaults(handler=_monitor_policy)
    retention = monitor_commands.add_parser("retention", help="bound the prediction log: keep raw rows of the last --keep 30d, or the newest --keep N")
    retention.add_argument("model")
    retention.add_argument("--keep", required=True, help="a duration (30d, 12h), a number of predictions (1000000), or all")
    retention.set_defaults(handler=_monitor_retention)

    watch = commands.add_parser("watch", help="evaluate the retraining policies on an interval and act (one watcher per model)")
    watch.add_argument("name", nargs="?", default=None, help="the model to watch (default: every model with a retraining policy)")
    watch.add_argument("--interval", default="5s", help="time between evaluations (default 5s)")
    watch.add_argument("--once", action="store_true", help="evaluate once and exit")
    watch.add_argument("--job-timeout", default="30min", help="a retraining job running longer is killed (default 30min)")
    watch.set_defaults(handler=_watch)

    retrain = commands.add_parser("retrain", help="one retraining job now, as the model's policy runs it; exit 1 unless promoted")
    retrain.add_argument("name")
    retrain.set_defaults(handler=_retrain)

    replay = commands.add_parser("replay", help="re-execute a run's recipe in a fresh process: a new child run")
    replay.add_argument("run", help="a run id (or prefix), or NAME@ALIAS / NAME/VERSION for that version's run")
    replay.add_argument("--data", default=None, help="a CSV/parquet file replacing the training snapshot (target column included)")
    replay.add_argument("-q", "--quiet", action="store_true", help="print only the new run's id (for scripts)")
    replay.set_defaults(handler=_replay)

    data = commands.add_parser("data", help="check a CSV/parquet file before training (findings, 'does ML help?')")
    data.add_argument("path")
    data.add_argument("--target", default=None)
    data.add_argument("--task", default=None, choices=["classification", "regression"])
    data.set_defaults(handler=_data)

    promote = commands.add_parser("promote", help="register a run's model behind quality gates; exit 1 when a gate fails")
    promote.add_argument("run", help="a run id (or prefix), or 'best' with -e EXPERIMENT")
    promote.add_argument("--name", required=True, help="registered model name")
    promote.add_argument("--alias", default=None, help="alias to move to the new version (production, staging, ...)")
    promote.add_argument("-e", "--experiment", default=None)
    promote.add_argument("--by", default=None, help="metric that ranks runs for 'best'")
    promote.add_argument("--require", action="append", default=None, help='a gate, e.g. "accuracy >= 0.9" (repeatable)')
    promote.add_argument("--force", action="store_true", help="promote even when a gate fails")
    promote.set_defaults(handler=_promote)

    models = commands.add_parser("models", help="list registered models, versions, aliases and alias history")
    models.add_argument("name", nargs="?", default=None)
    models.set_defaults(handler=_models)

    serve = commands.add_parser("serve", help="serve a registered model over HTTP in the background, or --stop it")
    serve.add_argument("ref", nargs="?", default=None, help="NAME@ALIAS, NAME/VERSION, or NAME with --split")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--split", default=None, help="A/B test, e.g. production=90,staging=10")
    serve.add_argument("--shadow", default=None, help="a variant scored on the same requests without answering")
    serve.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="worker processes sharing the port (default 2 with 2+ cores, else 1)")
    serve.add_argument("--token", default=None, help="bearer token every request but the health checks needs (default MLOPS_MAGIC_TOKEN); required beyond 127.0.0.1")
    serve.add_argument("--stop", default=None, metavar="NAME", help="stop the serving process of model NAME")
    serve.set_defaults(handler=_serve)

    export = commands.add_parser("export", help="write a registered version into a folder MLflow, KServe or MLServer loads")
    export.add_argument("ref", help="NAME@ALIAS, NAME/VERSION or NAME")
    export.add_argument("folder", help="a new (or empty) folder to write")
    export.add_argument("--format", choices=["mlflow", "kserve", "mlserver"], default="mlflow", help="mlflow (default), kserve or mlserver")
    export.add_argument("--allow-custom", action="store_true", help="export a model made of types beyond scikit-learn/numpy/scipy/pandas")
    export.set_defaults(handler=_export)

    deployments = commands.add_parser("deployments", help="list serving processes and whether they are running")
    deployments.set_defaults(handler=_deployments)

    lineage = commands.add_parser("lineage", help="every recorded step of a model: versions, alias moves, alerts, retraining, swaps")
    lineage.add_argument("name")
    lineage.set_defaults(handler=_lineage)

    webhook = commands.add_parser("webhook", help="POST lineage events to a URL (MLflow's webhook payloads, HMAC-signed)")
    webhook_commands = webhook.add_subparsers(dest="webhook_command", required=True)
    add = webhook_commands.add_parser("add", help="register a receiver of the events recorded from now on")
    add.add_argument("url")
    add.add_argument("--event", action="append", default=None, help="an event it takes, e.g. model_version_alias.created (repeatable; default: all)")
    add.add_argument("--secret", default=None, help="key of the X-MLflow-Signature HMAC-SHA256 header")
    add.set_defaults(handler=_webhook_add)
    webhook_commands.add_parser("list", help="the webhooks and their deliveries").set_defaults(handler=_webhook_list)
    deliver = webhook_commands.add_parser("deliver", help="deliver the events due now, once (the watcher does it on its own)")
    deliver.add_argument("--timeout", type=float, default=5.0, help="seconds each POST may take")
    deliver.set_defaults(handler=_webhook_deliver)

    maturity = commands.add_parser("maturity", help="the MLOps maturity level (0-4) from evidence; exit 1 below --min-level")
    maturity.add_argument("path", nargs="?", default=".", help="the project's folder (default: here)")
    maturity.add_argument("--min-level", type=int, default=None, choices=range(5), metavar="N", help="exit 1 below level N (for CI)")
    maturity.add_argument("--json", action="store_true", help="print the report as JSON")
    maturity.set_defaults(handler=_maturity)

    ci = commands.add_parser("ci", help="CI/CD: write the release pipeline into a repository")
    ci_commands = ci.add_subparsers(dest="ci_command", required=True)
    init = ci_commands.add_parser("init", help="write ci/pipeline.sh and a GitHub/GitLab workflow: test, train, gate, promote, check")
    init.add_argument("path", nargs="?", default=".", help="the repository's folder (default: here)")
    init.add_argument("--model", default=None, help="the registered model it releases (default: the store's only one)")
    init.add_argument("--experiment", default=None, help="the experiment its runs go to (default: the store's only one)")
    init.add_argument("--provider", default="github", choices=["github", "gitlab", "script"], help="the CI service (default github; script: ci/pipeline.sh alone)")
    init.add_argument("--require", default=None, help='the gate a new version must pass, e.g. "accuracy >= 0.9" (default: only not worse than production)')
    init.add_argument("--min-level", type=int, default=3, choices=range(5), metavar="N", help="the maturity level the pipeline requires (default 3)")
    init.add_argument("--tests", default=None, help='the command that runs the tests (default "python -m pytest -q")')
    init.add_argument("--script", default=None, help="train by running this script (it tracks its runs) instead of replaying production's recipe")
    init.add_argument("--force", action="store_true", help="overwrite files that differ")
    init.set_defaults(handler=_ci_init)

    tour = commands.add_parser("tour", help="the life-cycle end to end, headless, climbing the maturity levels 0 to 4")
    tour.add_argument("--dir", default=None, help="a new or empty folder for the tour's project (default: a new temporary folder)")
    tour.set_defaults(handler=_tour)

    tutorials = commands.add_parser("tutorials", help="copy the tutorial notebooks into a folder (a file you changed is kept) and say how to open them")
    tutorials.add_argument("folder", nargs="?", default=DEFAULT_FOLDER, help=f"where to copy them (default ./{DEFAULT_FOLDER})")
    tutorials.set_defaults(handler=_tutorials)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.store and args.command != "tour":
            from . import api

            api.set_store(args.store)
        return args.handler(args)
    except MLOpsError as exc:
        print(f"mlops-magic: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
