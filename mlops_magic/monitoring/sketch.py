"""Drift at scale: the reference kept as a sketch, the current data streamed in chunks.

A ``DriftSketch`` summarises each reference column in two passes over its chunks, in bounded
memory: a numeric column by its exact count, missing count, minimum, maximum and moments, and by
exact counts over fixed bins (``QUANTILE_BINS`` quantiles of a seeded uniform sample of
``SAMPLE_ROWS`` values, the sample's deciles among them, and beyond the reference's range bins
growing geometrically in units of its standard deviation); a categorical column by its exact
category counts. The current data is counted over the same bins, chunk by chunk.

What is exact: the counts, missing-value tests, the chi-square test and PSI/JS of categorical
columns, the reference standard deviation. What a sketch stands in for: PSI/JS of numeric columns
(exact counts, but over the sample's deciles snapped to the grid of ``bins_of``, not the
reference's own deciles: within 1e-3 in the tests); the Wasserstein distance, computed between the
two binned CDFs (uniform within a bin, or a point mass where the reference sample holds one value
only), within ``WASSERSTEIN_TOLERANCE`` of the exact distance (relative to the reference standard
deviation, tested against scipy); and the overlay histogram. Against a sketch, numeric columns are
always tested by the normalised Wasserstein distance (the exact path's test above ``LARGE_SAMPLE``
rows).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..frames import is_numeric
from . import drift as d

QUANTILE_BINS = 2048  # bins between the reference's minimum and maximum
GRID_STEP, SPREAD_BINS = 0.01, 4096  # and no bin there wider than 0.01 standard deviations (or 1/4096 of the range, if wider)
GRID_CELLS, GRID_TAIL = 1 << 18, 1e-4  # the uniform grid between the sample's 0.01% and 99.99% quantiles
SAMPLE_ROWS = 200_000  # values per column the bin edges are chosen from (seeded)
TAIL_RATIO, TAIL_FIRST, TAIL_LAST = 1.02, 1e-3, 1e4  # bins beyond the range: from 0.001 to 10,000 standard deviations, 2% wider each
CHUNK_ROWS = 500_000  # rows per chunk read from a parquet file
WASSERSTEIN_TOLERANCE = 1e-3  # |sketched - exact| Wasserstein distance / reference std (tests check it)
FORMAT = 1


def chunks_of(source, columns: list[str] | None = None, chunk_rows: int = CHUNK_ROWS) -> Callable[[], Iterator]:
    """A function that returns a fresh iterator over ``source``'s chunks: a DataFrame (sliced), a
    parquet file or folder (pyarrow record batches of ``chunk_rows``), or a function returning an
    iterable of DataFrames (called once per pass)."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return lambda: (source.iloc[i : i + chunk_rows] for i in range(0, max(len(source), 1), chunk_rows))
    if isinstance(source, (str, Path)):
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        try:
            paths = ds.dataset(str(source), format="parquet").files
            texts = [[f.name for f in pq.read_schema(p) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)] for p in paths]
            files = [pq.ParquetFile(p, pre_buffer=False, read_dictionary=t) for p, t in zip(paths, texts)]  # pre-buffered, a file's row groups stay in memory
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read {str(source)!r} as parquet ({exc}): give a DataFrame, a parquet file or folder, or a function returning chunks.") from None
        # one file at a time, one thread (the dataset reader's read-ahead threads cost more than they gain here); no
        # pandas: numbers go to numpy without a copy, text stays dictionary-encoded (counted by its codes)
        return lambda: (b for f in files for b in f.iter_batches(batch_size=chunk_rows, columns=columns, use_threads=False))
    if callable(source):
        return lambda: iter(source())
    raise InvalidInputError(
        f"cannot stream a {type(source).__name__}: give a DataFrame, a parquet file or folder, or a function returning an iterable of DataFrames."
    )


def _is_batch(chunk) -> bool:
    import pyarrow as pa

    return isinstance(chunk, pa.RecordBatch)


def _columns(chunk) -> list[str]:
    return list(chunk.schema.names) if _is_batch(chunk) else list(chunk.columns)


def _holds_numbers(chunk, column: str) -> bool:
    """Whether ``column`` of ``chunk`` holds numbers (booleans and text are categories)."""
    if not _is_batch(chunk):
        return is_numeric(chunk[column])
    import pyarrow as pa

    kind = chunk.schema.field(column).type
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _numeric_values(chunk, column: str) -> np.ndarray:
    """``column`` of ``chunk`` as floats, NaN where missing (a record batch's without a copy when none is)."""
    import pandas as pd

    if column not in _columns(chunk):
        return np.full(len(chunk), np.nan)
    if _is_batch(chunk):
        import pyarrow as pa

        values = chunk.column(column)
        if not (_holds_numbers(chunk, column) or values.null_count == len(values)):
            raise InvalidInputError(f"column {column!r} holds numbers in the reference but {values.type} values here: pass it in categorical=[...] of both calls.")
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    series = chunk[column]
    if not (is_numeric(series) or series.isna().all()):
        raise InvalidInputError(f"column {column!r} holds numbers in the reference but {series.dtype} values here: pass it in categorical=[...] of both calls.")
    return pd.to_numeric(series).to_numpy(dtype=float, na_value=np.nan)


def _category_counts(chunk, column: str):
    """Rows, missing values and the count of each category (``MISSING`` among them) of ``column``."""
    import pandas as pd

    if column not in _columns(chunk):
        return len(chunk), len(chunk), {d.MISSING: float(len(chunk))} if len(chunk) else {}
    if _is_batch(chunk):
        import pyarrow as pa
        import pyarrow.compute as pc

        values = chunk.column(column)
        if pa.types.is_dictionary(values.type):  # text: counted by its codes
            counted = pc.value_counts(values)
            names = [d.MISSING if v is None else v for v in counted.field("values").to_pylist()]
            return len(values), values.null_count, dict(zip(names, counted.field("counts").to_numpy().astype(float)))
        series = values.to_pandas(types_mapper=pd.ArrowDtype)
    else:
        series = chunk[column]
    counts = d._value_counts(series)
    return len(series), int(series.isna().sum()), {(v.item() if isinstance(v, np.generic) else v): float(c) for v, c in counts.items()}  # kept as JSON


@dataclass
class NumericSketch:
    n: int = 0
    missing: int = 0
    low: float = math.inf
    high: float = -math.inf
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean (Chan et al.'s parallel update)
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None  # len(edges) + 1 bins: below the first edge, between edges, above the last
    atoms: np.ndarray | None = None  # bins whose reference sample holds one value: a point mass at the bin's left edge
    deciles: np.ndarray | None = None  # positions in ``edges`` of the decile bins' edges
    grid_low: float | None = None  # the uniform grid of ``bins_of``: where it starts, cells per unit
    grid_scale: float | None = None
    _table: np.ndarray | None = field(default=None, repr=False, compare=False)

    def add_moments(self, values: np.ndarray) -> None:
        """Count, extremes and moments of one chunk's non-missing values."""
        if not len(values):
            return
        n, mean = len(values), float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.low, self.high = min(self.low, float(values.min())), max(self.high, float(values.max()))

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else math.nan

    def choose_bins(self, sample: np.ndarray) -> None:
        """Bin edges: the sample's quantiles, no bin wider than ``GRID_STEP`` standard deviations
        (where the reference is sparse the current may not be), the exact range, and geometric tails
        beyond it. Between the sample's ``GRID_TAIL`` and ``1 - GRID_TAIL`` quantiles (the bulk) the
        edges are snapped to a uniform grid of ``GRID_CELLS`` cells, so ``bins_of`` finds a value's
        bin by arithmetic; elsewhere by binary search."""
        sample = np.sort(sample)
        top = float(np.nextafter(self.high, np.inf))
        unit = float(np.std(sample)) if len(sample) and np.std(sample) > 0 else 1.0
        steps = unit * TAIL_FIRST * TAIL_RATIO ** np.arange(math.ceil(math.log(TAIL_LAST / TAIL_FIRST, TAIL_RATIO)) + 1)
        inner = np.quantile(sample, np.linspace(0.0, 1.0, QUANTILE_BINS + 1)) if len(sample) else np.empty(0)
        deciles = np.quantile(sample, np.linspace(0.1, 0.9, 9)) if len(sample) else np.empty(0)
        width = max(unit * GRID_STEP, (self.high - self.low) / SPREAD_BINS)
        spread = np.arange(self.low, self.high, width) if width > 0 else np.empty(0)
        low, high = np.quantile(sample, [GRID_TAIL, 1 - GRID_TAIL]) if len(sample) else (0.0, 0.0)
        if high > low:
            self.grid_low, self.grid_scale = float(low), GRID_CELLS / float(high - low)
            every = max(1, math.floor(unit * GRID_STEP * self.grid_scale))

            def snapped(values):  # the grid cells nearest to those of ``values`` in the bulk
                return np.round((values[(values >= low) & (values <= high)] - low) * self.grid_scale).astype(int)

            cells = np.unique(np.concatenate([np.arange(0, GRID_CELLS + 1, every), snapped(inner), snapped(deciles), [0, GRID_CELLS]]))
            on_grid = self._cell_starts(cells)
            deciles = self._cell_starts(snapped(deciles))  # the deciles lie in the bulk
            off_grid = np.concatenate([self.low - steps[::-1], [self.low], inner, spread, [top], top + steps])
            off_grid = off_grid[(off_grid < on_grid[0]) | (off_grid > on_grid[-1])]
        else:  # (nearly) one value: binary search everywhere
            on_grid, off_grid = np.empty(0), np.concatenate([self.low - steps[::-1], [self.low], inner, spread, [top], top + steps])
        edges = np.unique(np.concatenate([on_grid, off_grid, deciles]))
        self.edges = edges[np.isfinite(edges)]
        self.deciles = np.searchsorted(self.edges, np.unique(np.concatenate([[self.low], deciles, [top]])))
        bins = self.bins_of(sample)
        first = np.full(len(self.edges) + 1, np.inf)
        last = np.full(len(self.edges) + 1, -np.inf)
        np.minimum.at(first, bins, sample)
        np.maximum.at(last, bins, sample)
        left = np.concatenate([[-np.inf], self.edges])
        self.atoms = (first == last) & (first == left)
        self.counts = np.zeros(len(self.edges) + 1)

    def _cell_starts(self, cells: np.ndarray) -> np.ndarray:
        return self.grid_low + cells / self.grid_scale

    def _grid_table(self) -> np.ndarray:
        """Per grid cell, shifted by one (0 and ``GRID_CELLS + 1``: off the grid, -1): its bin."""
        if self._table is None:
            table = np.searchsorted(self.edges, self._cell_starts(np.arange(GRID_CELLS)), side="right")
            self._table = np.concatenate([[-1], table, [-1]]).astype(np.intp)
        return self._table

    def _cells(self, values: np.ndarray) -> np.ndarray:
        """Each value's grid cell, shifted by one: 0 below the grid, ``GRID_CELLS + 1`` above it."""
        position = values * self.grid_scale
        position += 1.0 - self.grid_low * self.grid_scale
        np.clip(position, 0.0, GRID_CELLS + 1.0, out=position)
        return position.astype(np.intp)

    def bins_of(self, values: np.ndarray) -> np.ndarray:
        """Each value's bin (no NaN): ``searchsorted(edges, values, side="right")``, with a value in
        the grid's bulk put in the bin of its grid cell (a gather), which is three times faster."""
        if self.grid_scale is None:
            return np.searchsorted(self.edges, values, side="right")
        bins = self._grid_table()[self._cells(values)]
        off = np.flatnonzero(bins < 0)
        if len(off):
            bins[off] = np.searchsorted(self.edges, values[off], side="right")
        return bins

    def count(self, values: np.ndarray) -> np.ndarray:
        """Counts of ``values`` (no NaN) per bin: counted per grid cell, then the cells' counts added
        to their bins (one pass over the values fewer than ``bins_of``, and no gather)."""
        size = len(self.edges) + 1
        if self.grid_scale is None:
            return np.bincount(np.searchsorted(self.edges, values, side="right"), minlength=size).astype(float)
        cells = self._cells(values)
        per_cell = np.bincount(cells, minlength=GRID_CELLS + 2)
        counts = np.bincount(self._grid_table()[1:-1], weights=per_cell[1:-1], minlength=size)
        if per_cell[0] or per_cell[-1]:
            off = values[(cells == 0) | (cells == GRID_CELLS + 1)]
            counts += np.bincount(np.searchsorted(self.edges, off, side="right"), minlength=size)
        return counts


@dataclass
class CategoricalSketch:
    n: int = 0
    missing: int = 0
    counts: dict[Any, float] = field(default_factory=dict)

    def add(self, chunk, column: str) -> None:
        n, missing, counts = _category_counts(chunk, column)
        self.n += n
        self.missing += missing
        for value, count in counts.items():
            self.counts[value] = self.counts.get(value, 0.0) + count


@dataclass
class DriftSketch:
    """A reference summarised for drift against data too large to hold (``sketch_reference``)."""

    n_rows: int
    columns: dict[str, NumericSketch | CategoricalSketch]

    def save(self, path: str | Path) -> Path:
        """Keep the sketch as JSON (a few hundred KiB for 25 columns)."""
        def encode(sketch):
            if isinstance(sketch, CategoricalSketch):
                return {"kind": "categorical", "n": sketch.n, "missing": sketch.missing, "counts": [[k, v] for k, v in sketch.counts.items()]}
            fields = {k: getattr(sketch, k) for k in ("n", "missing", "low", "high", "mean", "m2", "grid_low", "grid_scale")}
            arrays = {k: getattr(sketch, k).tolist() for k in ("edges", "counts", "atoms", "deciles")}
            return {"kind": "numeric", **fields, **arrays}

        path = Path(path)
        path.write_text(json.dumps({"format": FORMAT, "n_rows": self.n_rows, "columns": {c: encode(s) for c, s in self.columns.items()}}))
        return path

    @classmethod
    def load(cls, path: str | Path) -> DriftSketch:
        data = json.loads(Path(path).read_text())
        if data.get("format") != FORMAT:
            raise InvalidInputError(f"{str(path)!r} is not a drift sketch of this version: make it again with mm.drift_sketch(reference).")
        columns: dict[str, Any] = {}
        for name, c in data["columns"].items():
            if c["kind"] == "categorical":
                columns[name] = CategoricalSketch(c["n"], c["missing"], {k: v for k, v in c["counts"]})
            else:
                arrays = {k: np.asarray(c[k], dtype=t) for k, t in (("edges", float), ("counts", float), ("atoms", bool), ("deciles", int))}
                scalars = {k: c[k] for k in ("n", "missing", "low", "high", "mean", "m2", "grid_low", "grid_scale")}
                columns[name] = NumericSketch(**scalars, **arrays)
        return cls(data["n_rows"], columns)


def sketch_reference(reference, columns: list[str] | None = None, categorical: list[str] | None = None, seed: int = 0) -> DriftSketch:
    """A ``DriftSketch`` of ``reference`` (see ``chunks_of`` for what it can be), in two passes."""
    chunks = chunks_of(reference, columns)
    rng = np.random.default_rng(seed)
    forced = set(categorical or [])
    sketches: dict[str, Any] = {}
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per numeric column: the values with the smallest random keys, and the keys
    n_rows = 0
    for chunk in chunks():
        if not sketches:
            unknown = [c for c in columns or [] if c not in _columns(chunk)]
            if unknown:
                raise InvalidInputError(f"column {unknown[0]!r} is not in the reference data: pick from {', '.join(map(str, _columns(chunk)))}.")
            names = _columns(chunk) if columns is None else list(columns)
            sketches = {c: NumericSketch() if _holds_numbers(chunk, c) and c not in forced else CategoricalSketch() for c in names}
        n_rows += len(chunk)
        for name, sketch in sketches.items():
            if isinstance(sketch, CategoricalSketch):
                sketch.add(chunk, name)
                continue
            values = _numeric_values(chunk, name)
            present = values[~np.isnan(values)]
            sketch.missing += len(values) - len(present)
            sketch.add_moments(present)
            kept, keys = samples.get(name, (np.empty(0), np.empty(0)))
            kept, keys = np.concatenate([kept, present]), np.concatenate([keys, rng.random(len(present))])
            if len(kept) > SAMPLE_ROWS:
                chosen = np.argpartition(keys, SAMPLE_ROWS)[:SAMPLE_ROWS]
                kept, keys = kept[chosen], keys[chosen]
            samples[name] = (kept, keys)
    if not sketches:
        raise InvalidInputError("the reference holds no rows: give the data the model was trained on.")
    numeric = {name: s for name, s in sketches.items() if isinstance(s, NumericSketch)}
    for name, sketch in numeric.items():
        sketch.choose_bins(samples.get(name, (np.empty(0),))[0])
    if numeric:
        for chunk in chunks():
            for name, sketch in numeric.items():
                values = _numeric_values(chunk, name)
                sketch.counts += sketch.count(values[~np.isnan(values)])
    return DriftSketch(n_rows, sketches)


@dataclass
class _Current:
    """What is counted of one numeric column of the current data."""

    n: int = 0
    missing: int = 0
    low: float = math.inf
    high: float = -math.inf
    counts: np.ndarray | None = None


def _cdf_points(counts: np.ndarray, total: float, atoms: np.ndarray):
    """Per bin: the CDF just after its left edge and at its right edge (a point-mass bin jumps at its left edge)."""
    after = np.cumsum(counts) / total
    before = np.concatenate([[0.0], after[:-1]])
    return np.where(atoms, after, before), after


def _area(width: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """The integral of |f| over segments where f goes linearly from ``start`` to ``end``."""
    same = start * end >= 0
    crossing = np.abs(start) + np.abs(end)
    crossed = np.divide(start**2 + end**2, 2 * crossing, out=np.zeros_like(crossing), where=crossing > 0)
    return float(np.sum(width * np.where(same, (np.abs(start) + np.abs(end)) / 2, crossed)))


def _outer_area(ref_extreme: float, cur_extreme: float, edge: float, ref_mass: float, cur_mass: float) -> float:
    """|F_ref - F_cur| integrated over an outer bin (values beyond the first or last edge, between
    each side's extreme and the edge; uniform there): each side's share of the bin between its
    extreme and x is linear in x, and so is their difference, whichever side of the edge."""
    ref_low, cur_low = ref_extreme, cur_extreme
    knots = np.unique([ref_low, cur_low, edge])
    knots = knots[np.isfinite(knots)]
    if len(knots) < 2:
        return 0.0

    def mass(x, low):  # each side's share of the outer bin between the edge and x
        if not np.isfinite(low) or low == edge:
            return np.zeros_like(x)
        return np.clip((x - low) / (edge - low), 0.0, 1.0)

    diff = ref_mass * mass(knots, ref_low) - cur_mass * mass(knots, cur_low)
    return _area(np.diff(knots), diff[:-1], diff[1:])


def sketched_wasserstein(ref: NumericSketch, cur: _Current) -> float:
    """The Wasserstein distance between the binned CDFs of the reference sketch and the current counts."""
    r_total, c_total = ref.counts.sum(), cur.counts.sum()
    r_start, r_end = _cdf_points(ref.counts, r_total, ref.atoms)
    c_start, c_end = _cdf_points(cur.counts, c_total, ref.atoms & (cur.counts > 0) & (ref.counts > 0))
    inner = slice(1, len(ref.edges))  # bins between two edges
    area = _area(np.diff(ref.edges), (r_start - c_start)[inner], (r_end - c_end)[inner])
    first, last = ref.edges[0], ref.edges[-1]
    below = _outer_area(ref.low if ref.counts[0] else first, cur.low if cur.counts[0] else first, first, ref.counts[0] / r_total, cur.counts[0] / c_total)
    above = _outer_area(ref.high if ref.counts[-1] else last, cur.high if cur.counts[-1] else last, last, ref.counts[-1] / r_total, cur.counts[-1] / c_total)
    return area + below + above


def _numeric_histogram(ref: NumericSketch, cur: _Current) -> dict[str, Any]:
    """Counts over ``HISTOGRAM_BINS`` equal bins spanning both sides, read off the binned CDFs."""
    low, high = min(ref.low, cur.low), max(ref.high, cur.high)
    if not np.isfinite(low):
        return {"kind": "numeric", "edges": [], "reference": [], "current": []}
    edges = np.histogram_bin_edges(np.empty(0), bins=d.HISTOGRAM_BINS, range=(low, high))
    knots = np.concatenate([[min(low, ref.edges[0])], ref.edges, [max(high, ref.edges[-1])]])

    def counts(bins):
        cdf = np.concatenate([[0.0], np.cumsum(bins)])
        at = np.interp(edges, knots, cdf)
        return np.round(np.diff(at)).astype(int).tolist()

    return {"kind": "numeric", "edges": edges.tolist(), "reference": counts(ref.counts), "current": counts(cur.counts)}


def _numeric_row(ref: NumericSketch, cur: _Current) -> tuple[dict[str, Any], dict[str, Any]]:
    n_ref, n_cur = ref.n + ref.missing, cur.n + cur.missing
    row: dict[str, Any] = {"kind": "numeric", "n_reference": n_ref, "n_current": n_cur, "missing_reference": ref.missing, "missing_current": cur.missing}
    row["missing_p_value"] = d._missing_p_value(ref.missing, n_ref, cur.missing, n_cur)
    if ref.n == 0 or cur.n == 0:
        side = "reference" if ref.n == 0 else "current"
        row.update(test="wasserstein", statistic=np.nan, p_value=np.nan, threshold=d.WASSERSTEIN_THRESHOLD, note=f"no values in the {side} sample", psi=np.nan, js_distance=np.nan)
        return row, _numeric_histogram(ref, cur)
    distance, scale = sketched_wasserstein(ref, cur), ref.std
    statistic = distance / scale if scale > 0 else (0.0 if distance == 0 else math.inf)
    row.update(test="wasserstein", statistic=statistic, p_value=np.nan, threshold=d.WASSERSTEIN_THRESHOLD, note="sketch")

    def by_decile(counts, missing):
        cumulative = np.concatenate([[0.0], np.cumsum(counts)])
        below = cumulative[ref.deciles + 1]  # values under each decile edge
        return np.concatenate([[below[0]], np.diff(below), [cumulative[-1] - below[-1]], [missing]])

    ref_counts, cur_counts = by_decile(ref.counts, ref.missing), by_decile(cur.counts, cur.missing)
    row["psi"], row["js_distance"] = d.psi(ref_counts, cur_counts), d.js_distance(ref_counts, cur_counts)
    return row, _numeric_histogram(ref, cur)


def drift_sketched(sketch: DriftSketch, current, columns: list[str] | None = None, alpha: float = d.ALPHA, correction: str = "bonferroni"):
    """Drift of ``current`` (streamed: see ``chunks_of``) against the reference ``sketch``: a ``DriftReport``."""

    d.check_options(alpha, correction)
    names = list(sketch.columns) if columns is None else list(columns)
    unknown = [c for c in names if c not in sketch.columns]
    if unknown:
        raise InvalidInputError(f"column {unknown[0]!r} is not in the reference sketch: pick from {', '.join(map(str, sketch.columns))}.")
    counted: dict[str, Any] = {c: CategoricalSketch() if isinstance(sketch.columns[c], CategoricalSketch) else _Current() for c in names}
    absent: set[str] = set()
    n_rows = 0
    for chunk in chunks_of(current, None)():
        n_rows += len(chunk)
        present_columns = set(_columns(chunk))
        for name, into in counted.items():
            ref = sketch.columns[name]
            if name not in present_columns:
                absent.add(name)
            if isinstance(into, CategoricalSketch):
                into.add(chunk, name)
                continue
            values = _numeric_values(chunk, name)
            missing = np.isnan(values)
            present = values[~missing] if missing.any() else values
            into.n += len(present)
            into.missing += len(values) - len(present)
            counts = ref.count(present)
            into.counts = counts if into.counts is None else into.counts + counts
            if len(present):
                into.low, into.high = min(into.low, float(present.min())), max(into.high, float(present.max()))
    rows, histograms = [], {}
    for name, into in counted.items():
        ref = sketch.columns[name]
        if isinstance(into, CategoricalSketch):
            categories = list(ref.counts) + [c for c in into.counts if c not in ref.counts]
            ref_counts = np.array([ref.counts.get(c, 0.0) for c in categories])
            cur_counts = np.array([into.counts.get(c, 0.0) for c in categories])
            row, histograms[name] = d.categorical_row(categories, ref_counts, cur_counts, ref.n, into.n, ref.missing, into.missing)
        else:
            if into.counts is None:
                into.counts = np.zeros(len(ref.edges) + 1)
            row, histograms[name] = _numeric_row(ref, into)
        if name in absent:
            row["note"] = "column missing from the current data"
        rows.append({"column": name, **row})
    return d.drift_report(rows, histograms, alpha, correction, sketch.n_rows, n_rows)


def streams(value) -> bool:
    """Whether ``value`` is something ``drift`` streams rather than holds: a sketch, a path, a function."""
    return isinstance(value, (DriftSketch, str, Path)) or (callable(value) and not hasattr(value, "columns"))
