"""What a run keeps of its data: a content fingerprint, a per-column profile, a bounded sample.

The profile is the reference for drift monitoring later: numeric columns keep quantiles and a
histogram, categorical columns their value frequencies.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..frames import is_numeric

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


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges of ``HISTOGRAM_BINS`` equal bins over finite ``values``, also when their range
    overflows (±1e308) or is too narrow for bins of float64 width (subnormal numbers)."""
    if not len(values):
        return np.array([]), np.array([])
    low, high = values.min(), values.max()
    with np.errstate(over="ignore"):
        if np.isfinite(high - low):
            try:
                return np.histogram(values, bins=HISTOGRAM_BINS)
            except ValueError:
                pass
    share = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    return np.histogram(values, bins=np.maximum.accumulate(low * (1 - share) + high * share))


def _numeric_profiles(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Profiles of numeric columns, with the statistics computed for all columns at once."""
    values = frame.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values).sum(axis=0)
    finite = np.where(np.isfinite(values), values, np.nan)
    counts = np.isfinite(finite).sum(axis=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, reported as None
        quantiles = np.nanquantile(finite, QUANTILES, axis=0)
        stats = {
            "mean": np.nanmean(finite, axis=0),
            "std": np.nanstd(finite, axis=0, ddof=1),
            "min": np.nanmin(finite, axis=0),
            "max": np.nanmax(finite, axis=0),
        }
    profiles = {}
    for i, column in enumerate(frame.columns):
        column_values = finite[:, i][~np.isnan(finite[:, i])]
        bins, edges = _histogram(column_values)
        profiles[str(column)] = {
            "kind": "numeric",
            "dtype": str(frame.dtypes.iloc[i]),
            "count": int(len(frame) - missing[i]),
            "missing": int(missing[i]),
            **{name: _finite(stat[i]) for name, stat in stats.items()},
            "quantiles": {str(q): _finite(v) for q, v in zip(QUANTILES, quantiles[:, i])} if counts[i] else {},
            "histogram": {"edges": edges.tolist(), "counts": bins.tolist()},
        }
    return profiles


def _categorical_profile(series: pd.Series) -> dict[str, Any]:
    missing = int(series.isna().sum())
    frequencies = series.dropna().astype(str).value_counts()
    top = {str(k): int(v) for k, v in frequencies.iloc[:TOP_CATEGORIES].items()}
    if len(frequencies) > TOP_CATEGORIES:
        top["__other__"] = int(frequencies.iloc[TOP_CATEGORIES:].sum())
    return {"kind": "categorical", "dtype": str(series.dtype), "count": int(len(series) - missing), "missing": missing, "n_unique": int(len(frequencies)), "frequencies": top}


def profile_frame(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per-column profile of ``frame`` (the reference for drift), in the frame's column order."""
    numeric = [c for c in frame.columns if is_numeric(frame[c])]
    profiles = _numeric_profiles(frame[numeric]) if numeric else {}
    for column in frame.columns:
        if column not in numeric:
            profiles[str(column)] = _categorical_profile(frame[column])
    return {str(c): profiles[str(c)] for c in frame.columns}


_profile_cache: dict[str, dict[str, Any]] = {}


def profile_of(digest: str, frame: pd.DataFrame) -> dict[str, Any]:
    """``profile_frame`` remembered by content digest: re-running a cell on the same data costs nothing."""
    profile = _profile_cache.get(digest)
    if profile is None:
        if len(_profile_cache) >= 32:
            _profile_cache.pop(next(iter(_profile_cache)))
        profile = _profile_cache[digest] = profile_frame(frame)
    return profile


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
    taken = set(map(str, frame.columns))
    candidates = [str(y.columns[0]), target_name, *(f"{target_name}_{i}" for i in range(1, len(taken) + 2))]
    name = next(c for c in candidates if c not in taken)  # never overwrite a feature column
    combined = frame.reset_index(drop=True).copy()
    combined[name] = y.iloc[:, 0].to_numpy()
    return combined, name
