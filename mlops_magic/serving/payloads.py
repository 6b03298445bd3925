"""Request bodies to a validated DataFrame: MLflow's four JSON forms, CSV, and the columns of Open Inference (V2) tensors (``v2``).

Every form is first brought to columns (``{column: values}``), then checked against the served
version's input schema (column names and dtypes of its training data). Anything wrong raises
``PayloadError`` with an HTTP status and a message that names the problem and the fix.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import orjson
import pandas as pd

MLFLOW_FORMS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class PayloadError(Exception):
    """A request that cannot be served as sent: ``status`` is its HTTP code (4xx, or 503 with ``retry_after`` seconds)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def is_numeric(dtype: str) -> bool:
    return dtype.lower().startswith(("int", "uint", "float", "bool"))


class Rows:
    """Rows of values under ``columns`` (``dataframe_split``, positional rows, a V2 matrix), not yet checked."""

    def __init__(self, columns: list[str], data: list, where: str):
        self.columns, self.data, self.where = list(columns), data, where

    def to_columns(self, schema: InputSchema) -> dict[str, list]:
        if len(set(self.columns)) != len(self.columns):
            raise PayloadError(400, f"{self.where} has a repeated column name: name each column once.")
        width = len(self.columns)
        for i, row in enumerate(self.data):
            if not isinstance(row, (list, tuple)) or len(row) != width:
                got = len(row) if isinstance(row, (list, tuple)) else type(row).__name__
                raise PayloadError(400, f"{self.where} row {i} has {got} values; the model takes {width} ({', '.join(self.columns)}).")
        return dict(zip(self.columns, map(list, zip(*self.data)))) if self.data else {c: [] for c in self.columns}


class InputSchema:
    """The columns a version takes, in the model's order, and whether it accepts NaN."""

    def __init__(self, columns: dict[str, str], allow_nan: bool):
        self.columns = dict(columns)
        self.order = list(columns)
        self.numeric = [c for c in self.order if is_numeric(columns[c])]
        self.text = [c for c in self.order if not is_numeric(columns[c])]
        self.allow_nan = allow_nan
        self._index = pd.Index(self.order)  # built once: a frame per request reuses it

    def values(self, frame: pd.DataFrame):
        """The frame's rows as one array, cheaply: the float matrix itself when every column is numeric."""
        return frame.to_numpy(dtype=object if self.text else None)

    def describe(self) -> list[dict[str, str]]:
        return [{"name": c, "dtype": d} for c, d in self.columns.items()]

    # --- any form of columns -> a checked DataFrame ------------------------------------------

    def frame(self, payload: dict[str, Any] | Rows) -> pd.DataFrame:
        """Check ``payload`` (columns, or rows) against the schema; build the DataFrame the model predicts on."""
        if isinstance(payload, Rows):
            fast = self._numeric_rows(payload) if not self.text else None
            if fast is not None:
                return fast
            payload = payload.to_columns(self)
        columns = payload
        missing = [c for c in self.order if c not in columns]
        if missing:
            raise PayloadError(400, f"missing column {missing[0]!r} ({len(missing)} missing): send every input column ({', '.join(self.order)}).")
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise PayloadError(400, f"unknown column {unknown[0]!r}: the model takes only {', '.join(self.order)}.")
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise PayloadError(400, f"columns have different lengths {sorted(lengths)}: send one value per column for each row.")
        if lengths == {0}:
            raise PayloadError(400, "empty batch: send at least one row.")
        matrix = self._numeric_matrix(columns) if self.numeric else None
        if not self.text:
            return pd.DataFrame(matrix.T, columns=self._index, copy=False)
        data = dict(zip(self.numeric, matrix)) if matrix is not None else {}
        data.update((c, self._text_column(c, columns[c])) for c in self.text)
        return pd.DataFrame({c: data[c] for c in self.order})

    def _numeric_matrix(self, columns: dict[str, Any]) -> np.ndarray:
        values = [columns[c] for c in self.numeric]
        try:
            matrix = np.asarray(values)
        except ValueError:
            matrix = np.asarray(values, dtype=object)  # nested values: reported below
        if matrix.dtype.kind not in "fiub" or matrix.ndim != 2:
            matrix = np.array([self._numeric_column(c, columns[c]) for c in self.numeric], dtype=np.float64)
        else:
            matrix = matrix.astype(np.float64, copy=False)
        self._refuse_nan(matrix.T)
        return matrix

    def _numeric_rows(self, rows: Rows) -> pd.DataFrame | None:
        """All-numeric rows straight to one float matrix (C speed); None when a check must explain a problem."""
        if len(rows.columns) != len(self.order) or set(rows.columns) != set(self.order) or not rows.data:
            return None
        try:
            matrix = np.asarray(rows.data)
        except ValueError:
            return None
        if matrix.dtype.kind not in "fiub" or matrix.ndim != 2 or matrix.shape[1] != len(self.order):
            return None
        matrix = matrix.astype(np.float64, copy=False)
        if rows.columns != self.order:
            position = {c: i for i, c in enumerate(rows.columns)}
            matrix = matrix[:, [position[c] for c in self.order]]
        self._refuse_nan(matrix)
        return pd.DataFrame(matrix, columns=self._index, copy=False)

    def _refuse_nan(self, matrix: np.ndarray) -> None:
        """``matrix`` is rows x numeric columns; a NaN is refused when the model cannot take one."""
        if self.allow_nan:
            return
        bad = np.isnan(matrix).any(axis=0)
        if bad.any():
            column = self.numeric[int(np.argmax(bad))]
            raise PayloadError(400, f"column {column!r} has a missing value (null/NaN) and this model cannot take one: fill it in.")

    def _numeric_column(self, column: str, values) -> list[float]:
        out = []
        for row, value in enumerate(values):
            if value is None:
                out.append(math.nan)
            elif isinstance(value, (int, float, np.number)):
                out.append(float(value))
            else:
                raise PayloadError(
                    400, f"column {column!r} row {row} is {value!r} ({type(value).__name__}); the model expects a number ({self.columns[column]})."
                )
        return out

    def _text_column(self, column: str, values) -> np.ndarray:
        text_only = self.columns[column].lower() in ("str", "string", "category")
        out = np.empty(len(values), dtype=object)
        for row, value in enumerate(values):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                out[row] = np.nan
            elif isinstance(value, str) or (not text_only and isinstance(value, (int, float, np.generic))):
                out[row] = value
            elif isinstance(value, (int, float, np.generic)):
                raise PayloadError(400, f"column {column!r} row {row} is {value!r} ({type(value).__name__}); the model expects text.")
            else:
                raise PayloadError(400, f"column {column!r} row {row} is a {type(value).__name__}; send a single value per cell.")
        return out

    # --- body -> columns ---------------------------------------------------------------------

    def from_records(self, records: list, where: str) -> dict[str, list]:
        """Records (``[{column: value}, ...]``) to columns; every record must have the same columns."""
        if not records:
            return {c: [] for c in self.order}
        if not all(isinstance(r, dict) for r in records):
            raise PayloadError(400, f"{where} must be a list of objects {{column: value}}.")
        keys = list(records[0])
        keyset = set(keys)
        for i, record in enumerate(records):
            if set(record) != keyset:
                diff = sorted(keyset.symmetric_difference(record))
                raise PayloadError(400, f"{where} record {i} has different columns from record 0 (differs in {diff[0]!r}): send the same columns in every record.")
        return {k: [r[k] for r in records] for k in keys}

    def from_tensor_like(self, value: Any, where: str) -> dict[str, list] | Rows:
        """MLflow ``instances`` / ``inputs``: records, positional rows, columns, or one column's values."""
        if isinstance(value, dict):
            return {k: (v if isinstance(v, list) else [v]) for k, v in value.items()}
        if not isinstance(value, list):
            raise PayloadError(400, f"{where} must be a list of rows or an object of columns.")
        if value and isinstance(value[0], dict):
            return self.from_records(value, where)
        if value and not isinstance(value[0], (list, tuple)) and len(self.order) == 1:
            return {self.order[0]: value}
        return Rows(self.order, value, where)


def parse_json(body: bytes) -> Any:
    if not body or body.isspace():
        raise PayloadError(400, "empty body: send a JSON payload, e.g. {\"dataframe_records\": [{...}]}.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)  # NaN and Infinity, which Python's json writes and orjson refuses
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(400, f"malformed JSON: {exc}. Check the body is valid JSON.") from None


def invocation_columns(body: bytes, content_type: str, schema: InputSchema) -> dict[str, Any] | Rows:
    """The columns of an ``/invocations`` body (JSON in one of MLflow's forms, or CSV with a header)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return csv_columns(body, schema)
    if media != "application/json":
        raise PayloadError(415, f"content type {media or 'missing'!r} is not supported: send application/json or text/csv.")
    payload = parse_json(body)
    if not isinstance(payload, dict) or len([k for k in payload if k in MLFLOW_FORMS]) != 1 or set(payload) - {*MLFLOW_FORMS, "params"}:
        keys = list(payload) if isinstance(payload, dict) else type(payload).__name__
        raise PayloadError(400, f"payload has {keys}: send an object with exactly one of {', '.join(MLFLOW_FORMS)}.")
    if not isinstance(payload.get("params", {}), dict):
        raise PayloadError(400, f"params is a {type(payload['params']).__name__}: send an object of inference parameters, or leave it out.")
    form = next(k for k in payload if k in MLFLOW_FORMS)
    value = payload[form]
    if form == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list) or set(value) - {"columns", "data", "index"} or not isinstance(value.get("index", []), list):
            raise PayloadError(400, "dataframe_split must be {\"columns\": [...], \"data\": [[...], ...]} (and an optional \"index\": [...]).")
        columns = value.get("columns", schema.order)
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise PayloadError(400, "dataframe_split \"columns\" must be a list of column names.")
        return Rows(columns, value["data"], form)
    if form == "dataframe_records":
        if not isinstance(value, list):
            raise PayloadError(400, "dataframe_records must be a list of objects {column: value}.")
        return schema.from_records(value, form)
    return schema.from_tensor_like(value, form)


def csv_columns(body: bytes, schema: InputSchema) -> dict[str, Any]:
    """Columns of a CSV body with a header row; the schema's text columns stay text (``007`` is not 7)."""
    if not body.strip():
        raise PayloadError(400, "empty batch: the CSV body has no header and no rows.")
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype={c: str for c in schema.text})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise PayloadError(400, f"malformed CSV: {str(exc).strip()}. Send a header row, then one line per row.") from None
    return {str(c): frame[c].to_numpy() for c in frame.columns}
