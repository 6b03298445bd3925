"""The prediction journal: what a serving process answered, on local disk until the store holds it.

A serving process's log writer appends each batch here before writing it to the store, and empties
the file once the store has everything. So rows that cannot reach the store (a locked, slow or
missing database) survive a shutdown or a crash of the writer, and the next serving process of the
same store writes them. One file per writer, held under an exclusive ``flock`` while that writer
lives: a file nobody holds belongs to a writer that is gone, and the next writer adopts its entries.

An entry is one JSON line: ``{"predictions": [...], "requests": [...], "items": N, "replayed": bool}``
(``items``: how many queued items of the live writer it accounts for; adopted entries count none).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from ..errors import StoreError

READ_LIMIT = 16 * 1024 * 1024  # bytes of entries read back at once, so a long outage never fills memory


def journal_folder(artifact_root: str | os.PathLike) -> Path:
    """Where a store keeps the journals of its serving processes: beside its artifact folder."""
    return Path(artifact_root).parent / "journal"


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
        for path in sorted(self.folder.glob("*.jsonl")):
            if path == self.path:
                continue
            try:
                orphan = open(path, "rb")  # noqa: SIM115 - closed below, after its lock is taken
            except FileNotFoundError:
                continue
            with orphan:
                try:
                    fcntl.flock(orphan.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                try:
                    if os.stat(path).st_ino != os.fstat(orphan.fileno()).st_ino:
                        continue  # adopted and removed by another writer meanwhile
                except FileNotFoundError:
                    continue
                for number, line in enumerate(orphan, 1):
                    try:
                        entry = orjson.loads(line)
                    except orjson.JSONDecodeError:  # the last line of a writer killed while appending it
                        print(f"mlops-serving: journal {path.name} line {number} is incomplete, skipped.", file=sys.stderr, flush=True)
                        continue
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


def orphans_waiting(folder: Path) -> bool:
    """Whether a journal whose writer is gone still holds entries (the next writer to start adopts them)."""
    for path in folder.glob("*.jsonl"):
        try:
            with open(path, "rb") as journal:
                fcntl.flock(journal.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                if os.fstat(journal.fileno()).st_size:
                    return True
        except (BlockingIOError, FileNotFoundError):
            continue  # held by a live writer, or adopted meanwhile
    return False
