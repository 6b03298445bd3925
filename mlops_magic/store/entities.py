"""Plain records the store reads and writes: what the rest of the package passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def model(self) -> ModelRecord | None:
        """The run's main model: the last estimator the cell fitted."""
        return self.models[-1] if self.models else None
