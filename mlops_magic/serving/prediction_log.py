"""The batched background writer: predictions and request records reach the store off the request path.

Handlers only append to a queue (microseconds); one thread takes whatever has queued, expands it
to rows and writes it in one transaction per table. ``flush()`` waits until everything queued
before it is in the store (``/feedback`` and shutdown use it); a failed write is retried, never dropped.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class PredictionBatch:
    """One request's predictions, kept as its frame until the writer expands it to rows."""

    ids: list[str]
    frame: Any  # DataFrame of inputs
    outputs: list
    model: str
    version: int
    variant: str | None
    shadow: bool
    latency_ms: float
    time: float

    def rows(self) -> list[dict[str, Any]]:
        columns = [str(c) for c in self.frame.columns]
        values = self.frame.to_numpy(dtype=object if len(set(self.frame.dtypes)) > 1 else None).tolist()
        return [
            {
                "prediction_id": pid,
                "time": self.time,
                "model": self.model,
                "version": self.version,
                "variant": self.variant,
                "shadow": self.shadow,
                "inputs": dict(zip(columns, row)),
                "output": output,
                "latency_ms": self.latency_ms,
            }
            for pid, row, output in zip(self.ids, values, self.outputs)
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


class PredictionLog(threading.Thread):
    """Writes queued predictions and request records to ``store`` in batches, every ``interval`` at most."""

    def __init__(self, store, interval: float = 0.1, max_rows: int = 5000):
        super().__init__(name="mlops-prediction-log", daemon=True)
        self.store = store
        self.interval = interval
        self.max_rows = max_rows
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = False
        self.written = 0

    # --- called by request handlers: never blocks on the store ----------------------------------

    def predictions(self, batch: PredictionBatch) -> None:
        self._queue.put(batch)

    def request(self, model: str, version: int | None, status_code: int, latency_ms: float, n_rows: int) -> None:
        self._queue.put({"time": time.time(), "model": model, "version": version, "status_code": status_code, "latency_ms": latency_ms, "n_rows": n_rows})

    def flush(self, timeout: float | None = 30) -> bool:
        """Wait until everything queued so far is written; False if that took longer than ``timeout``."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        """Write everything still queued, then stop the thread."""
        self._closing = True
        self.flush(timeout=None)
        self._queue.put(None)
        self.join(timeout=30)

    # --- the writer thread --------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            started = time.monotonic()
            item = self._queue.get()
            if item is None:
                return
            items = [item]
            rows = 0
            while rows < self.max_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                items.append(item)
                rows += len(item.ids) if isinstance(item, PredictionBatch) else 0
            self._write(items)
            pause = self.interval - (time.monotonic() - started)
            if pause > 0 and not self._closing and not any(isinstance(i, threading.Event) for i in items):
                time.sleep(pause)

    def _write(self, items: list) -> None:
        predictions = [row for i in items if isinstance(i, PredictionBatch) for row in i.rows()]
        requests = [i for i in items if isinstance(i, dict)]
        attempt = 0
        while True:
            try:
                self.store.log_predictions(predictions)
                self.written += len(predictions)
                predictions = []
                self.store.log_requests(requests)
                break
            except Exception as exc:  # the store is busy or away: keep the rows and try again
                if attempt % 10 == 0:
                    print(f"mlops-serving: writing to the store failed, retrying: {exc}", file=sys.stderr)
                attempt += 1
                time.sleep(min(0.1 * 2**attempt, 2.0))
        for item in items:
            if isinstance(item, threading.Event):
                item.set()


def with_shadow_labels(frame):
    """Give each shadow prediction (id ``<id>.s``) the feedback label of the prediction it shadowed."""
    shadow = frame["shadow"].astype(bool)
    if shadow.any():
        labels = frame.loc[~shadow].set_index("prediction_id")["label"]
        frame.loc[shadow, "label"] = frame.loc[shadow, "prediction_id"].str.removesuffix(".s").map(labels).to_numpy()
    return frame
