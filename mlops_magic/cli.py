"""The command line ``mlops-magic``: the same operations as the magics, for scripts and CI/CD.

Each sub-command parses its arguments, calls one ``api`` function and prints the result.
Errors a user can fix print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys

from .errors import MLOpsError


def _runs(args) -> int:
    from . import api

    frame = api.runs(args.experiment, sort=args.sort, ascending=True if args.asc else None, limit=args.limit, where=args.where)
    print(frame.to_string(index=False) if len(frame) else "no runs")
    return 0


def _tour(args) -> int:
    from .tour import run_tour

    return run_tour(args.store)


def _monitor_check(args) -> int:
    """Evaluate the model's policies (and drift) once; exit 1 when any alert fires, for cron/CI."""
    from . import api

    fired = []
    for report in api.check_policies(args.model):
        print(report.summary() + f" (window {report.window})")
        fired += report.fired
    for alert in fired:
        print(f"ALERT [{alert['kind']}] {alert['message']}")
    return 1 if fired else 0


def _monitor_policy(args) -> int:
    from . import api

    policy = api.set_policy(args.model, args.metric, args.min, args.max, args.window)
    print(f"policy stored: {policy.model} {policy.metric} min={policy.min_value} max={policy.max_value} window={policy.window}")
    return 0


def _data(args) -> int:
    """Print the data check of a CSV or parquet file."""
    import pandas as pd

    from . import api
    from .errors import InvalidInputError

    if args.path.endswith(".csv"):
        frame = pd.read_csv(args.path)
    elif args.path.endswith(".parquet"):
        frame = pd.read_parquet(args.path)
    else:
        raise InvalidInputError(f"{args.path!r} is neither .csv nor .parquet: export the data to one of them.")
    print(repr(api.check_data(frame, target=args.target, task=args.task)))
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

    monitor = commands.add_parser("monitor", help="policies and alerts of a served model")
    monitor_commands = monitor.add_subparsers(dest="monitor_command", required=True)
    check = monitor_commands.add_parser("check", help="evaluate the policies once; exit 1 on an alert (for cron/CI)")
    check.add_argument("model")
    check.set_defaults(handler=_monitor_check)
    policy = monitor_commands.add_parser("policy", help="store a policy: alert when METRIC leaves [--min, --max]")
    policy.add_argument("model")
    policy.add_argument("--metric", required=True)
    policy.add_argument("--min", type=float, default=None)
    policy.add_argument("--max", type=float, default=None)
    policy.add_argument("--window", default="200", help="a number of predictions (200) or a duration (1h)")
    policy.set_defaults(handler=_monitor_policy)

    data = commands.add_parser("data", help="check a CSV/parquet file before training (findings, 'does ML help?')")
    data.add_argument("path")
    data.add_argument("--target", default=None)
    data.add_argument("--task", default=None, choices=["classification", "regression"])
    data.set_defaults(handler=_data)

    tour = commands.add_parser("tour", help="run the end-to-end tour of the life-cycle, headless")
    tour.set_defaults(handler=_tour)
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
