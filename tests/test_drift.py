"""Drift statistics: every figure equals scipy's on the same data, edge cases never crash, and the
documented defaults detect a shifted column but not an unshifted one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from mlops_magic import api
from mlops_magic.errors import InvalidInputError
from mlops_magic.monitoring.drift import LARGE_SAMPLE, PSI_EPSILON, WASSERSTEIN_THRESHOLD, drift_frames, wasserstein_sorted

TOL = 1e-9


def row(report, column):
    return report.table.set_index("column").loc[column]


def decile_counts(reference: np.ndarray, values: np.ndarray, n_missing: int) -> np.ndarray:
    """PSI/JS bins built independently of the module: below the minimum, between successive
    reference deciles (the last one closed at the maximum), above the maximum, and missing."""
    cuts = np.unique(np.quantile(reference, np.linspace(0, 1, 11)))
    pairs = list(zip(cuts[:-1], cuts[1:])) or [(cuts[0], cuts[0])]
    inner = [np.sum((values >= lo) & ((values < hi) if i < len(pairs) - 1 else (values <= hi))) for i, (lo, hi) in enumerate(pairs)]
    return np.asarray([np.sum(values < cuts[0]), *inner, np.sum(values > cuts[-1]), n_missing], dtype=float)


def manual_psi(r: np.ndarray, c: np.ndarray) -> float:
    p = np.clip(r / r.sum(), PSI_EPSILON, None)
    q = np.clip(c / c.sum(), PSI_EPSILON, None)
    return float(sum((qi - pi) * np.log(qi / pi) for pi, qi in zip(p, q)))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("n_ref,n_cur", [(300, 200), (1000, 50), (40, 900)])
def test_ks_equals_scipy_on_small_samples(rng, n_ref, n_cur):
    reference = pd.DataFrame({"x": rng.normal(size=n_ref)})
    current = pd.DataFrame({"x": rng.normal(0.2, 1.1, size=n_cur)})
    found = row(drift_frames(reference, current), "x")
    expected = ks_2samp(reference["x"], current["x"])
    assert found["test"] == "ks"
    assert found["statistic"] == pytest.approx(expected.statistic, abs=TOL)
    assert found["p_value"] == pytest.approx(expected.pvalue, abs=TOL)
    assert (found["n_reference"], found["n_current"]) == (n_ref, n_cur)


def test_normalised_wasserstein_equals_scipy_on_large_samples(rng):
    reference = pd.DataFrame({"x": rng.gamma(2.0, size=5000)})
    current = pd.DataFrame({"x": rng.gamma(2.2, size=LARGE_SAMPLE + 1)})
    found = row(drift_frames(reference, current), "x")
    expected = wasserstein_distance(reference["x"], current["x"]) / np.std(reference["x"])
    assert found["test"] == "wasserstein"
    assert found["statistic"] == pytest.approx(expected, abs=TOL)
    assert np.isnan(found["p_value"])
    assert found["threshold"] == WASSERSTEIN_THRESHOLD


@pytest.mark.parametrize("seed", range(6))
def test_fast_wasserstein_equals_scipy_with_ties_and_unequal_sizes(seed):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 6, size=rng.integers(1, 3000)).astype(float)
    v = rng.normal(2, 2, size=rng.integers(1, 3000)).round(1)
    assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(wasserstein_distance(u, v), abs=TOL)


def test_chi_square_equals_scipy_with_missing_and_unseen_categories(rng):
    reference = pd.DataFrame({"c": rng.choice(["a", "b", "c", None], size=500, p=[0.5, 0.3, 0.15, 0.05])})
    current = pd.DataFrame({"c": rng.choice(["a", "b", "d", None], size=300, p=[0.4, 0.3, 0.2, 0.1])})
    found = row(drift_frames(reference, current), "c")
    ref = reference["c"].fillna("<missing>").value_counts()
    cur = current["c"].fillna("<missing>").value_counts()
    categories = sorted(set(ref.index) | set(cur.index))
    table = np.array([[ref.get(k, 0) for k in categories], [cur.get(k, 0) for k in categories]])
    expected = chi2_contingency(table, correction=False)
    assert found["test"] == "chi2"
    assert found["statistic"] == pytest.approx(expected.statistic, abs=TOL)
    assert found["p_value"] == pytest.approx(expected.pvalue, abs=TOL)
    assert found["js_distance"] == pytest.approx(jensenshannon(table[0], table[1], base=2), abs=TOL)
    assert found["psi"] == pytest.approx(manual_psi(table[0].astype(float), table[1].astype(float)), abs=TOL)
    assert found["drifted"] and "unseen categories: d" in found["note"]


def test_numeric_psi_and_js_equal_independent_computation(rng):
    ref = rng.normal(size=800)
    cur = np.concatenate([rng.normal(0.3, size=390), [np.nan] * 10, [9.0]])
    found = row(drift_frames(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})), "x")
    r = decile_counts(ref, ref, 0)
    c = decile_counts(ref, cur[~np.isnan(cur)], 10)
    assert r.sum() == len(ref) and c.sum() == len(cur)
    assert found["js_distance"] == pytest.approx(jensenshannon(r, c, base=2), abs=TOL)
    assert found["psi"] == pytest.approx(manual_psi(r, c), abs=TOL)
    assert (found["missing_reference"], found["missing_current"]) == (0, 10)
    # the missing-rate test is scipy's chi-square on missing/present counts
    expected = chi2_contingency(np.array([[0, 800], [10, 391]]), correction=False).pvalue
    assert found["missing_p_value"] == pytest.approx(expected, abs=TOL)


def test_constant_columns():
    small = drift_frames(pd.DataFrame({"same": np.ones(200), "moved": np.ones(200)}), pd.DataFrame({"same": np.ones(100), "moved": np.full(100, 2.0)}))
    same, moved = row(small, "same"), row(small, "moved")
    assert same["statistic"] == 0 and same["p_value"] == pytest.approx(1.0) and not same["drifted"]
    assert same["psi"] == pytest.approx(0.0, abs=TOL) and same["js_distance"] == pytest.approx(0.0, abs=TOL)
    assert moved["drifted"] and moved["p_value"] == pytest.approx(ks_2samp(np.ones(200), np.full(100, 2.0)).pvalue, abs=TOL)
    large = drift_frames(pd.DataFrame({"same": np.ones(2000), "moved": np.ones(2000)}), pd.DataFrame({"same": np.ones(2000), "moved": np.full(2000, 1.5)}))
    assert row(large, "same")["statistic"] == 0 and not row(large, "same")["drifted"]
    assert row(large, "moved")["statistic"] == np.inf and row(large, "moved")["drifted"]


def test_single_category_is_not_drift_until_a_new_one_appears():
    reference = pd.DataFrame({"c": ["a"] * 50})
    same = row(drift_frames(reference, pd.DataFrame({"c": ["a"] * 30})), "c")
    assert same["statistic"] == 0 and same["p_value"] == 1 and not same["drifted"]
    new = row(drift_frames(reference, pd.DataFrame({"c": ["a"] * 15 + ["b"] * 15})), "c")
    expected = chi2_contingency(np.array([[50, 0], [15, 15]]), correction=False)
    assert new["p_value"] == pytest.approx(expected.pvalue, abs=TOL) and new["drifted"]


def test_all_missing_window_is_a_drift_signal_not_a_crash(rng):
    reference = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], size=300)})
    current = pd.DataFrame({"x": [np.nan] * 60, "c": pd.Series([None] * 60, dtype=object)})
    report = drift_frames(reference, current)
    x, c = row(report, "x"), row(report, "c")
    assert np.isnan(x["statistic"]) and x["drifted"] and x["missing_current"] == 60
    assert "no values in the current sample" in x["note"]
    assert c["drifted"] and c["missing_current"] == 60
    assert report.drifted


def test_empty_window_and_missing_column_do_not_crash(rng):
    reference = pd.DataFrame({"x": rng.normal(size=100), "c": rng.choice(["a", "b"], size=100)})
    empty = drift_frames(reference, reference.iloc[:0])
    assert not empty.drifted and (empty.table["n_current"] == 0).all()
    assert empty.table["statistic"].isna().all()
    gone = drift_frames(reference, reference[["c"]].iloc[:40])
    assert row(gone, "x")["drifted"] and row(gone, "x")["note"] == "column missing from the current data"


@pytest.mark.parametrize("seed", range(5))
def test_shift_detected_and_no_false_alarm_at_the_defaults(seed):
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"shifted": rng.normal(size=2000), "stable": rng.normal(size=2000), "cat": rng.choice(list("abc"), size=2000)})
    current = pd.DataFrame({"shifted": rng.normal(0.5, size=300), "stable": rng.normal(size=300), "cat": rng.choice(list("abc"), size=300)})
    report = drift_frames(reference, current)
    assert report.drifted_columns == ["shifted"]
    large = drift_frames(
        pd.DataFrame({"shifted": rng.normal(size=20000), "stable": rng.normal(size=20000)}),
        pd.DataFrame({"shifted": rng.normal(0.5, size=5000), "stable": rng.normal(size=5000)}),
    )
    assert large.drifted_columns == ["shifted"] and set(large.table["test"]) == {"wasserstein"}


def test_bonferroni_and_fdr_thresholds(rng):
    reference = pd.DataFrame({f"x{i}": rng.normal(size=400) for i in range(4)})
    current = pd.DataFrame({f"x{i}": rng.normal(0.15 * i, size=300) for i in range(4)})
    bonferroni = drift_frames(reference, current)
    assert (bonferroni.table["threshold"] == 0.05 / 4).all()
    assert list(bonferroni.table["drifted"]) == list(bonferroni.table["p_value"] <= 0.05 / 4)
    fdr = drift_frames(reference, current, correction="fdr")
    p = np.sort(fdr.table["p_value"].to_numpy())
    passing = np.nonzero(p <= 0.05 * np.arange(1, 5) / 4)[0]
    k = passing[-1] + 1 if len(passing) else 1
    assert fdr.table["threshold"].iloc[0] == pytest.approx(0.05 * k / 4)
    none = drift_frames(reference, current, correction="none")
    assert (none.table["threshold"] == 0.05).all()
    assert sum(none.table["drifted"]) >= sum(fdr.table["drifted"]) >= sum(bonferroni.table["drifted"])


def test_table_columns_sorted_by_severity_and_api(store, rng):
    reference = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    current = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(1, size=200)})
    report = api.drift(reference=reference, current=current)
    required = {"column", "kind", "test", "statistic", "p_value", "threshold", "drifted", "psi", "js_distance", "n_reference", "n_current"}
    assert required <= set(report.table.columns)
    assert list(report.table["column"]) == ["b", "a"] and report.drifted
    assert report.table["severity"].is_monotonic_decreasing
    assert "1 of 2 columns drifted" in repr(report)
    html = report._repr_html_()
    assert "<table" in html and "<img" in html and html.index(">b<") < html.index(">a<")
    assert sum(report.histograms["b"]["current"]) == 200


def test_bad_input_is_named():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(InvalidInputError, match="correction 'holm' is unknown"):
        drift_frames(frame, frame, correction="holm")
    with pytest.raises(InvalidInputError, match="current must be a pandas DataFrame"):
        drift_frames(frame, [1, 2])
    with pytest.raises(InvalidInputError, match="column 'z' is not in the reference"):
        drift_frames(frame, frame, columns=["z"])
    with pytest.raises(InvalidInputError, match="alpha"):
        drift_frames(frame, frame, alpha=2)


# --- at scale: the reference as a sketch, the current streamed -----------------------------------


def scale_frames(rng, n: int = 30_000):
    """Shapes a sketch must bin well: a normal shifted and widened, a heavy tail, integers with a
    new value, a column moved far beyond the reference's range, missing values, categories."""
    reference = pd.DataFrame(
        {
            "shift": rng.normal(0, 1, n), "wide": rng.normal(0, 1, n), "tail": rng.lognormal(0, 1, n),
            "ints": rng.integers(0, 5, n).astype(float), "far": rng.normal(0, 1, n),
            "gaps": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1, n)), "same": rng.normal(0, 1, n),
            "city": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )  # fmt: skip
    current = pd.DataFrame(
        {
            "shift": rng.normal(0.3, 1, n), "wide": rng.normal(0, 2, n), "tail": rng.lognormal(0.2, 1.1, n),
            "ints": rng.integers(0, 6, n).astype(float), "far": rng.normal(10, 1, n),
            "gaps": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1, n)), "same": rng.normal(0, 1, n),
            "city": rng.choice(["north", "south", "east", "west"], n, p=[0.3, 0.3, 0.2, 0.2]),
        }
    )  # fmt: skip
    return reference, current


def test_a_sketched_reference_gives_the_exact_statistics_within_the_stated_tolerance(rng, tmp_path):
    from mlops_magic.monitoring.sketch import SAMPLE_ROWS, WASSERSTEIN_TOLERANCE, DriftSketch

    reference, current = scale_frames(rng)
    exact = row_table(api.drift(reference, current))
    sketch = api.drift_sketch(reference)
    path = sketch.save(tmp_path / "reference.json")
    streamed = api.drift(DriftSketch.load(path), lambda: (current.iloc[i : i + 7000] for i in range(0, len(current), 7000)))
    got = row_table(streamed)
    numeric = exact["kind"] == "numeric"
    assert (got.loc[numeric, "test"] == "wasserstein").all() and (got.loc[numeric, "note"] == "sketch").all()
    assert np.abs(got.loc[numeric, "statistic"] - exact.loc[numeric, "statistic"]).max() <= WASSERSTEIN_TOLERANCE
    assert np.abs(got["psi"] - exact["psi"]).max() <= 1e-3 and np.abs(got["js_distance"] - exact["js_distance"]).max() <= 1e-3
    exact_where_exact = ["n_reference", "n_current", "missing_reference", "missing_current", "missing_p_value"]
    assert got[exact_where_exact].equals(exact[exact_where_exact])
    city = got.loc["city"]  # category counts are exact: so are chi-square, PSI and JS
    assert (city["statistic"], city["p_value"], city["psi"]) == tuple(exact.loc["city", ["statistic", "p_value", "psi"]])
    assert sorted(streamed.drifted_columns) == sorted(c for c in exact.index if c != "same") == sorted(api.drift(reference, current).drifted_columns)
    assert len(reference) < SAMPLE_ROWS  # the sample is the whole reference here: the next test samples


def row_table(report):
    return report.table.set_index("column").sort_index()


def test_a_reference_larger_than_the_sample_streamed_from_parquet(rng, tmp_path):
    from mlops_magic.monitoring import sketch as sk

    reference, current = scale_frames(rng, 40_000)
    for frame in (reference, current):  # text with missing values: read dictionary-encoded, counted by its codes
        frame["town"] = pd.Series(rng.choice(["a", "b", "c"], len(frame)), dtype=object).where(rng.random(len(frame)) > 0.05, None)
    reference.to_parquet(tmp_path / "reference.parquet", row_group_size=9000)
    current.to_parquet(tmp_path / "current.parquet", row_group_size=9000)
    exact = row_table(api.drift(reference, current))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sk, "SAMPLE_ROWS", 5000)  # edges from a sample of an eighth of the reference
        got = row_table(api.drift(tmp_path / "reference.parquet", str(tmp_path / "current.parquet")))
    numeric = exact["kind"] == "numeric"
    assert np.abs(got.loc[numeric, "statistic"] - exact.loc[numeric, "statistic"]).max() <= sk.WASSERSTEIN_TOLERANCE
    assert np.abs(got["psi"] - exact["psi"]).max() <= 0.01  # the deciles come from the sample now
    assert got["n_current"].eq(len(current)).all() and got["n_reference"].eq(len(reference)).all()
    text = ["city", "town"]  # category counts exact: the test too, PSI and JS but for the order of their sums
    exact_where_exact = ["statistic", "p_value", "missing_reference", "missing_current"]
    assert got.loc[text, exact_where_exact].to_numpy().tolist() == exact.loc[text, exact_where_exact].to_numpy().tolist()
    assert np.allclose(got.loc[text, ["psi", "js_distance"]].to_numpy(float), exact.loc[text, ["psi", "js_distance"]].to_numpy(float), rtol=1e-12, atol=0)
    assert got.loc["town", "missing_current"] > 0


def test_sketch_bins_are_those_of_a_binary_search_but_on_the_edges(rng):
    from mlops_magic.monitoring.sketch import sketch_reference

    for values in (rng.normal(0, 1, 20_000), rng.lognormal(0, 2, 20_000), rng.integers(0, 4, 20_000).astype(float)):
        column = sketch_reference(pd.DataFrame({"x": values})).columns["x"]
        probe = np.concatenate([rng.normal(0, 3, 50_000), rng.lognormal(0, 3, 50_000), [column.low, column.high, column.low - 1e9, column.high + 1e9]])
        assert (column.bins_of(probe) == np.searchsorted(column.edges, probe, side="right")).all()
        at_edges = column.bins_of(column.edges) - np.searchsorted(column.edges, column.edges, side="right")
        assert np.isin(at_edges, [-1, 0]).all()  # a value on an edge of the grid may fall on its left, a float's rounding away
        assert (column.count(probe) == np.bincount(column.bins_of(probe), minlength=len(column.edges) + 1)).all()  # counted per grid cell


def test_streamed_drift_bad_input_is_named(rng, tmp_path):
    from mlops_magic.monitoring.sketch import DriftSketch

    reference, current = scale_frames(rng, 2000)
    sketch = api.drift_sketch(reference)
    with pytest.raises(InvalidInputError, match="column 'city' holds numbers in the reference"):
        api.drift(api.drift_sketch(reference.assign(city=1.0)), lambda: [current])
    with pytest.raises(InvalidInputError, match="cannot read .* as parquet"):
        api.drift(sketch, str(tmp_path / "nothing.parquet"))
    with pytest.raises(InvalidInputError, match="column 'nope' is not in the reference sketch"):
        api.drift(sketch, lambda: [current], columns=["nope"])
    (tmp_path / "other.json").write_text('{"format": 0}')
    with pytest.raises(InvalidInputError, match="not a drift sketch of this version"):
        DriftSketch.load(tmp_path / "other.json")
    missing = api.drift(sketch, lambda: [current.drop(columns="shift")])
    assert row(missing, "shift")["note"] == "column missing from the current data"
