"""What a run card shows: the run, and each metric against the best earlier run of its experiment."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..metrics import Catalog
from ..store import Run, Store
from ..store.entities import PRIMARY_METRIC


@dataclass
class MetricChange:
    """One metric of the run beside the same metric of the best earlier run."""

    name: str
    value: float
    best: float | None
    higher_is_better: bool

    @property
    def delta(self) -> float | None:
        return None if self.best is None else self.value - self.best

    @property
    def improved(self) -> bool | None:
        """True if better than the best earlier run, False if worse, None if equal or no comparison."""
        if self.delta is None or self.delta == 0:
            return None
        return (self.delta > 0) == self.higher_is_better


@dataclass
class RunCardData:
    run: Run
    best_run_id: str | None
    primary_metric: str | None
    metrics: list[MetricChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    key_params: dict[str, str] = field(default_factory=dict)  # what was set away from the defaults

    @property
    def replay(self) -> str | None:
        """Whether the run can be replayed (and deterministically), or which name blocks it and how to fix it."""
        from .recipe import Recipe

        return None if self.run.recipe is None else Recipe.from_dict(self.run.recipe).summary()


def primary_metric(run: Run) -> str | None:
    """The metric that ranks runs: the task's (accuracy, rmse) if present, else the first logged."""
    preferred = PRIMARY_METRIC.get(run.task or "")
    if preferred in run.metrics:
        return preferred
    return next(iter(run.metrics), None)


def card_data(store: Store, run: Run, messages: list[str] | None = None, key_params: dict[str, str] | None = None) -> RunCardData:
    """Compare ``run`` with the best earlier run of its experiment (by its primary metric)."""
    primary = primary_metric(run)
    higher_is_better = Catalog.of(store).higher_is_better
    best = None
    if primary is not None:
        best_id = store.best_run_id(run.experiment, primary, higher_is_better(primary), exclude=run.run_id)
        best = store.get_run(best_id) if best_id else None
    changes = [
        MetricChange(name, value, best.metrics.get(name) if best else None, higher_is_better(name))
        for name, value in run.metrics.items()
    ]
    changes.sort(key=lambda c: (c.name != primary, c.name.startswith("baseline_"), c.name))
    return RunCardData(run, best.run_id if best else None, primary, changes, [*run.warnings, *(messages or [])], key_params or {})
