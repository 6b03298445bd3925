"""Writes finished runs to the store off the cell's critical path.

A run's models are snapshotted with ``pickle`` in the cell (about a millisecond), then a single
background thread turns them into skops artifacts and writes the run in one transaction. Anything
that reads the store first calls ``flush()``, so a run is visible as soon as its cell has returned.
A write that fails (store locked, disk full) is kept and tried again with the next one. A run is
stored ``running`` as it begins and again, with its params and metrics, before its artifacts are
saved: a kernel killed meanwhile leaves what was saved, found ``interrupted`` (``store/runs.py``).
"""

from __future__ import annotations

import io
import pickle
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from ..store import ModelRecord, Run, Store


@dataclass
class PendingModel:
    """A fitted estimator frozen at the end of its cell, waiting to be saved with skops."""

    variable: str
    class_name: str
    task: str
    snapshot: bytes
    types: frozenset[str]  # every type and function in the object graph


@dataclass
class PendingRun:
    store: Store
    run: Run
    models: list[PendingModel] = field(default_factory=list)
    samples: dict[str, Any] = field(default_factory=dict)  # role -> DataFrame sample
    snapshots: dict[str, Any] = field(default_factory=dict)  # role -> the whole DataFrame, for replays
    started: bool = False  # only the run's beginning, stored as running
    reported: bool = False  # its failed write was reported


class DiskFull(Exception):
    """Artifacts of a run that the disk refused (``OSError``): kept, and saved again with the next write."""


def save_artifacts(pending: PendingRun, saved: dict[tuple[str, str, str], str]) -> None:
    """Save the run's models with skops, and its data samples and snapshots unless ``saved``
    ((artifact root, kind, data digest) → sha256) or the store has them. A file the disk refuses
    (full, read-only) is kept for the next try and raises ``DiskFull`` once the rest is saved; any
    other failure becomes a warning on the run."""
    refused: OSError | None = None
    kept = []
    for model in pending.models:
        try:
            sha256, size, trusted = pending.store.artifacts.save_model(pickle.loads(model.snapshot), model.types)
            pending.run.models.append(ModelRecord(model.variable, model.class_name, sha256, size, trusted, model.task))
        except OSError as exc:
            refused = exc
            kept.append(model)
        except Exception as exc:
            pending.run.warnings.append(f"model {model.variable!r} was not saved: {type(exc).__name__}: {exc}")
    pending.models = kept
    for kind, frames in (("sample", pending.samples), ("snapshot", pending.snapshots)):
        for role, frame in list(frames.items()):
            dataset = pending.run.datasets[role]
            key = (str(pending.store.artifacts.root), kind, dataset.digest)
            try:
                if key not in saved:  # the same data was saved before: reuse its file
                    known = pending.store.snapshot_of(dataset.digest) if kind == "snapshot" else None
                    saved[key] = known or pending.store.artifacts.save_frame(frame)
                setattr(dataset, f"{kind}_sha256", saved[key])
            except OSError as exc:
                refused = exc
                continue
            except Exception as exc:
                pending.run.warnings.append(f"{role} data {kind} was not saved: {type(exc).__name__}: {exc}")
            del frames[role]
    if refused is not None:
        raise DiskFull(f"{refused.strerror or refused} under {pending.store.artifacts.root}")


class RunWriter:
    """One background thread that saves and writes runs in the order they finished."""

    def __init__(self):
        self._queue: queue.Queue[PendingRun | None] = queue.Queue()  # None: only retry failed writes
        self._failed: list[PendingRun] = []
        self._messages: list[str] = []
        self._saved: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="mlops-run-writer", daemon=True)
        self._thread.start()

    def start(self, store: Store, run: Run) -> None:
        """Store ``run`` (what it holds as it begins) as ``running``."""
        self._queue.put(PendingRun(store, run, started=True))

    def submit(self, pending: PendingRun) -> None:
        self._queue.put(pending)

    def flush(self) -> None:
        """Wait until every submitted run is written (or has failed and waits for a retry)."""
        with self._lock:
            if self._failed:
                self._queue.put(None)
        self._queue.join()

    def take_messages(self) -> list[str]:
        """Warnings about failed writes since the last call."""
        with self._lock:
            messages, self._messages = self._messages, []
        return messages

    def _work(self) -> None:
        while True:
            pending = self._queue.get()
            try:
                if pending is not None and (pending.started or pending.models or pending.samples or pending.snapshots):
                    self._mark_running(pending)  # params and metrics kept while the artifacts are saved
                if pending is not None and pending.started:
                    continue
                with self._lock:
                    retry, self._failed = self._failed, []
                for item in [*retry, *([pending] if pending else [])]:
                    self._write(item)
            finally:
                self._queue.task_done()

    def _mark_running(self, pending: PendingRun) -> None:
        try:
            pending.store.start_run(pending.run)
        except Exception:  # the run's own write reports what is wrong with the store
            pass

    def _write(self, pending: PendingRun) -> None:
        try:
            save_artifacts(pending, self._saved)
            pending.store.write_run(pending.run)
        except Exception as exc:
            with self._lock:
                self._failed.append(pending)
                if not pending.reported:  # one warning a run, however many tries
                    pending.reported = True
                    self._messages.append(f"mlops_magic: run {pending.run.short_id} is not recorded yet ({exc}); it will be written with the next run.")


class _TypeRecordingPickler(pickle.Pickler):
    """A pickler that also notes the type of every object it meets (and classes/functions met as objects)."""

    def __init__(self, file):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.types: set[str] = set()

    def reducer_override(self, obj):
        kind = obj if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__") else type(obj)
        self.types.add(f"{getattr(kind, '__module__', '')}.{getattr(kind, '__qualname__', repr(kind))}")
        return NotImplemented


def snapshot_model(variable: str, model: Any, task: str) -> PendingModel:
    """Freeze ``model`` now (pickle), noting the types it is made of."""
    buffer = io.BytesIO()
    pickler = _TypeRecordingPickler(buffer)
    pickler.dump(model)
    return PendingModel(variable, type(model).__name__, task, buffer.getvalue(), frozenset(pickler.types))
