"""What a run keeps of its data: a content fingerprint, a per-column profile, a bounded sample.

The profile is the reference for drift monitoring later: numeric columns keep quantiles and a
histogram, categorical columns their value frequencies.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pandas as pd

SAMPLE_ROWS = 5_000
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 50
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def as_frame(data: Any, name: str = "y") -> pd.DataFrame:
    """``data`` as a DataFrame: frames as they are, series by name, arrays with columns ``x0, x1, ...``."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name if data.name is not None else name)
    array = np.asarray(data)
    if array.ndim == 1:
        return pd.DataFrame({name: array})
    if array.ndim != 2:
        raise ValueError(f"expected 1-D or 2-D data, got an array of shape {array.shape}")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def fingerprint_frame(frame: pd.DataFrame) -> tuple[str, int, dict[str, str]]:
    """(sha256 of the content with column names and dtypes, row count, {column: dtype})."""
    columns = {str(c): str(t) for c, t in frame.dtypes.items()}
    digest = hashlib.sha256(repr(sorted(columns.items())).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest(), len(frame), columns


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def profile_column(series: pd.Series) -> dict[str, Any]:
    """Summary of one column: quantiles and a histogram if numeric, value frequencies otherwise."""
    missing = int(series.isna().sum())
    base = {"dtype": str(series.dtype), "count": int(len(series) - missing), "missing": missing}
    if is_numeric(series):
        values = series.dropna().to_numpy(dtype="float64")
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return {"kind": "numeric", **base, "mean": None, "std": None, "min": None, "max": None, "quantiles": {}, "histogram": {"edges": [], "counts": []}}
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
        quantiles = np.quantile(values, QUANTILES)
        return {
            "kind": "numeric",
            **base,
            "mean": _finite(values.mean()),
            "std": _finite(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": _finite(values.min()),
            "max": _finite(values.max()),
            "quantiles": {str(q): _finite(v) for q, v in zip(QUANTILES, quantiles)},
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        }
    frequencies = series.dropna().astype(str).value_counts()
    top = frequencies.iloc[:TOP_CATEGORIES]
    result = {str(k): int(v) for k, v in top.items()}
    if len(frequencies) > TOP_CATEGORIES:
        result["__other__"] = int(frequencies.iloc[TOP_CATEGORIES:].sum())
    return {"kind": "categorical", **base, "n_unique": int(len(frequencies)), "frequencies": result}


def profile_frame(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per-column profile of ``frame`` (the reference for drift)."""
    return {str(column): profile_column(frame[column]) for column in frame.columns}


def sample_frame(frame: pd.DataFrame, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """A uniform random sample of at most ``rows`` rows (seeded, so a re-run keeps the same one)."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=rows, random_state=0).reset_index(drop=True)


def training_frame(features: Any, target: Any | None = None, target_name: str = "target") -> tuple[pd.DataFrame, str | None]:
    """One frame of features and (optionally) the target column, as a run records its data."""
    frame = as_frame(features)
    if target is None:
        return frame, None
    y = as_frame(target, name=target_name)
    if y.shape[1] != 1:
        return pd.concat([frame.reset_index(drop=True), y.reset_index(drop=True)], axis=1), None
    name = str(y.columns[0])
    if name in frame.columns:
        name = target_name
    combined = frame.reset_index(drop=True).copy()
    combined[name] = y.iloc[:, 0].to_numpy()
    return combined, name
