"""Collects what one run produced and hands it to the writer: the core of ``%%mlops_train`` and ``mm.run()``.

A recorder is *active* while its code runs, so ``mm.log_metric`` and friends know where to go.
Everything it does after the user's code is guarded: a tracking fault becomes a warning on the
run, never an exception in the user's cell.
"""

from __future__ import annotations

import contextlib
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MLOpsError, StoreError
from ..metrics import Catalog, as_metric_value
from ..store import DatasetRecord, Run, Store
from . import writer
from .environment import EnvironmentCapture
from .estimators import params_of, search_results, task_of
from .metrics import baseline_metrics, evaluate
from .recipe import Recipe, unseeded_estimators

if TYPE_CHECKING:
    from .tracker import Tracker


PACKAGE_FOLDER = str(Path(__file__).resolve().parents[1])


def user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` from the user's own code on: mlops_magic's frames above it are left out."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(PACKAGE_FOLDER):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


@dataclass
class DataPair:
    """Features and (optionally) target of one role (train or eval), with where they came from."""

    X: Any
    y: Any = None
    variable: str | None = None
    target: str | None = None  # the target column's name when the data came as one frame


@dataclass
class RunRecorder:
    """Accumulates one run; ``finish`` builds the ``Run`` and submits it to the tracker's writer."""

    tracker: Tracker
    experiment: str
    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    models: list[tuple[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    start_time: float = field(default_factory=time.time)

    def __post_init__(self):
        self._started = time.perf_counter()
        if self.name is None:
            try:
                self.name = self.tracker.run_name(self.experiment)
            except StoreError:  # a store that cannot be read now: the cell still runs, the run named by its id
                self.name = f"{self.experiment}-{self.run_id[:6]}"
        self._environment = EnvironmentCapture()

    @contextlib.contextmanager
    def active(self):
        """A context in which this recorder is the one ``mm.log_metric`` and friends reach; the run is
        stored ``running`` (in the background) as it begins, so a kernel killed meanwhile leaves it ``interrupted``."""
        self.tracker.writer.start(self.tracker.get_store(), self._run("running"))
        with self.tracker.recording(self):
            yield self

    def _run(self, status: str, **fields) -> Run:
        return Run(run_id=self.run_id, experiment=self.experiment, name=self.name, status=status, start_time=self.start_time, source=self.source, tags=dict(self.tags), **fields)

    def log_metric(self, key: str, value: float) -> None:
        number = as_metric_value(value)
        if number is None:
            raise MLOpsError(f"metric {key!r} must be a finite number, got {value!r}.")
        self.metrics[key] = number

    def log_param(self, key: str, value: Any) -> None:
        self.params[key] = value if isinstance(value, str) else repr(value)

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = str(value)

    def track_model(self, variable: str, model: Any) -> None:
        self.models = [(v, m) for v, m in self.models if m is not model] + [(variable, model)]

    def finish(
        self,
        train: DataPair | None = None,
        evaluation: DataPair | None = None,
        error: BaseException | None = None,
        provenance: dict | None = None,
        recipe: Recipe | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Build the run (models, params, data, metrics, recipe) and submit it for writing."""
        status = "finished" if error is None else "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        run = self._run(
            status,
            duration_s=time.perf_counter() - self._started,
            provenance=provenance or {},
            error=user_traceback(error) if error is not None else None,
            warnings=self.warnings,
            parent_run_id=parent_run_id,
        )
        if provenance:
            run.notebook = provenance.get("notebook")
            run.execution_count = provenance.get("execution_count")
        store = self.tracker.get_store()
        pending = writer.PendingRun(store, run)
        self._guarded("model", lambda: self._describe_models(run, pending))
        if error is None:
            self._guarded("data", lambda: self._describe_data(run, pending, train, evaluation, store))
            self._guarded("evaluation", lambda: self._evaluate(run, train, evaluation, store))
        run.params.update(self.params)
        run.metrics.update(self.metrics)
        run.environment = self._environment.result()
        if recipe is not None:
            recipe.nondeterministic = unseeded_estimators(self.models)
            run.recipe = recipe.to_dict()
        self.tracker.writer.submit(pending)
        return run

    def _guarded(self, what: str, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            self.warnings.append(f"{what} not recorded: {type(exc).__name__}: {exc}")

    def _describe_models(self, run: Run, pending: writer.PendingRun) -> None:
        for variable, model in self.models:
            try:
                pending.models.append(writer.snapshot_model(variable, model, task_of(model)))
            except Exception as exc:
                self.warnings.append(f"model {variable!r} was not saved: {type(exc).__name__}: {exc}")
        if self.models:
            main = self.models[-1][1]
            run.params.update(params_of(main))
            best_params, best_metrics = search_results(main)
            run.params.update(best_params)
            run.metrics.update(best_metrics)
            run.tags.setdefault("model_class", type(main).__name__)
            run.tags.setdefault("mlops.task", task_of(main))

    def _describe_data(self, run: Run, pending: writer.PendingRun, train: DataPair | None, evaluation: DataPair | None, store: Store) -> None:
        from .data import fingerprint_frame, profile_of, sample_frame, training_frame

        for role, pair in (("train", train), ("eval", evaluation)):
            if pair is None:
                continue
            frame, target = training_frame(pair.X, pair.y, pair.target or "target")
            digest, n_rows, columns = fingerprint_frame(frame)
            run.datasets[role] = DatasetRecord(role, pair.variable, digest, n_rows, columns, profile_of(digest, frame), target)
            pending.samples[role] = sample_frame(frame).copy()
            size = int(frame.memory_usage(deep=True, index=False).sum())
            if size <= self.tracker.snapshot_limit_bytes:
                pending.snapshots[role] = frame.copy()
            else:
                self.warnings.append(
                    f"{role} data ({size / 2**20:.0f} MB) is over the snapshot limit ({self.tracker.snapshot_limit_bytes / 2**20:.0f} MB): "
                    "not kept, so a replay needs the data given (raise it with %config MLOpsMagic.snapshot_limit_mb)."
                )
            if pair.variable:
                earlier = store.latest_dataset_digest(self.experiment, role, pair.variable)
                if earlier is not None and earlier != digest:
                    self.warnings.append(f"{role} data {pair.variable!r} changed since the last run that used it (different content, same name).")

    def _evaluate(self, run: Run, train: DataPair | None, evaluation: DataPair | None, store: Store) -> None:
        if evaluation is None:
            return
        if not self.models:
            self.warnings.append("--eval given but the cell fitted no model to evaluate.")
            return
        model = self.models[-1][1]
        task = task_of(model)
        values, problems = evaluate(model, evaluation.X, evaluation.y, task, Catalog.of(store))
        run.metrics.update(values)
        self.warnings.extend(f"not recorded: {line}" for line in problems)
        if train is not None and train.y is not None:
            run.metrics.update(baseline_metrics(train.y, evaluation.y, task))
