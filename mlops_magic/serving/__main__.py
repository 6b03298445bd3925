"""``python -m mlops_magic.serving --store URL --target JSON --port N``: load, then serve until SIGTERM.

The kernel starts this through ``serving.manager``. A model that cannot load or a busy port ends the
process with one line on stderr (the manager shows it); SIGTERM stops it gracefully, every
queued prediction written first.
"""

from __future__ import annotations

import argparse
import json
import sys

from .ports import port_is_free


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_magic.serving", description="Serve a registered model over HTTP.")
    parser.add_argument("--store", required=True, help="the store's SQLAlchemy URL or folder")
    parser.add_argument("--artifacts", default=None, help="the store's artifact root")
    parser.add_argument("--target", required=True, help="routing target as JSON (see serving.router.Target)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-body-mb", type=float, default=20.0)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between alias checks")
    args = parser.parse_args(argv)

    from ..errors import MLOpsError
    from ..store import Store
    from .router import Target

    if not port_is_free(args.host, args.port):
        print(f"mlops-serving: port {args.port} on {args.host} is busy: choose another port or stop what uses it.", file=sys.stderr)
        return 3
    try:
        target = Target.from_dict(json.loads(args.target))
        from .app import Endpoint, create_app

        endpoint = Endpoint(Store(args.store, args.artifacts), target, int(args.max_body_mb * 1024 * 1024), args.poll_interval)
    except MLOpsError as exc:
        print(f"mlops-serving: cannot serve: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # a model that fails to load for any other reason: one line, not a traceback
        print(f"mlops-serving: cannot serve: the model failed to load: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3

    import uvicorn

    sys.setswitchinterval(0.0005)  # the event loop waits at most 0.5 ms (not 5) for the GIL the log writer holds

    print(f"mlops-serving: {target.describe()} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(endpoint), host=args.host, port=args.port, log_level="warning", access_log=False, timeout_graceful_shutdown=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
