"""Plain records the store reads and writes: what the rest of the package passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFoundError

PRIMARY_METRIC = {"classification": "accuracy", "regression": "rmse"}  # the metric that ranks runs of a task

RUN_HTML_PARAMS = 12  # params shown in a run's static HTML (all are in ``.params``)


@dataclass
class ModelRecord:
    """A fitted estimator a run saved: the cell's variable name, its class and its artifact."""

    variable: str
    class_name: str
    sha256: str
    size: int
    trusted_types: list[str]
    task: str | None = None


@dataclass
class DatasetRecord:
    """Training or evaluation data of a run: fingerprint, per-column profile, a bounded sample."""

    role: str
    variable: str | None
    digest: str
    n_rows: int
    columns: dict[str, str]
    profile: dict[str, Any]
    target: str | None = None
    sample_sha256: str | None = None
    snapshot_sha256: str | None = None  # the whole frame, kept for replays (under the size limit)


@dataclass
class Run:
    """One tracked execution of a cell (or of an ``mm.run()`` block)."""

    run_id: str
    experiment: str
    name: str
    status: str
    start_time: float
    duration_s: float | None = None
    source: str | None = None
    notebook: str | None = None
    execution_count: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    models: list[ModelRecord] = field(default_factory=list)
    datasets: dict[str, DatasetRecord] = field(default_factory=dict)
    recipe: dict[str, Any] | None = None  # what a replay executes (tracking/recipe.py), None if not recorded
    parent_run_id: str | None = None  # the run this one replays

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def model(self) -> ModelRecord | None:
        """The run's main model: the last estimator the cell fitted."""
        return self.models[-1] if self.models else None

    @property
    def task(self) -> str | None:
        """classification | regression | other: the ``mlops.task`` tag tracking sets, else the main model's."""
        return self.tags.get("mlops.task") or (self.model.task if self.model else None)

    def model_named(self, variable: str) -> ModelRecord:
        """The model the cell bound to ``variable``."""
        found = next((m for m in self.models if m.variable == variable), None)
        if found is None:
            saved = ", ".join(m.variable for m in self.models) or "none"
            raise NotFoundError(f"run {self.short_id} saved no model named {variable!r} (it saved: {saved}).")
        return found

    def __repr__(self) -> str:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(self.metrics.items())[:4])
        model = f" {self.model.class_name}" if self.model else ""
        return f"<Run {self.short_id} {self.experiment}/{self.name} {self.status}{model}{': ' + metrics if metrics else ''}>"

    def _repr_html_(self) -> str:
        from .. import html as h

        status = h.badge(self.status, h.GOOD if self.status == "finished" else h.BAD)
        model = f" · {h.escape(self.model.class_name)}" if self.model else ""
        header = f"<b>run {h.escape(self.short_id)}</b> {status} · experiment <b>{h.escape(self.experiment)}</b> · {h.escape(self.name)}{model}"
        tables = [
            h.table(["metric", "value"], sorted(self.metrics.items())) if self.metrics else "",
            h.table(["param", "value"], sorted(self.params.items())[:RUN_HTML_PARAMS]) if self.params else "",
            h.table(["data", "variable", "rows", "fingerprint"], [[d.role, d.variable or "–", d.n_rows, d.digest[:12]] for d in self.datasets.values()])
            if self.datasets else "",
        ]  # fmt: skip
        error = h.code(self.error.strip().splitlines()[-1]) if self.error else ""
        return f'<div style="font-family:sans-serif;font-size:13px"><div>{header}</div>{error}<div style="display:flex;gap:24px;flex-wrap:wrap">{"".join(tables)}</div></div>'
