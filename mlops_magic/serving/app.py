"""The serving process's HTTP face: MLflow-compatible scoring, feedback, Open Inference (V2), health, metrics.

Bad input is a 400 with ``{"error": ...}`` wherever MLflow's scoring server answers 400 (and the Open
Inference Protocol asks for one); 415 for a content type it does not take, 413 over the size limit.

``Endpoint`` holds the state (loaded versions, router, background writer, shadow, watcher);
``create_app`` wraps it in FastAPI. Handlers validate and predict inline and only enqueue what
the store must keep, so no store write ever sits on the request path (``/feedback`` aside: it is
durable when answered).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import MLOpsError, NotFoundError, StoreError
from ..store.journal import replay_orphans, replays_waiting, writable_journal_folder
from . import v2
from .models import ServedVersion
from .openapi import document
from .payloads import PayloadError, invocation_columns, parse_json
from .prediction_log import PredictionBatch, PredictionIds, PredictionLog, deployment_prefix
from .router import Router, Target, Variant
from .security import RequireToken
from .shadow import ShadowScorer
from .watcher import AliasWatcher, Slots

MAX_BODY_BYTES = 20 * 1024 * 1024
FEEDBACK_WAIT_S = 5.0  # how long /feedback waits for the predictions queued before it to reach the store
SIBLING_WAIT_S = 2.0  # how long it waits for ids another worker of the endpoint still queues
RETRY_AFTER_S = 5  # the Retry-After of a 503 (feedback not yet written, or the log writer behind)
LOG_STOPPED = "the prediction log writer of this serving process stopped: restart the deployment."
LOG_BEHIND = f"the prediction log writer of this serving process is behind: send the request again in {RETRY_AFTER_S} s."
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Prometheus series of one endpoint, in its own registry.

    With several workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by the serving process before
    prometheus_client was imported) holds every worker's values in files, and ``/metrics`` sums them.
    """

    def __init__(self):
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry()
        self.requests = Counter("mlops_requests", "Scoring requests by version and HTTP status.", ["model", "version", "status"], registry=self.registry)
        self.latency = Histogram(
            "mlops_request_latency_seconds", "Scoring latency (parse, validate, predict).", ["model", "version"], buckets=_LATENCY_BUCKETS, registry=self.registry
        )
        self.rows = Counter("mlops_predictions", "Rows answered, by version and variant.", ["model", "version", "variant"], registry=self.registry)
        self.swaps = Counter("mlops_model_swaps", "Versions swapped in after an alias moved.", ["model", "variant"], registry=self.registry)
        self.shadow_skipped = Counter(
            "mlops_shadow_skipped_rows", "Rows not shadowed because the shadow model was behind the traffic.", ["model", "variant"], registry=self.registry
        )
        # The histograms KServe's model servers export (and its Grafana boards read), by model_name.
        self.kserve = {
            phase: Histogram(f"request_{phase}_seconds", f"{phase} request latency", ["model_name"], buckets=_LATENCY_BUCKETS, registry=self.registry)
            for phase in ("preprocess", "predict", "postprocess")
        }

    def exposition(self) -> bytes:
        """The Prometheus text of this process, or of every worker together."""
        return generate_latest(self.all_workers() if self.multiprocess_dir else self.registry)

    def all_workers(self) -> CollectorRegistry:
        """A fresh registry reading every worker's files (multiprocess mode)."""
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, self.multiprocess_dir)
        return registry

    def requests_of_all_workers(self) -> int:
        return int(sum(sample.value for metric in self.all_workers().collect() for sample in metric.samples if sample.name == "mlops_requests_total"))


class Endpoint:
    """Everything a serving process holds for one model name and its routing target."""

    def __init__(self, store, target: Target, max_body_bytes: int = MAX_BODY_BYTES, poll_interval: float = 0.5, worker_count: int = 1, token: str | None = None):
        self.store = store
        self.token = token  # the bearer token every request but the health checks needs (None: none)
        self.worker_count = worker_count
        self.target = target
        self.max_body_bytes = max_body_bytes
        self.poll_interval = poll_interval
        self.journals = writable_journal_folder(store.artifacts.root)
        self._replay_journals()
        self.slots = Slots(store, target)
        self.metrics = Metrics()
        self.pid = os.getpid()  # the serving process: forked workers answer /health with it too
        self.workers: list[int] = []  # pids of the workers it forked (set in it alone), waited for on stop
        self.deployment = deployment_prefix()  # shared by the workers' prediction ids
        self.worker_index = 0  # set in each forked worker before it starts
        self.started_at = time.time()
        self.requests = 0
        self.ready = False

    def _replay_journals(self) -> None:
        """Write what earlier serving processes of this store left in their journals, before serving."""
        try:
            replayed = replay_orphans(self.store, self.store.artifacts.root)
        except StoreError as exc:
            print(f"mlops-serving: rows earlier serving processes left in {self.journals} wait for the store: {exc}", file=sys.stderr, flush=True)
        else:
            if replayed:
                print(f"mlops-serving: wrote {replayed} journal entries earlier serving processes left in {self.journals}.", flush=True)

    def start(self) -> None:
        """Start this worker's own router, prediction ids, log writer, shadow scorer and alias watcher."""
        self.router = Router(self.target.variants)
        self.ids = PredictionIds(self.deployment, self.worker_index)
        self.log = PredictionLog(self.store.url, str(self.store.artifacts.root), journal_name=self.ids.prefix)
        self.log.start()
        self.shadow = ShadowScorer(self.slots, self.target.shadow.label, self.log, on_skip=self._shadow_skipped) if self.target.shadow else None
        if self.shadow:
            self.shadow.start()
        self.watcher = AliasWatcher(self.slots, self.poll_interval, on_swap=self._swapped)
        self.watcher.start()
        self.phase_timers = [self.metrics.kserve[phase].labels(self.target.name) for phase in ("preprocess", "predict", "postprocess")]  # after the fork: its own files
        self.ready = True

    def stop(self) -> None:
        """Stop following aliases, finish shadow scoring, write every queued prediction (or journal it: bounded)."""
        self.ready = False
        self.watcher.stop()
        if self.shadow:
            self.shadow.close()
        self.log.close()
        for pid in self.workers:  # they got the same signal; the process ends only once they have written (or journaled) everything
            os.waitpid(pid, 0)
            multiprocess.mark_process_dead(pid, self.metrics.multiprocess_dir)
        if self.metrics.multiprocess_dir and os.getppid() != self.pid:  # the serving process, or a worker that outlived it (kill -9)
            shutil.rmtree(self.metrics.multiprocess_dir, ignore_errors=True)

    def _shadow_skipped(self, rows: int) -> None:
        self.metrics.shadow_skipped.labels(self.target.name, self.target.shadow.label).inc(rows)

    def _swapped(self, label: str, old: ServedVersion, new: ServedVersion) -> None:
        """Count the swap; the first worker (each swaps on its own) records it as ``deployment.swapped``."""
        self.metrics.swaps.labels(self.target.name, label).inc()
        print(f"mlops-serving: {self.target.name} {label}: v{old.version} -> v{new.version}", flush=True)
        if self.worker_index != 0:
            return
        detail = {"from_version": old.version, "to_version": new.version, "variant": label, "shadow": bool(self.target.shadow and label == self.target.shadow.label)}
        try:
            self.store.record_event("deployment.swapped", self.target.name, version=new.version, run_id=new.run_id, detail=detail)
        except StoreError as exc:  # the new version serves all the same; only its lineage entry is missing
            print(f"mlops-serving: could not record the swap to v{new.version} in the lineage: {exc}", file=sys.stderr, flush=True)

    def versions(self) -> dict[str, int]:
        return {label: served.version for label, served in self.slots.current.items()}

    def score(self, columns_of: Callable, request_id: str | None, variant: Variant | None = None):
        """Route, validate, predict, enqueue the log; return (outputs, ids, served version, variant)."""
        started = time.perf_counter()
        if not self.log.alive:  # an answer whose prediction could not be kept is never given
            raise PayloadError(503, LOG_STOPPED, retry_after=RETRY_AFTER_S)
        if not self.log.has_room():
            self.record(None, 503, started, 0)
            raise PayloadError(503, LOG_BEHIND, retry_after=RETRY_AFTER_S)
        variant = variant or self.router.choose(request_id)
        served = self.slots.current[variant.label]
        try:
            frame = served.schema.frame(columns_of(served.schema))
            parsed = time.perf_counter()
            try:
                answers, confidence = served.predict(frame)
            except Exception as exc:  # the model refuses these values: the client's problem, not a crash (MLflow answers 400 too)
                raise PayloadError(400, f"the model could not score this input: {str(exc).splitlines()[0]}") from None
        except PayloadError as exc:
            self.record(served.version, exc.status, started, 0)
            raise
        predicted = time.perf_counter()
        ids = self.ids.take(len(frame))
        schema, outputs = served.schema, answers.tolist()
        kept = self.log.predictions(
            PredictionBatch(
                ids, schema.order, schema.values(frame), outputs, None if confidence is None else confidence.tolist(),
                served.name, served.version, variant.label, False, (time.perf_counter() - started) * 1000, time.time(),
            )  # fmt: skip
        )
        if not kept:  # sent nowhere, so not answered
            self.record(served.version, 503, started, 0)
            raise PayloadError(503, LOG_BEHIND if self.log.alive else LOG_STOPPED, retry_after=RETRY_AFTER_S)
        self.record(served.version, 200, started, len(frame))
        self.metrics.rows.labels(served.name, served.version, variant.label).inc(len(frame))
        if self.shadow:
            self.shadow.submit(frame, ids)
        preprocess, predict, postprocess = self.phase_timers
        preprocess.observe(parsed - started)
        predict.observe(predicted - parsed)
        postprocess.observe(time.perf_counter() - predicted)
        return outputs, ids, served, variant

    def record(self, version: int | None, status: int, started: float, n_rows: int) -> float:
        """Count one request in the metrics and queue its service record; return its latency in ms."""
        elapsed = time.perf_counter() - started
        self.requests += 1
        label = str(version) if version is not None else ""
        self.metrics.requests.labels(self.target.name, label, str(status)).inc()
        self.metrics.latency.labels(self.target.name, label).observe(elapsed)
        self.log.request(self.target.name, version, status, elapsed * 1000, n_rows)
        return elapsed * 1000

    def feedback(self, payload: Any) -> int:
        """Store labels for earlier prediction ids, after the predictions themselves are written.

        Answers 503 with a retry hint, never 404, while some of those predictions may still be on their way.
        """
        if not isinstance(payload, dict) or not isinstance(payload.get("ids"), list) or not isinstance(payload.get("labels"), list):
            raise PayloadError(400, "feedback must be {\"ids\": [...], \"labels\": [...]} with one label per prediction id.")
        ids, labels = payload["ids"], payload["labels"]
        if not ids or len(ids) != len(labels):
            raise PayloadError(400, f"feedback has {len(ids)} ids and {len(labels)} labels: send one label per id, at least one.")
        if not all(isinstance(i, str) for i in ids):
            raise PayloadError(400, "feedback ids must be the strings /invocations returned in \"ids\".")
        if not self.log.flush(timeout=FEEDBACK_WAIT_S):
            raise PayloadError(
                503,
                f"the predictions logged before this feedback did not reach the store within {FEEDBACK_WAIT_S:.0f} s "
                f"(the store is slow or unreachable): nothing was recorded, send the feedback again in {RETRY_AFTER_S} s.",
                retry_after=RETRY_AFTER_S,
            )
        deadline = time.monotonic() + SIBLING_WAIT_S
        while True:
            try:
                try:
                    return self.store.log_feedback(ids, labels)
                except NotFoundError as exc:
                    unknown, refusal = self.store.unknown_prediction_ids(ids), str(exc)
            except MLOpsError as exc:
                raise PayloadError(503, f"the store cannot take feedback now: {exc}", retry_after=RETRY_AFTER_S) from None
            queued = [i for i in unknown if self.ids.of_sibling(i)]
            if queued and time.monotonic() < deadline:
                time.sleep(0.05)  # another worker writes its queue within ~0.1 s when the store is well
                continue
            if queued:
                raise PayloadError(
                    503, f"prediction {queued[0]!r} is still queued by another worker of this endpoint: send the feedback again in {RETRY_AFTER_S} s.", retry_after=RETRY_AFTER_S
                )
            foreign = [i for i in unknown if not i.startswith(self.deployment)]
            if foreign and replays_waiting(self.journals):
                raise PayloadError(
                    503, f"prediction {foreign[0]!r} may be among the rows an earlier serving process left in its journal, "
                    f"not yet in the store: send the feedback again in {RETRY_AFTER_S} s.", retry_after=RETRY_AFTER_S,
                )  # fmt: skip
            raise PayloadError(404, refusal)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadError(413, f"body of {int(declared)} bytes is over the {limit}-byte limit: send smaller batches.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError(413, f"body is over the {limit}-byte limit: send smaller batches.")
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(exc: PayloadError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse({"error": exc.message, "status": exc.status}, status_code=exc.status, headers=headers)


def not_ready() -> JSONResponse:
    return JSONResponse({"ready": False, "error": "starting or stopping: not serving yet, or no longer.", "status": 503}, status_code=503)


def json_response(content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json", headers=headers)


def create_app(endpoint: Endpoint) -> FastAPI:
    """The FastAPI app serving ``endpoint``; its lifespan starts and stops the background threads."""

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        endpoint.start()
        yield
        endpoint.stop()

    name = endpoint.target.name
    app = FastAPI(title=f"mlops_magic: {name}", version=__version__, lifespan=lifespan,
                  description=f"Serves {endpoint.target.describe()}. MLflow scoring protocol and Open Inference Protocol (V2).")

    @app.get("/ping", tags=["service"])
    def ping():
        """The health check of MLflow's and SageMaker's scoring servers: 200 once serving."""
        return not_ready() if not endpoint.ready else {"status": "ok"}

    @app.get("/health", tags=["service"])
    def health():
        requests = endpoint.requests if endpoint.worker_count == 1 else endpoint.metrics.requests_of_all_workers()
        return {"status": "alive", "pid": endpoint.pid, "worker": os.getpid(), "workers": endpoint.worker_count, "model": name, "requests": requests,
                "uptime_s": time.time() - endpoint.started_at}  # fmt: skip

    @app.get("/ready", tags=["service"])
    def ready():
        if not endpoint.ready:
            return not_ready()
        return {"ready": True, "versions": endpoint.versions()}

    @app.get("/version", tags=["service"])
    def version():
        return {"mlops_magic": __version__, "model": name, "versions": endpoint.versions()}

    @app.get("/model", tags=["service"])
    def model():
        current = endpoint.slots.current
        variants = [{"label": v.label, "alias": v.alias, "weight": v.weight, **current[v.label].describe()} for v in endpoint.target.variants]
        shadow = endpoint.target.shadow
        first = current[endpoint.target.variants[0].label]
        return {
            "name": name,
            "variants": variants,
            "shadow": {"label": shadow.label, "alias": shadow.alias, **current[shadow.label].describe()} if shadow else None,
            "input_schema": first.schema.describe(),
            "accepts_nan": first.schema.allow_nan,
        }

    @app.post("/invocations", tags=["scoring"])
    async def invocations(request: Request):
        """Score rows sent in one of MLflow's JSON forms or as CSV; answers predictions and their ids."""
        started = time.perf_counter()
        try:
            body = await read_body(request, endpoint.max_body_bytes)
            content_type = request.headers.get("content-type", "")
            outputs, ids, served, variant = endpoint.score(
                lambda schema: invocation_columns(body, content_type, schema), request.headers.get("x-request-id")
            )
        except PayloadError as exc:
            if exc.status == 413:
                endpoint.record(None, 413, started, 0)
            return error_response(exc)
        return json_response({"predictions": outputs, "ids": ids}, {"x-model-version": str(served.version), "x-variant": variant.label})

    @app.post("/feedback", tags=["scoring"])
    async def feedback(request: Request):
        """Ground-truth labels for earlier predictions: ``{"ids": [...], "labels": [...]}``."""
        try:
            payload = parse_json(await read_body(request, endpoint.max_body_bytes))
            recorded = await run_in_threadpool(endpoint.feedback, payload)
        except PayloadError as exc:
            return error_response(exc)
        return {"recorded": recorded}

    @app.get("/metrics", tags=["service"])
    def metrics():
        return Response(endpoint.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException):  # unknown paths, methods not allowed: JSON with an error too
        response = error_response(PayloadError(exc.status_code, f"{exc.detail}: see /docs for the paths and methods served."))
        response.headers.update(exc.headers or {})
        return response

    add_v2_routes(app, endpoint)
    app.openapi = lambda: document(app, endpoint)
    if endpoint.token is not None:
        app.add_middleware(RequireToken, token=endpoint.token)
    return app


def add_v2_routes(app: FastAPI, endpoint: Endpoint) -> None:
    """The Open Inference Protocol (KServe V2) REST endpoints, so V2 clients (tritonclient, KServe's, MLServer's) work."""
    name = endpoint.target.name

    def unknown(model: str) -> JSONResponse:
        return error_response(PayloadError(404, f"unknown model {model!r}: this endpoint serves {name!r}."))

    def served_at(version: str) -> tuple[Variant, ServedVersion] | JSONResponse:
        current = endpoint.slots.current
        found = next(((v, current[v.label]) for v in endpoint.target.variants if str(current[v.label].version) == version), None)
        return found or error_response(PayloadError(404, f"version {version} of {name!r} is not served here: see GET /v2/models/{name}."))

    def server_metadata():
        return {"name": "mlops_magic", "version": __version__, "extensions": ["binary_tensor_data"]}

    app.get("/v2", tags=["v2"])(server_metadata)
    app.get("/v2/", tags=["v2"])(server_metadata)

    @app.get("/v2/health/live", tags=["v2"])
    def v2_live():
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"])
    def v2_ready():
        if not endpoint.ready:
            return not_ready()
        return {"ready": True, "live": True}

    def metadata(served: ServedVersion, versions: list[str]) -> dict[str, Any]:
        schema = served.schema
        return {
            "name": name,
            "versions": versions,
            "platform": "sklearn",
            "inputs": [{"name": c, "datatype": "FP64" if c in schema.numeric else "BYTES", "shape": [-1]} for c in schema.order],
            "outputs": [{"name": "predict", "datatype": served.output_datatype, "shape": [-1]}, {"name": "ids", "datatype": "BYTES", "shape": [-1]}],
        }

    @app.get("/v2/models/{model}", tags=["v2"])
    def v2_metadata(model: str):
        if model != name:
            return unknown(model)
        current = endpoint.slots.current
        return metadata(current[endpoint.target.variants[0].label], [str(current[v.label].version) for v in endpoint.target.variants])

    @app.get("/v2/models/{model}/versions/{version}", tags=["v2"])
    def v2_version_metadata(model: str, version: str):
        if model != name:
            return unknown(model)
        found = served_at(version)
        return found if isinstance(found, JSONResponse) else metadata(found[1], [version])

    @app.get("/v2/models/{model}/ready", tags=["v2"])
    def v2_model_ready(model: str):
        return unknown(model) if model != name else {"name": name, "ready": endpoint.ready}

    @app.get("/v2/models/{model}/versions/{version}/ready", tags=["v2"])
    def v2_version_ready(model: str, version: str):
        if model != name:
            return unknown(model)
        found = served_at(version)
        return found if isinstance(found, JSONResponse) else {"name": name, "ready": endpoint.ready}

    async def infer(request: Request, model: str, version: str | None):
        started = time.perf_counter()
        if model != name:
            return unknown(model)
        variant = None
        if version is not None:
            found = served_at(version)
            if isinstance(found, JSONResponse):
                return found
            variant = found[0]
        try:
            parsed = v2.read_request(await read_body(request, endpoint.max_body_bytes), request.headers.get("inference-header-content-length"))
            outputs, ids, served, chosen = endpoint.score(
                lambda schema: v2.columns(parsed, schema.order, schema.columns), parsed.id or request.headers.get("x-request-id"), variant
            )
        except PayloadError as exc:
            if exc.status == 413:
                endpoint.record(None, 413, started, 0)
            return error_response(exc)
        answer = {"model_name": name, "model_version": str(served.version), "parameters": {"variant": chosen.label}}
        if parsed.id is not None:
            answer["id"] = parsed.id
        body, header = v2.response(parsed, answer, outputs, ids)
        return Response(body, media_type="application/octet-stream" if header else "application/json", headers=header)

    @app.post("/v2/models/{model}/infer", tags=["v2"])
    async def v2_infer(model: str, request: Request):
        return await infer(request, model, None)

    @app.post("/v2/models/{model}/versions/{version}/infer", tags=["v2"])
    async def v2_infer_version(model: str, version: str, request: Request):
        return await infer(request, model, version)
