"""Small facts about pandas data that several layers need (a leaf module: it imports no other part)."""

from __future__ import annotations


def is_numeric(series) -> bool:
    """Whether ``series`` holds numbers (booleans are categories, not numbers)."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
