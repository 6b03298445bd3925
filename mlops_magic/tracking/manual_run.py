"""``mm.run()``: record code outside a magic (a script, a CI job) as a run."""

from __future__ import annotations

from typing import Any

from ..store import Run
from .recorder import DataPair, RunRecorder
from .tracker import Tracker


def _pair(value: Any, target: str | None) -> DataPair | None:
    """``data=``/``eval=`` given as (X, y), or as one DataFrame with ``target=`` naming its column."""
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2:
        return DataPair(*value)
    if target is not None:
        return DataPair(value.drop(columns=[target]), value[target], target=target)
    return DataPair(value)


class ManualRun:
    """Context manager: the block is a run; ``log_metric``/``log_param``/``track_model`` fill it.

    On leaving the block the run is written (``failed`` with the traceback if the block raised,
    and the exception goes on); ``.run`` then holds the recorded ``Run``.
    """

    def __init__(self, tracker: Tracker, experiment: str, name: str | None, tags: dict[str, str], data: Any = None, target: str | None = None, eval: Any = None):
        self._recorder = RunRecorder(tracker, experiment, name, dict(tags))
        self._train = _pair(data, target)
        self._evaluation = _pair(eval, target)
        self._scope = self._recorder.active()
        self.run: Run | None = None

    @property
    def run_id(self) -> str:
        return self._recorder.run_id

    def log_metric(self, key: str, value: float) -> None:
        self._recorder.log_metric(key, value)

    def log_param(self, key: str, value: Any) -> None:
        self._recorder.log_param(key, value)

    def set_tag(self, key: str, value: str) -> None:
        self._recorder.set_tag(key, value)

    def track_model(self, model: Any, name: str = "model") -> None:
        """Save ``model`` (a fitted scikit-learn estimator) with the run; the last one tracked is the main model."""
        self._recorder.track_model(name, model)

    def __enter__(self) -> ManualRun:
        self._scope.__enter__()
        return self

    def __exit__(self, kind, error, tb) -> bool:
        self._scope.__exit__(kind, error, tb)
        self.run = self._recorder.finish(self._train, self._evaluation, error=error)
        return False
