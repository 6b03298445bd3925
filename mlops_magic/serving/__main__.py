"""``python -m mlops_magic.serving --store URL --target JSON --port N``: load, then serve until SIGTERM.

The kernel starts this through ``serving.manager``. Bound beyond loopback it needs the bearer token in
``MLOPS_MAGIC_TOKEN`` (see ``security``) and refuses to start without one. A model that cannot load or a busy port ends the
process with one line on stderr (the manager shows it); SIGTERM stops it gracefully, every
queued prediction written first (or, when the store cannot take it within a few seconds, kept in
the journal that the next serving process of the store writes).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import sys
import tempfile

from ..config import store_location
from . import DEFAULT_WORKERS
from .ports import port_is_free


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_magic.serving", description="Serve a registered model over HTTP.")
    parser.add_argument("--store", default=store_location(), help="the store's SQLAlchemy URL or folder (default MLOPS_MAGIC_STORE)")
    parser.add_argument("--artifacts", default=None, help="the store's artifact root")
    parser.add_argument("--target", required=True, help="routing target as JSON (see serving.router.Target)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-body-mb", type=float, default=20.0)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between alias checks")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="worker processes sharing the port (forked after the model loads)")
    args = parser.parse_args(argv)

    from ..errors import MLOpsError
    from ..store import Store
    from .router import Target
    from .security import TOKEN_VARIABLE, refusal

    token = os.environ.get(TOKEN_VARIABLE)
    refused = refusal(args.host, token)
    if refused:
        print(f"mlops-serving: cannot serve: {refused}", file=sys.stderr)
        return 3

    if not port_is_free(args.host, args.port):
        print(f"mlops-serving: port {args.port} on {args.host} is busy: choose another port or stop what uses it.", file=sys.stderr)
        return 3
    workers = max(1, args.workers)
    metrics_dir = None
    if workers > 1:  # before prometheus_client is imported: each worker's series then go to files there, which /metrics sums
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mlops-serving-metrics-")
    else:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # one worker: its own in-process registry
    try:
        target = Target.from_dict(json.loads(args.target))
        from .app import Endpoint, create_app

        endpoint = Endpoint(Store(args.store, args.artifacts), target, int(args.max_body_mb * 1024 * 1024), args.poll_interval, workers, token)
    except MLOpsError as exc:
        message = f"cannot serve: {exc}"
    except Exception as exc:  # a model that fails to load for any other reason: one line, not a traceback
        message = f"cannot serve: the model failed to load: {type(exc).__name__}: {exc}"
    else:
        sys.setswitchinterval(0.0005)  # the event loop waits at most 0.5 ms (not 5) for the GIL another thread holds
        print(f"mlops-serving: {target.describe()} on http://{args.host}:{args.port} ({workers} worker(s))", flush=True)
        serve(endpoint, create_app(endpoint), args.host, args.port, workers)  # its shutdown removes metrics_dir
        return 0
    if metrics_dir:
        shutil.rmtree(metrics_dir)
    print(f"mlops-serving: {message}", file=sys.stderr)
    return 3


def serve(endpoint, app, host: str, port: int, workers: int) -> None:
    """Run ``app`` until SIGTERM; with several workers, fork them on one listening socket.

    The model is loaded once before the fork (copy-on-write); each worker then starts its own log
    writer, watcher and database connections. SIGTERM to this process reaches every worker, each
    stops gracefully (its queued predictions written or journaled, in bounded time), and this process's own shutdown waits for them.
    A worker whose serving process dies (kill -9) gets SIGTERM too (Linux), so none is left on the port.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=30)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    sock = config.bind_socket()
    children, parent = [], os.getpid()
    for index in range(1, workers):
        pid = os.fork()
        if pid == 0:
            endpoint.worker_index = index  # its prediction ids and journal are its own
            if sys.platform == "linux":
                ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when the serving process dies
            if os.getppid() != parent:  # it died before that took effect
                os._exit(0)
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
