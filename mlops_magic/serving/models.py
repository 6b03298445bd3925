"""Loading a registered version for serving: the model (sha256-checked), its input schema, its identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry import input_schema
from .payloads import InputSchema


@dataclass(frozen=True)
class ServedVersion:
    """One loaded version of a model, ready to predict on frames its schema built."""

    name: str
    version: int
    run_id: str
    sha256: str
    model: Any
    schema: InputSchema
    by_name: bool  # fitted on a DataFrame (feature names), so it predicts on one

    def predict(self, frame) -> np.ndarray:
        return np.asarray(self.model.predict(frame if self.by_name else frame.to_numpy()))

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "run_id": self.run_id, "sha256": self.sha256, "model": type(self.model).__name__}


def load_version(store, name: str, version: int | None = None, alias: str | None = None) -> ServedVersion:
    """Load ``name`` at ``version`` or ``alias`` from ``store``; the artifact's sha256 is checked first."""
    found = store.model_version(name, version=version, alias=alias)
    run = store.get_run(found.run_id)
    record = run.model_named(found.variable)
    model = store.artifacts.load_model(record.sha256, record.trusted_types)
    return ServedVersion(name, found.version, run.run_id, record.sha256, model, schema_for(model, input_schema(run)), hasattr(model, "feature_names_in_"))


def schema_for(model, recorded: dict[str, str] | None) -> InputSchema:
    """The model's input columns in its own order, typed by the run's training data where known."""
    recorded = recorded or {}
    if hasattr(model, "feature_names_in_"):
        order = [str(c) for c in model.feature_names_in_]
    elif recorded:
        order = list(recorded)
    else:
        order = [str(i) for i in range(int(getattr(model, "n_features_in_", 0)))]
    try:
        from sklearn.utils import get_tags

        allow_nan = bool(get_tags(model).input_tags.allow_nan)
    except (ImportError, AttributeError, TypeError, ValueError):
        allow_nan = True  # unknown: let the model itself refuse
    return InputSchema({c: recorded.get(c, "float64") for c in order}, allow_nan)
