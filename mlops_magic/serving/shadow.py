"""Shadow scoring: the challenger predicts on the champion's inputs, in the background, logged but never answered."""

from __future__ import annotations

import queue
import sys
import threading
import time

from .prediction_log import PredictionBatch, PredictionLog
from .watcher import Slots


class ShadowScorer(threading.Thread):
    """Scores queued frames with the shadow variant and logs them with ``shadow=True`` (ids suffixed ``.s``)."""

    def __init__(self, slots: Slots, label: str, log: PredictionLog):
        super().__init__(name="mlops-shadow", daemon=True)
        self.slots = slots
        self.label = label
        self.log = log
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def submit(self, frame, ids: list[str]) -> None:
        self._queue.put((frame, ids))

    def close(self) -> None:
        """Score everything still queued, then stop."""
        self._queue.put(None)
        self.join(timeout=60)

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            frame, ids = item
            served = self.slots.current[self.label]
            started = time.perf_counter()
            try:
                outputs = served.predict(frame).tolist()
            except Exception as exc:  # the challenger failing must not touch the champion's answers
                print(f"mlops-serving: shadow {self.label} v{served.version} failed: {exc}", file=sys.stderr)
                continue
            latency_ms = (time.perf_counter() - started) * 1000
            self.log.predictions(
                PredictionBatch(
                    [f"{i}.s" for i in ids], served.schema.order, served.schema.values(frame), outputs, served.name, served.version, self.label, True, latency_ms, time.time()
                )
            )
