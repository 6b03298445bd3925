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
