"""Monitoring at scale: time windows summed from the per-minute aggregates equal the rows grouped
one by one; feedback moves rows between aggregates; a retention setting thins the raw rows and
keeps the aggregates; an old store's log is counted into them when it is migrated."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_magic.errors import InvalidInputError, NotFoundError
from mlops_magic.store import Store
from mlops_magic.store.aggregates import BUCKET_S, CONFIDENCE_BINS
from tests.monitoring_fixtures import diabetes_frame, log_stream, register_model

FIXTURES = Path(__file__).parent / "fixtures"


def expected_windows(store, name: str, seconds: float, windows: int, until: float) -> pd.DataFrame:
    """The windows' counts computed from the rows themselves (pandas, not SQL): n and the confidence
    sum per (win, version, variant, shadow, output, label, bin); a shadow row in its prediction's window."""
    rows = store.predictions_frame(name)
    arrival = rows["time"].astype("int64") / 1e9
    answered = dict(zip(rows["prediction_id"], arrival))
    arrival = [answered.get(pid.removesuffix(".s"), t) if shadow else t for pid, t, shadow in zip(rows["prediction_id"], arrival, rows["shadow"])]
    rows["win"] = [math.floor((until - t) / seconds) for t in arrival]
    rows = rows[(rows["win"] >= 0) & (rows["win"] < windows) & (rows["time"].astype("int64") / 1e9 <= until)]
    return tidy(rows.assign(bin=[math.nan if pd.isna(c) else int(c * CONFIDENCE_BINS) for c in rows["confidence"]], n=1, sum_confidence=rows["confidence"].astype(float).fillna(0.0)))


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["win", "version", "variant", "shadow", "output", "label", "bin"]
    frame = frame.assign(variant=frame["variant"].fillna(""), label=frame["label"].map(lambda v: "" if v is None else json.dumps(v)),
                         output=frame["output"].map(json.dumps), bin=frame["bin"].fillna(-1))  # fmt: skip
    return frame.groupby(keys)[["n", "sum_confidence"]].sum().sort_index()


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got.index.equals(want.index)
    assert (got["n"].to_numpy() == want["n"].to_numpy()).all()
    assert np.allclose(got["sum_confidence"].to_numpy(), want["sum_confidence"].to_numpy(), rtol=1e-12)


@pytest.fixture
def logged(store, wine):
    """Wine answered every 7 s over 90 min (some from a variant, a shadow beside part of them),
    labelled in part: the windows' edges cut through minutes the aggregates hold whole."""
    model, version, live = wine
    X, y = live.drop(columns="target"), live["target"]
    start = time.time() - 3 * 3600
    ids = []
    for round_, variant in enumerate([None, "staging", None]):
        ids += log_stream(store, "wine", version, model, X, y, start=start + round_ * len(X) * 7, step=7.0, label_share=0.5, seed=round_, variant=variant)
    log_stream(store, "wine", version, model, X.iloc[:40], y.iloc[:40], start=start + 0.9, step=7.0, label_share=0.0, shadow_of=ids[:40])
    return ids, start + 3 * len(X) * 7


def test_time_windows_summed_from_the_aggregates_equal_the_rows_grouped(store, logged):
    ids, end = logged
    for seconds, windows, until in [(600, 12, end), (3600, 3, end - 123.4), (90, 40, end - 17)]:
        got = tidy(store.prediction_windows("wine", seconds=seconds, max_windows=windows, until=until))
        assert_same(got, expected_windows(store, "wine", seconds, windows, until))
    before = tidy(store.prediction_windows("wine", seconds=600, max_windows=12, until=end))
    store.log_feedback(ids[:30], [0] * 30)  # relabelled (and the shadows of the first 30 with them): moved, not added
    after = tidy(store.prediction_windows("wine", seconds=600, max_windows=12, until=end))
    assert after["n"].sum() == before["n"].sum() and not after.index.equals(before.index)
    assert_same(after, expected_windows(store, "wine", 600, 12, end))
    assert store.count_predictions("wine") == 3 * 78


@pytest.mark.both_stores  # the edge lookups and the summed aggregates, on PostgreSQL too
def test_windows_of_whole_minutes_read_rows_only_where_one_lies_on_an_edge(store, logged, wine):
    from mlops_magic.monitoring.monitor import monitor_model

    _, end = logged
    until = math.floor(end / BUCKET_S) * BUCKET_S  # an edge on every 10th minute's start: no minute is cut
    assert store._cut_buckets("wine", until, 600, 12) == set()  # no row within a millisecond of an edge: every row summed
    model, version, live = wine
    X, y = live.drop(columns="target"), live["target"]
    for i, at in enumerate([until - 600, until - 600 + 4e-4, until - 1200 - 4e-4, until]):  # on an edge (the window holds its end), just after, just before
        log_stream(store, "wine", version, model, X.iloc[[i]], y.iloc[[i]], start=at, seed=i)
    assert len(store._cut_buckets("wine", until, 600, 12)) == 6  # the two minutes beside each of the three edges a row lies on
    assert_same(tidy(store.prediction_windows("wine", seconds=600, max_windows=12, until=until)), expected_windows(store, "wine", 600, 12, until))
    report = monitor_model(store, "wine", window="10min", record=False)  # ending now: at the next whole minute
    assert report.windows["end"].iloc[-1].timestamp() % BUCKET_S == 0 and report.windows["end"].iloc[-1].timestamp() - time.time() < BUCKET_S


def test_regression_windows_from_the_aggregates_equal_sklearn(store):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    frame = diabetes_frame()
    model = Ridge()
    version = register_model("sugar", model, frame.iloc[:300], "target")
    live = frame.iloc[300:].reset_index(drop=True)
    start = time.time() - 2 * 3600
    ids = log_stream(store, "sugar", version, model, live.drop(columns="target"), live["target"], start=start, step=30.0, label_share=0.7)
    until = start + 30.0 * len(live)
    groups = store.prediction_windows("sugar", seconds=1800, max_windows=4, until=until, task="regression")
    rows = store.predictions_frame("sugar")
    rows["win"] = [math.floor((until - t) / 1800) for t in rows["time"].astype("int64") / 1e9]
    for win, inside in rows[rows["label"].notna()].groupby("win"):
        summed = groups[(groups["win"] == win) & groups["labelled"]][["n", "sum_error2", "sum_abs_error"]].sum()
        y, p = inside["label"].astype(float), inside["output"].astype(float)
        assert summed["n"] == len(inside)
        assert math.isclose(summed["sum_error2"] / summed["n"], mean_squared_error(y, p), rel_tol=1e-9)
        assert math.isclose(summed["sum_abs_error"] / summed["n"], mean_absolute_error(y, p), rel_tol=1e-9)
    assert len(ids) == len(live)


def test_retention_thins_old_raw_rows_and_the_time_windows_still_show_them(store, logged):
    from mlops_magic import api

    ids, end = logged
    hourly = tidy(store.prediction_windows("wine", seconds=3600, max_windows=4, until=end))
    setting = api.set_retention("wine", 100)
    assert setting["keep"] == "100" and setting["deleted"] > 0
    assert setting["thinned_before"] % BUCKET_S == 0  # whole minutes go
    rows = store.predictions_frame("wine", include_shadow=False)
    assert 100 <= len(rows) < 100 + BUCKET_S / 7 + 1  # the newest 100, and the rest of the minute the cut falls in
    assert (rows["time"].astype("int64") / 1e9 >= setting["thinned_before"]).all()
    thinned = tidy(store.prediction_windows("wine", seconds=3600, max_windows=4, until=end))
    assert thinned["n"].sum() == hourly["n"].sum()  # the aggregates stay; a thinned minute an edge cuts counts in the window of its middle:
    moved = (thinned.groupby(level="win")["n"].sum() - hourly.groupby(level="win")["n"].sum()).abs()
    assert moved.max() <= 2 * math.ceil(BUCKET_S / 7)  # at most a minute's rows at each edge of a window
    assert store.count_predictions("wine") == 3 * 78
    with pytest.raises(NotFoundError, match="no prediction with id"):
        store.log_feedback([ids[0]], [1])  # thinned: its feedback is refused, all or nothing
    assert api.set_retention("wine", "30min")["deleted"] > 0  # a duration, thinned again now
    assert api.set_retention("wine", "all")["keep"] is None
    assert store.thin_predictions("wine") == 0
    with pytest.raises(InvalidInputError, match="--keep 'soon' is not understood"):
        api.set_retention("wine", "soon")
    report = api.monitor("wine", window="1h", record=False)
    assert int(report.windows["n_predictions"].sum()) == 3 * 78  # the thinned rows are still drawn


def test_retention_from_the_cli(store, logged, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlops_magic.cli", "--store", str(store.url), "monitor", "retention", "wine", "--keep", "2h"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wine keeps the raw predictions of the last 2h:" in result.stdout and "older rows deleted now" in result.stdout
    assert store.retention("wine")["keep"] == "2h"


def test_an_old_store_has_its_logged_predictions_counted_into_the_aggregates(tmp_path):
    shutil.copytree(FIXTURES / "store-v1-labels", tmp_path / "s")
    store = Store(str(tmp_path / "s"), tmp_path / "s" / "artifacts")
    rows = store.predictions_frame("wine")
    until = float(rows["time"].max().timestamp()) + 1
    seconds = max(until - float(rows["time"].min().timestamp()), 1.0) / 3
    got = tidy(store.prediction_windows("wine", seconds=seconds, max_windows=4, until=until))
    assert_same(got, expected_windows(store, "wine", seconds, 4, until))
    assert store.count_predictions("wine") == int((~rows["shadow"]).sum()) > 0
