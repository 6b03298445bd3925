"""What tracking keeps between cells: the background run writer and the runs being recorded."""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .. import config
from ..errors import MLOpsError
from ..store import Store
from .writer import RunWriter

if TYPE_CHECKING:
    from .recorder import RunRecorder


class Tracker:
    """The run writer (started on first use), the stack of recorders whose code is running, and
    the size up to which a run keeps its whole data as a snapshot for replays."""

    def __init__(self, get_store: Callable[[], Store], snapshot_limit_mb: float = config.SNAPSHOT_LIMIT_MB):
        self.get_store = get_store
        self.snapshot_limit_bytes = int(snapshot_limit_mb * 2**20)
        self._writer: RunWriter | None = None
        self._recording: list[RunRecorder] = []
        self._numbered: dict[tuple[str, str], int] = {}  # the number of the last run this kernel named, per store and experiment

    @property
    def writer(self) -> RunWriter:
        if self._writer is None:
            self._writer = RunWriter()
            atexit.register(self._writer.flush)
        return self._writer

    def wait(self) -> None:
        """Wait until every submitted run is written (or has failed and waits for a retry)."""
        if self._writer is not None:
            self._writer.flush()

    def flush(self) -> list[str]:
        """Write every pending run; return the warnings about writes that failed since the last call."""
        if self._writer is None:
            return []
        self._writer.flush()
        return self._writer.take_messages()

    @contextlib.contextmanager
    def recording(self, recorder: RunRecorder) -> Iterator[RunRecorder]:
        """``recorder`` is the active one (``mm.log_metric`` reaches it) while the block runs."""
        self._recording.append(recorder)
        try:
            yield recorder
        finally:
            self._recording.remove(recorder)

    def active(self) -> RunRecorder:
        if not self._recording:
            raise MLOpsError("no run is being recorded: call this inside a %%mlops_train cell or a `with mm.run(...)` block.")
        return self._recording[-1]

    def run_name(self, experiment: str) -> str:
        """A name to say aloud for a new run of ``experiment``: ``wine-4``, its number in the experiment
        (one more than the runs the store holds, or than the last run this kernel named there)."""
        store = self.get_store()
        key = (store.url, experiment)
        number = max(store.count_runs(experiment), self._numbered.get(key, 0)) + 1
        self._numbered[key] = number
        return f"{experiment}-{number}"

    def close(self) -> None:
        """Write what is pending and stop the writer's exit hook."""
        if self._writer is not None:
            self._writer.flush()
            atexit.unregister(self._writer.flush)
            self._writer = None
