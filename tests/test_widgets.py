"""Views built headlessly and checked through their widget tree, and their static fallbacks."""

from __future__ import annotations

import time

import ipywidgets as widgets
import pandas as pd

from mlops_magic.html import BAD, GOOD, png_img
from mlops_magic.store import Run
from mlops_magic.tracking.card import MetricChange, RunCardData
from mlops_magic.widgets.run_card import RunCard
from mlops_magic.widgets.runs_table import RunsTable


def card(warnings=()):
    run = Run(run_id="ab12cd34" + "0" * 24, experiment="wine", name="wine-1", status="finished", start_time=time.time(), duration_s=0.5,
              params={"C": "0.5"}, tags={"model_class": "Pipeline"}, source="model = fit()")
    metrics = [MetricChange("accuracy", 0.95, 0.90, True), MetricChange("log_loss", 0.3, 0.2, False), MetricChange("f1_macro", 0.9, None, True)]
    return RunCardData(run, "ffee0011" + "0" * 24, "accuracy", metrics, list(warnings))


def test_run_card_shows_metrics_against_the_best_run():
    view = RunCard(card(warnings=["cells ran out of order"]))
    summary, details = view.children
    assert isinstance(summary, widgets.HTML) and isinstance(details, widgets.Accordion)
    html = summary.value
    assert "ab12cd34" in html and "best earlier run ffee0011" in html
    assert f'<span style="color:{GOOD}">▲ +0.05</span>' in html  # accuracy up: better, green
    assert f'<span style="color:{BAD}">▲ +0.1</span>' in html  # log loss up: worse, red
    assert "first" in html  # f1 has nothing to compare with
    assert "cells ran out of order" in html
    assert details.children[0].value.count("model = fit()") == 1
    assert view._repr_html_() == html
    assert "run ab12cd34" in repr(view)


def test_runs_table_sorts_and_selects():
    frame = pd.DataFrame({
        "run_id": ["a" * 32, "b" * 32, "c" * 32], "name": ["x", "y", "z"], "status": ["finished"] * 3,
        "start_time": pd.to_datetime([1, 2, 3], unit="s", utc=True), "duration_s": [0.1, 0.2, 0.3],
        "metrics.accuracy": [0.7, 0.9, 0.8],
    })
    view = RunsTable(frame)
    controls, table, selection = view.children
    view.sort_by.value = "metrics.accuracy"
    assert view.frame["name"].tolist() == ["y", "z", "x"]
    view.descending.value = False
    assert view.frame["name"].tolist() == ["x", "z", "y"]
    assert table.value.index(">y<") > table.value.index(">x<")
    selection.value = ("b" * 32,)
    assert view.selected == ["b" * 32]
    assert "3 runs" in repr(view)


def test_empty_runs_table_says_how_to_start():
    view = RunsTable(pd.DataFrame(columns=["run_id", "name", "status", "start_time", "duration_s"]))
    assert "%%mlops_train" in view._repr_html_()


def test_chart_alt_text_is_escaped():
    tag = png_img(b"\x89PNG", alt='x" onerror="alert(1)')
    assert 'alt="x&quot; onerror=&quot;alert(1)"' in tag
