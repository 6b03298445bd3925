"""Shadow scoring: the challenger predicts on the champion's inputs, in the background, logged but never answered."""

from __future__ import annotations

import queue
import sys
import threading
import time

from ..store.predictions import shadow_id
from .prediction_log import PredictionBatch, PredictionLog
from .watcher import Slots

QUEUE_REQUESTS = 256  # requests waiting for the shadow model at most; beyond that, they are not shadowed


class ShadowScorer(threading.Thread):
    """Scores queued frames with the shadow variant and logs them with ``shadow=True`` (ids suffixed ``.s``).

    Its queue is bounded: when the shadow model falls behind the traffic, requests beyond the bound
    are not shadowed (``on_skip`` counts their rows), so the champion's answers never wait for it.
    """

    def __init__(self, slots: Slots, label: str, log: PredictionLog, on_skip=None):
        super().__init__(name="mlops-shadow", daemon=True)
        self.slots = slots
        self.label = label
        self.log = log
        self.on_skip = on_skip
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_REQUESTS)

    def submit(self, frame, ids: list[str]) -> None:
        try:
            self._queue.put_nowait((frame, ids))
        except queue.Full:
            if self.on_skip:
                self.on_skip(len(ids))

    def close(self) -> None:
        """Score everything still queued (at most ``QUEUE_REQUESTS`` requests), then stop."""
        self._queue.put(None)
        self.join()

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            frame, ids = item
            served = self.slots.current[self.label]
            started = time.perf_counter()
            try:
                outputs, confidence = served.predict(frame)
            except Exception as exc:  # the challenger failing must not touch the champion's answers
                print(f"mlops-serving: shadow {self.label} v{served.version} failed: {exc}", file=sys.stderr)
                continue
            latency_ms = (time.perf_counter() - started) * 1000
            kept = self.log.predictions(
                PredictionBatch(
                    [shadow_id(i) for i in ids], served.schema.order, served.schema.values(frame), outputs.tolist(),
                    None if confidence is None else confidence.tolist(), served.name, served.version, self.label, True, latency_ms, time.time(),
                )  # fmt: skip
            )
            if not kept and self.on_skip:  # the log's writer is behind: counted like a shadow behind the traffic
                self.on_skip(len(ids))
