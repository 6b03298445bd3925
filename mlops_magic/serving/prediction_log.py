"""The batched prediction log: predictions and request records reach the store off the request path.

Handlers only put what happened on a queue (microseconds). A separate writer *process* takes
whatever has queued, expands it to rows, encodes them and writes them in one transaction per
table, so neither the writing nor the encoding holds the serving process's GIL. ``flush()`` waits
until everything queued before it is in the store (``/feedback`` and shutdown use it); a failed
write is retried, never dropped.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

_FLUSH, _STOP = "flush", "stop"


@dataclass
class PredictionBatch:
    """One request's predictions: its input rows as one array, expanded to store rows by the writer."""

    ids: list[str]
    columns: list[str]
    values: Any  # 2-d numpy array, a row per prediction
    outputs: list
    model: str
    version: int
    variant: str | None
    shadow: bool
    latency_ms: float
    time: float


    def rows(self) -> list[dict[str, Any]]:
        columns, encode, option = self.columns, orjson.dumps, orjson.OPT_SERIALIZE_NUMPY
        return [
            {
                "prediction_id": pid,
                "time": self.time,
                "model": self.model,
                "version": self.version,
                "variant": self.variant,
                "shadow": self.shadow,
                "inputs": encode(dict(zip(columns, row)), option=option, default=str).decode(),  # NaN -> null
                "output": output,
                "latency_ms": self.latency_ms,
            }
            for pid, row, output in zip(self.ids, self.values.tolist(), self.outputs)
        ]


class PredictionIds:
    """Prediction ids: a random per-process prefix and a counter, unique across processes and cheap."""

    def __init__(self):
        self.prefix = random.SystemRandom().getrandbits(64).to_bytes(8, "big").hex()
        self._next = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> list[str]:
        with self._lock:
            start, self._next = self._next, self._next + count
        return [f"{self.prefix}-{i:x}" for i in range(start, start + count)]


class PredictionLog:
    """The serving side of the writer process: queue, flush, close. Safe to call from any thread."""

    def __init__(self, store_url: str, artifact_root: str, interval: float = 0.1):
        context = multiprocessing.get_context("spawn")  # the server already runs threads: never fork it
        self._queue = context.Queue()
        self._written = context.Value("q", 0, lock=False)  # items the writer has stored; only it writes this
        self._sent = 0
        self._lock = threading.Lock()
        self._process = context.Process(
            target=write_forever, args=(store_url, artifact_root, self._queue, self._written, interval, os.getpid()), name="mlops-prediction-log", daemon=True
        )

    def start(self) -> None:
        self._process.start()

    def _put(self, item) -> None:
        with self._lock:
            self._sent += 1
            self._queue.put(item)

    def predictions(self, batch: PredictionBatch) -> None:
        self._put(batch)

    def request(self, model: str, version: int | None, status_code: int, latency_ms: float, n_rows: int) -> None:
        self._put({"time": time.time(), "model": model, "version": version, "status_code": status_code, "latency_ms": latency_ms, "n_rows": n_rows})

    def flush(self, timeout: float | None = 30) -> bool:
        """Wait until everything queued so far is in the store; False on timeout or if the writer died."""
        self._put(_FLUSH)
        target = self._sent
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._written.value < target:
            if not self._process.is_alive() or (deadline is not None and time.monotonic() > deadline):
                return False
            time.sleep(0.002)
        return True

    def close(self) -> None:
        """Write everything still queued, then stop the writer process."""
        if self._process.is_alive():
            self.flush(timeout=None)
            self._queue.put(_STOP)
            self._process.join(timeout=30)
        self._queue.close()
        self._queue.join_thread()
        self._queue = None  # its semaphores are released now, not reported as leaked at exit


def write_forever(store_url: str, artifact_root: str, items: multiprocessing.Queue, written, interval: float, parent: int) -> None:
    """The writer process: batch what arrives, write it, count it; stop on ``_STOP`` or when the server is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when the log stops, after a flush
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from ..store import Store

    store = Store(store_url, artifact_root)
    while True:
        started = time.monotonic()
        try:
            batch = [items.get(timeout=1.0)]
        except queue.Empty:
            if os.getppid() != parent:
                return  # the server died without closing the log: nothing more can come
            continue
        while batch[-1] != _STOP and len(batch) < 2000:
            try:
                batch.append(items.get_nowait())
            except queue.Empty:
                break
        markers = [i for i in batch if isinstance(i, str)]
        _write(store, [i for i in batch if not isinstance(i, str)])
        written.value += len(batch) - markers.count(_STOP)
        if _STOP in markers:
            return
        pause = interval - (time.monotonic() - started)
        if pause > 0 and _FLUSH not in markers:
            time.sleep(pause)


def _write(store, items: list) -> None:
    predictions = [row for i in items if isinstance(i, PredictionBatch) for row in i.rows()]
    requests = [i for i in items if isinstance(i, dict)]
    attempt = 0
    while True:
        try:
            store.log_predictions(predictions)
            predictions = []
            store.log_requests(requests)
            return
        except Exception as exc:  # the store is busy or away: keep the rows and try again
            if attempt % 10 == 0:
                print(f"mlops-serving: writing to the store failed, retrying: {exc}", file=sys.stderr, flush=True)
            attempt += 1
            time.sleep(min(0.1 * 2**attempt, 2.0))


def with_shadow_labels(frame):
    """Give each shadow prediction (id ``<id>.s``) the feedback label of the prediction it shadowed."""
    shadow = frame["shadow"].astype(bool)
    if shadow.any():
        labels = frame.loc[~shadow].set_index("prediction_id")["label"]
        frame.loc[shadow, "label"] = frame.loc[shadow, "prediction_id"].str.removesuffix(".s").map(labels).to_numpy()
    return frame
