"""``python -m mlops_magic.serving --store URL --target JSON --port N``: load, then serve until SIGTERM.

The kernel starts this through ``serving.manager``. A model that cannot load or a busy port ends the
process with one line on stderr (the manager shows it); SIGTERM stops it gracefully, every
queued prediction written first.
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (forked after the model loads)")
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

        endpoint = Endpoint(Store(args.store, args.artifacts), target, int(args.max_body_mb * 1024 * 1024), args.poll_interval, max(1, args.workers))
    except MLOpsError as exc:
        print(f"mlops-serving: cannot serve: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # a model that fails to load for any other reason: one line, not a traceback
        print(f"mlops-serving: cannot serve: the model failed to load: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3

    sys.setswitchinterval(0.0005)  # the event loop waits at most 0.5 ms (not 5) for the GIL another thread holds
    print(f"mlops-serving: {target.describe()} on http://{args.host}:{args.port} ({args.workers} worker(s))", flush=True)
    serve(endpoint, create_app(endpoint), args.host, args.port, max(1, args.workers))
    return 0


def serve(endpoint, app, host: str, port: int, workers: int) -> None:
    """Run ``app`` until SIGTERM; with several workers, fork them on one listening socket.

    The model is loaded once before the fork (copy-on-write); each worker then starts its own log
    writer, watcher and database connections. SIGTERM to this process reaches every worker, each
    stops gracefully (its queued predictions written), and this process's own shutdown waits for them.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=30)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    sock = config.bind_socket()
    children = []
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            endpoint.store.db.engine.dispose(close=False)  # never share the parent's database connections
            uvicorn.Server(config).run(sockets=[sock])
            os._exit(0)
        children.append(pid)
    endpoint.workers = children

    class Forwarding(uvicorn.Server):
        def handle_exit(self, sig, frame):
            for child in children:
                try:
                    os.kill(child, sig)
                except ProcessLookupError:
                    pass
            super().handle_exit(sig, frame)

    Forwarding(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
