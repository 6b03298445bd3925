"""The batched prediction log: predictions and request records reach the store off the request path.

Handlers write what happened into a pipe to a separate writer *process* before they answer (a few
microseconds), so a prediction answered is one the writer can read even if the serving process is
killed right after. The writer takes whatever has arrived, expands it to rows and appends them to
its journal file (``store.journal``),
then a thread of that process writes the journal's entries to the store, one transaction per batch,
retrying while the store is busy or away. So neither the writing nor the encoding holds the serving
process's GIL, and a store that cannot be reached never holds up a request or a shutdown.

``flush()`` waits (bounded) until everything sent before it is in the store (``/feedback`` uses
it). ``close()`` is bounded too: the writer gives the store a few seconds, then leaves what it
could not write in its journal, which the next serving process of this store writes.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
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
PIPE_BYTES = 1 << 20  # what may wait unread in the pipe to the writer (Linux's default ceiling for a pipe)
HEADER_BYTES = 12  # the most a pipe message adds to its pickle (multiprocessing's length header)


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
    """The serving side of the writer process: send, flush, close. Safe to call from any thread.

    Sending does not wait for the writer: it counts the bytes the writer has not read yet and refuses
    (``False``) what would not fit in the pipe, so a stalled writer turns answers into 503s instead of
    a frozen server or predictions kept nowhere. Only a batch larger than the whole pipe is written
    as the writer reads it."""

    def __init__(self, store_url: str, artifact_root: str, journal_name: str, interval: float = 0.1):
        context = multiprocessing.get_context("spawn")  # the server already runs threads: never fork it
        self._reader, self._pipe = context.Pipe(duplex=False)
        self._capacity = pipe_capacity(self._pipe) // 2  # the kernel keeps a pipe in pages, which small writes do not always fill
        self._read = context.Value("q", 0, lock=False)  # bytes the writer has read; only the writer writes this
        self._stored = context.Value("q", 0, lock=False)  # items the store holds; only the writer writes this
        self._ready = context.Event()  # set by the writer once its journal is open: rows can be kept
        self._sent = self._sent_bytes = 0
        self._lock = threading.Lock()
        self._process = context.Process(
            target=write_forever,
            args=(store_url, artifact_root, journal_name, self._reader, self._read, self._stored, self._ready, interval, os.getpid()),
            name="mlops-prediction-log",
            daemon=True,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start the writer and wait until it can keep rows (its journal open): no answer is given before."""
        self._process.start()
        self._reader.close()  # the writer holds the read end now: when it is gone, sending fails instead of filling a pipe nobody reads
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if not self._process.is_alive() or time.monotonic() > deadline:
                raise ServingError("the prediction log writer did not start (see the line above): predictions could not be kept, so none are served.")

    @property
    def alive(self) -> bool:
        """Whether the writer still runs: without it an answered prediction could not be kept."""
        return self._process.is_alive()

    def has_room(self, reserve: int = 64 * 1024) -> bool:
        """Whether the writer keeps up: more than ``reserve`` bytes of the pipe are free."""
        return self._sent_bytes - self._read.value + reserve <= self._capacity

    def _send(self, item) -> bool:
        """Write ``item`` into the pipe now (it survives this process), or ``False`` if it would not fit."""
        data = ForkingPickler.dumps(item)
        size = len(data) + HEADER_BYTES
        with self._lock:
            # a batch larger than the pipe could never wait for room: it goes, and the writer takes it as it comes
            if size <= self._capacity and self._sent_bytes - self._read.value + size > self._capacity:
                return False
            try:
                self._pipe.send_bytes(data)
            except OSError:  # the writer is gone (a broken pipe)
                return False
            self._sent += 1
            self._sent_bytes += len(data) + HEADER_BYTES
        return True

    def predictions(self, batch: PredictionBatch) -> bool:
        """Send one request's predictions; ``False`` if they could not be (do not answer them then)."""
        return self._send(batch)

    def request(self, model: str, version: int | None, status_code: int, latency_ms: float, n_rows: int) -> bool:
        return self._send({"time": time.time(), "model": model, "version": version, "status_code": status_code, "latency_ms": latency_ms, "n_rows": n_rows})

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything sent so far is in the store; False on timeout or if the writer died."""
        self._send(_FLUSH)  # only wakes the writer early: with a full pipe it is awake anyway
        target = self._sent
        deadline = time.monotonic() + timeout
        while self._stored.value < target:
            if not self._process.is_alive() or time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the writer within ``timeout`` s: what the store could not take by then stays in its journal."""
        deadline = time.monotonic() + timeout
        while self._process.is_alive() and not self._send(_STOP) and time.monotonic() < deadline:
            time.sleep(0.01)  # a full pipe: the writer is reading it
        self._process.join(max(0.0, deadline - time.monotonic()))
        if self._process.is_alive():
            print(f"mlops-serving: the prediction log writer did not stop within {timeout:.0f} s; stopped it.", file=sys.stderr, flush=True)
            self._process.kill()
            self._process.join(1.0)
        self._pipe.close()


def pipe_capacity(connection: Connection) -> int:
    """The pipe's size in bytes, raised to ``PIPE_BYTES`` where the system allows it."""
    try:
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return fcntl.fcntl(connection.fileno(), fcntl.F_GETPIPE_SZ)
    except (AttributeError, OSError):  # not Linux, or above the system's ceiling: the smallest size pipes have
        return 16 * 1024


def write_forever(store_url: str, artifact_root: str, journal_name: str, items: Connection, read, stored, ready, interval: float, parent: int) -> None:
    """The writer process: journal what arrives, batch by batch, while a thread stores the journal.

    Stops on ``_STOP`` or when the server is gone (its end of the pipe closed, once everything it sent
    is read); then waits ``STORE_GRACE_S`` at most for the store.
    """

    def receive():
        data = items.recv_bytes()
        read.value += len(data) + HEADER_BYTES
        return ForkingPickler.loads(data)

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
        batch, ended = [], False
        try:
            if not items.poll(1.0):
                if os.getppid() != parent:
                    break  # the server died without closing the log: nothing more can come
                continue
            batch.append(receive())
            while batch[-1] != _STOP and len(batch) < 2000 and items.poll(0):
                batch.append(receive())
        except EOFError:  # the server is gone, and everything it sent is read
            ended = True
        markers = [i for i in batch if isinstance(i, str)]
        if batch:
            journal.append(
                {
                    "predictions": [row for i in batch if isinstance(i, PredictionBatch) for row in i.rows()],
                    "requests": [i for i in batch if isinstance(i, dict)],
                    "items": len(batch) - markers.count(_STOP),
                    "replayed": False,
                }
            )
        if ended or _STOP in markers:
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
