"""The batched prediction log: predictions and request records reach the store off the request path.

Handlers only put what happened on a queue (microseconds). A separate writer *process* takes
whatever has queued, expands it to rows and appends them to its journal file (``store.journal``),
then a thread of that process writes the journal's entries to the store, one transaction per batch,
retrying while the store is busy or away. So neither the writing nor the encoding holds the serving
process's GIL, and a store that cannot be reached never holds up a request or a shutdown.

``flush()`` waits (bounded) until everything queued before it is in the store (``/feedback`` uses
it). ``close()`` is bounded too: the writer gives the store a few seconds, then leaves what it
could not write in its journal, which the next serving process of this store writes.
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

from ..errors import ServingError
from ..store.journal import Journal, journal_folder

_FLUSH, _STOP = "flush", "stop"
STORE_GRACE_S = 3.0  # at shutdown, how long the writer still waits for the store before leaving the rest in its journal
CLOSE_TIMEOUT_S = STORE_GRACE_S + 5.0  # how long close() waits for the writer process to end
ADOPT_EVERY_S = 10.0  # how often a writer looks for journals that ended serving processes left behind
THIN_EVERY_S = 60.0  # how often the writer deletes what the models' retention settings no longer keep
ID_DIGITS = 12  # hex digits of the counter in a prediction id: ids of one worker sort by arrival as text


@dataclass
class PredictionBatch:
    """One request's predictions: its input rows as one array, expanded to store rows by the writer."""

    ids: list[str]
    columns: list[str]
    values: Any  # 2-d numpy array, a row per prediction
    outputs: list
    confidence: list[float] | None  # the model's probability of each answered class; None without predict_proba
    model: str
    version: int
    variant: str | None
    shadow: bool
    latency_ms: float
    time: float

    def rows(self) -> list[dict[str, Any]]:
        columns, encode, option = self.columns, orjson.dumps, orjson.OPT_SERIALIZE_NUMPY
        confidence = self.confidence or [None] * len(self.ids)
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
                "confidence": p,
                "latency_ms": self.latency_ms,
            }
            for pid, row, output, p in zip(self.ids, self.values.tolist(), self.outputs, confidence)
        ]


def deployment_prefix() -> str:
    """A random prefix for the prediction ids of one serving process (its workers add their number)."""
    return random.SystemRandom().getrandbits(56).to_bytes(7, "big").hex()


class PredictionIds:
    """Prediction ids ``<deployment prefix><worker>-<counter>``: unique across processes, cheap, and
    sorting by arrival as text within a worker (the counter is zero-padded to a fixed width)."""

    def __init__(self, deployment: str, worker: int = 0):
        self.deployment = deployment
        self.prefix = f"{deployment}{worker:02x}"
        self._next = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> list[str]:
        with self._lock:
            start, self._next = self._next, self._next + count
        return [f"{self.prefix}-{i:0{ID_DIGITS}x}" for i in range(start, start + count)]

    def of_sibling(self, prediction_id: str) -> bool:
        """Whether ``prediction_id`` comes from another worker of the same serving process."""
        return prediction_id.startswith(self.deployment) and not prediction_id.startswith(self.prefix + "-")


class PredictionLog:
    """The serving side of the writer process: queue, flush, close. Safe to call from any thread."""

    def __init__(self, store_url: str, artifact_root: str, journal_name: str, interval: float = 0.1):
        context = multiprocessing.get_context("spawn")  # the server already runs threads: never fork it
        self._queue = context.Queue()
        self._stored = context.Value("q", 0, lock=False)  # items the store holds; only the writer writes this
        self._ready = context.Event()  # set by the writer once its journal is open: rows can be kept
        self._sent = 0
        self._lock = threading.Lock()
        self._process = context.Process(
            target=write_forever,
            args=(store_url, artifact_root, journal_name, self._queue, self._stored, self._ready, interval, os.getpid()),
            name="mlops-prediction-log",
            daemon=True,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start the writer and wait until it can keep rows (its journal open): no answer is given before."""
        self._process.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if not self._process.is_alive() or time.monotonic() > deadline:
                raise ServingError("the prediction log writer did not start (see the line above): predictions could not be kept, so none are served.")

    @property
    def alive(self) -> bool:
        """Whether the writer still runs: without it an answered prediction could not be kept."""
        return self._process.is_alive()

    def _put(self, item) -> None:
        with self._lock:
            self._sent += 1
            self._queue.put(item)

    def predictions(self, batch: PredictionBatch) -> None:
        self._put(batch)

    def request(self, model: str, version: int | None, status_code: int, latency_ms: float, n_rows: int) -> None:
        self._put({"time": time.time(), "model": model, "version": version, "status_code": status_code, "latency_ms": latency_ms, "n_rows": n_rows})

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is in the store; False on timeout or if the writer died."""
        self._put(_FLUSH)
        target = self._sent
        deadline = time.monotonic() + timeout
        while self._stored.value < target:
            if not self._process.is_alive() or time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the writer within ``timeout`` s: what the store could not take by then stays in its journal."""
        if self._process.is_alive():
            self._queue.put(_STOP)
            self._process.join(timeout)
            if self._process.is_alive():
                print(f"mlops-serving: the prediction log writer did not stop within {timeout:.0f} s; stopped it.", file=sys.stderr, flush=True)
                self._process.kill()
                self._process.join(1.0)
        self._queue.close()
        if self._process.exitcode == 0:
            self._queue.join_thread()
        else:
            self._queue.cancel_join_thread()  # the writer died or was stopped: never wait for a pipe nobody reads
        self._queue = None  # its semaphores are released now, not reported as leaked at exit


def write_forever(store_url: str, artifact_root: str, journal_name: str, items: multiprocessing.Queue, stored, ready, interval: float, parent: int) -> None:
    """The writer process: journal what arrives, batch by batch, while a thread stores the journal.

    Stops on ``_STOP`` or when the server is gone; then waits ``STORE_GRACE_S`` at most for the store.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when the log stops
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        journal = Journal(journal_folder(artifact_root), journal_name)
    except OSError as exc:
        print(f"mlops-serving: cannot open the prediction journal in {journal_folder(artifact_root)}: {exc.strerror}.", file=sys.stderr, flush=True)
        os._exit(1)
    ready.set()
    threading.Thread(target=store_forever, args=(store_url, artifact_root, journal, stored), name="mlops-store-writer", daemon=True).start()
    next_adoption = 0.0
    while True:
        started = time.monotonic()
        if started >= next_adoption:  # at start, then now and then: rows a serving process of this store left behind
            adopted = journal.adopt_orphans()
            if adopted:
                print(f"mlops-serving: {adopted} journal entries left by an earlier serving process go to the store now.", flush=True)
            next_adoption = started + ADOPT_EVERY_S
        try:
            batch = [items.get(timeout=1.0)]
        except queue.Empty:
            if os.getppid() != parent:
                break  # the server died without closing the log: nothing more can come
            continue
        while batch[-1] != _STOP and len(batch) < 2000:
            try:
                batch.append(items.get_nowait())
            except queue.Empty:
                break
        markers = [i for i in batch if isinstance(i, str)]
        journal.append(
            {
                "predictions": [row for i in batch if isinstance(i, PredictionBatch) for row in i.rows()],
                "requests": [i for i in batch if isinstance(i, dict)],
                "items": len(batch) - markers.count(_STOP),
                "replayed": False,
            }
        )
        if _STOP in markers:
            break
        pause = interval - (time.monotonic() - started)
        if pause > 0 and _FLUSH not in markers:
            time.sleep(pause)
    if not journal.wait_stored(STORE_GRACE_S):
        print(f"mlops-serving: the store is unreachable; what it could not take waits in {journal.path} for the next serving process.", file=sys.stderr, flush=True)
    journal.close()
    os._exit(0)  # the store thread may be inside a database call that waits on a lock: do not wait for it


def store_forever(store_url: str, artifact_root: str, journal: Journal, stored) -> None:
    """Write the journal's entries to the store, oldest first, retrying while the store fails; now
    and then, thin the prediction log as the retention settings say."""
    from ..store import Store

    store, failures, next_thinning = None, 0, time.monotonic() + THIN_EVERY_S
    while True:
        entries, upto = journal.unstored(timeout=1.0)
        if store is not None and time.monotonic() >= next_thinning:
            next_thinning = time.monotonic() + THIN_EVERY_S
            try:
                store.thin_predictions()  # the log stays bounded while serving runs (mm.set_retention)
            except Exception as exc:  # the store is busy: thinned at the next turn
                print(f"mlops-serving: thinning the prediction log failed, retried in {THIN_EVERY_S:.0f} s: {exc}", file=sys.stderr, flush=True)
        if not entries:
            continue
        try:
            store = store or Store(store_url, artifact_root)
            # a failed commit may still have been applied (a lost connection): after one, skip what is stored already
            replayed = failures > 0 or any(e["replayed"] for e in entries)
            store.log_served([r for e in entries for r in e["predictions"]], [r for e in entries for r in e["requests"]], replayed=replayed)
        except Exception as exc:  # the store is busy or away: the entries stay in the journal
            if failures % 30 == 0:
                print(f"mlops-serving: writing to the store failed, kept in {journal.path} and retrying: {exc}", file=sys.stderr, flush=True)
            failures += 1
            time.sleep(min(0.05 * 2**failures, 1.0))
            continue
        if failures:
            print("mlops-serving: the store takes writes again.", file=sys.stderr, flush=True)
            failures = 0
        stored.value += sum(e["items"] for e in entries)
        journal.stored(upto)
