"""The prediction journal: what a serving process answered, on local disk until the store holds it.

A serving process's log writer appends each batch here before writing it to the store, and empties
the file once the store has everything. So rows that cannot reach the store (a locked, slow or
missing database) survive a shutdown or a crash of the writer, and the next serving process of the
same store writes them when it starts (``replay_orphans``). One file per writer, held under an
exclusive ``flock`` while that writer lives: a file nobody holds belongs to a writer that is gone,
and what the start could not write, running writers adopt (``Journal.adopt_orphans``) and write.

An entry is one JSON line: ``{"predictions": [...], "requests": [...], "items": N, "replayed": bool}``
(``items``: how many queued items of the live writer it accounts for; adopted entries count none).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..errors import StoreError
from .artifacts import local_folder

READ_LIMIT = 16 * 1024 * 1024  # bytes of entries read back at once, so a long outage never fills memory


def journal_folder(artifact_root: str | os.PathLike) -> Path:
    """Where a store keeps the journals of its serving processes: beside its artifact folder (a local one: ``./.mlops`` for a remote root)."""
    return local_folder(artifact_root) / "journal"


class Journal:
    """One writer's journal file: append entries, read back those not yet stored, mark them stored.

    Safe to use from two threads (one appends, one stores).
    """

    def __init__(self, folder: Path, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / f"{name}.jsonl"
        self._file = open(self.path, "a+b")  # noqa: SIM115 - held open (and locked) for the writer's life; read back by pread
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._changed = threading.Condition()
        self._start = 0  # offset of the first entry not yet stored
        self._end = 0  # offset after the last entry appended

    def append(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(entry, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        with self._changed:
            self._file.write(line)
            self._file.flush()  # in the OS's hands: it survives this process
            self._end += len(line)
            self._changed.notify_all()

    def unstored(self, timeout: float) -> tuple[list[dict[str, Any]], int]:
        """Entries not yet stored (waiting up to ``timeout`` s for one), and the offset to pass to ``stored``."""
        with self._changed:
            if self._start == self._end:
                self._changed.wait(timeout)
            start, end = self._start, self._end
        if start == end:
            return [], end
        data = os.pread(self._file.fileno(), min(end - start, READ_LIMIT), start)
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one entry longer than the limit
            data = os.pread(self._file.fileno(), end - start, start)
            cut = len(data)
        return [orjson.loads(line) for line in data[:cut].splitlines()], start + cut

    def stored(self, upto: int) -> None:
        """Entries before offset ``upto`` are in the store; once all are, the file is emptied."""
        with self._changed:
            self._start = upto
            if self._start == self._end:
                self._file.truncate(0)
                self._start = self._end = 0
            self._changed.notify_all()

    def wait_stored(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until the store holds every entry; whether it does."""
        with self._changed:
            return self._changed.wait_for(lambda: self._start == self._end, timeout)

    def adopt_orphans(self) -> int:
        """Move the entries of journals whose writer is gone into this one (marked replayed); how many."""
        adopted = 0
        for path, orphan in _claimed_orphans(self.folder, self.path):
            for entry in _entries(path, orphan):
                self.append({**entry, "items": 0, "replayed": True})
                adopted += 1
            path.unlink()
        return adopted

    def close(self) -> None:
        """Release the file; it is removed when empty, else left for the next writer to adopt."""
        with self._changed:
            if self._end == 0:
                self.path.unlink(missing_ok=True)
            self._file.close()


def writable_journal_folder(artifact_root: str | os.PathLike) -> Path:
    """The journal folder, created if needed; a ``StoreError`` naming it when it cannot be written."""
    folder = journal_folder(artifact_root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        raise StoreError(f"the prediction journal folder {folder} cannot be written: make it writable, or serve from a store you can write.")
    return folder


def replay_orphans(store, artifact_root: str | os.PathLike, budget_s: float = 10.0) -> int:
    """Write into ``store`` the rows that ended serving processes left in their journals; how many entries.

    A serving process does this when it starts. It stops after ``budget_s`` seconds, or at the first
    write the store refuses (``StoreError``): what is left, its writers adopt and write later.
    """
    written, deadline = 0, time.monotonic() + budget_s
    for path, orphan in _claimed_orphans(journal_folder(artifact_root), None):
        entries = []
        for entry in _entries(path, orphan):
            entries.append(entry)
            if sum(len(e["predictions"]) + len(e["requests"]) for e in entries) >= 5000:
                _replay(store, entries)
                written, entries = written + len(entries), []
            if time.monotonic() > deadline:
                return written  # the file stays whole: its rows already written are skipped when it is replayed
        _replay(store, entries)
        written += len(entries)
        path.unlink()
    return written


def _replay(store, entries: list[dict[str, Any]]) -> None:
    store.log_served([r for e in entries for r in e["predictions"]], [r for e in entries for r in e["requests"]], replayed=True)


def replays_waiting(folder: Path) -> bool:
    """Whether rows of an ended serving process may still wait for the store: in a journal nobody holds,
    or among the entries a live writer adopted and has not written yet."""
    for path in folder.glob("*.jsonl"):
        try:
            with open(path, "rb") as journal:
                try:
                    fcntl.flock(journal.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:  # a live writer's journal: only the entries it adopted count
                    if _holds_replayed(journal):
                        return True
                    continue
                if os.fstat(journal.fileno()).st_size:
                    return True
        except FileNotFoundError:
            continue  # adopted and removed meanwhile
    return False


def _holds_replayed(journal) -> bool:
    marker, tail = b'"replayed":true', b""
    while chunk := journal.read(1 << 20):
        if marker in tail + chunk:
            return True
        tail = chunk[-len(marker) :]
    return False


def _claimed_orphans(folder: Path, own: Path | None) -> Iterator[tuple[Path, BinaryIO]]:
    """Each journal in ``folder`` whose writer is gone, open and locked until the next one is taken."""
    for path in sorted(folder.glob("*.jsonl")):
        if path == own:
            continue
        try:
            orphan = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the caller used it
        except FileNotFoundError:
            continue
        with orphan:
            try:
                fcntl.flock(orphan.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            try:
                if os.stat(path).st_ino != os.fstat(orphan.fileno()).st_ino:
                    continue  # taken and removed by another process meanwhile
            except FileNotFoundError:
                continue
            yield path, orphan


def _entries(path: Path, orphan: BinaryIO) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(orphan, 1):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:  # the last line of a writer killed while appending it
            print(f"mlops-serving: journal {path.name} line {number} is incomplete, skipped.", file=sys.stderr, flush=True)
