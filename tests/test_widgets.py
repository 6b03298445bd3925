"""Views built headlessly and checked through their widget tree, and their static fallbacks."""

from __future__ import annotations

import time

import ipywidgets as widgets
import pandas as pd
import pytest
import traitlets

import mlops_magic as mm
from mlops_magic.html import BAD, GOOD, png_img
from mlops_magic.store import Run
from mlops_magic.tracking.card import MetricChange, RunCardData
from mlops_magic.tracking.comparison import compare_runs
from mlops_magic.widgets.comparison import ComparisonView
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


def run_of(run_id: str, model_class="LogisticRegression", params=None, metrics=None) -> Run:
    return Run(run_id=run_id, experiment="wine", name=f"wine-{run_id[:6]}", status="finished", start_time=time.time(), duration_s=0.5,
               params=params or {"C": "1.0"}, tags={"model_class": model_class}, metrics=metrics or {"accuracy": 0.9}, source="model = fit()")


def runs_frame():
    return pd.DataFrame({
        "run_id": ["a" * 32, "b" * 32, "c" * 32], "experiment": ["wine"] * 3, "name": ["x", "y", "z"], "status": ["finished"] * 3,
        "start_time": pd.to_datetime([1, 2, 3], unit="s", utc=True), "duration_s": [0.1, 0.2, 0.3],
        "metrics.accuracy": [0.7, 0.912345678, 0.8], "metrics.log_loss": [0.9, 0.3, 0.5], "metrics.acc": [0.7, None, 0.8], "params.C": ["1", "2", "3"],
        "tags.model_class": ["LogisticRegression", "RandomForestClassifier", "LogisticRegression"], "tags.owner": ["ana", "", "bo"],
    })  # fmt: skip


def test_runs_table_is_a_paged_grid_that_opens_sorted_and_compares_the_runs_selected():
    frame = runs_frame().sort_values("metrics.accuracy", ascending=False)
    frame.attrs["sorted_by"] = ("metrics.accuracy", False)
    compared = []

    def compare(*ids):
        compared.append(ids)

    view = RunsTable(frame, compare=lambda *ids: compare(*ids) or compare_runs([run_of(i) for i in ids]))
    title, grid, (button, hint), comparison = view.children[0], view.children[1], view.children[2].children, view.children[3]
    assert "3 runs" in title.value and "wine" in title.value
    assert grid.columns == ["run", "name", "model", "status", "started (UTC)", "duration (s)", "accuracy ↑", "log_loss ↓", "acc ↑", "owner"]
    assert [row[1] for row in grid.rows] == ["y", "z", "x"] and grid.rows[0][6] == "0.9123"  # rounded for reading
    assert grid.rows[0][5:9] == ["0.2", "0.9123", "0.3", "–"]  # a column's decimals, the fewest that write its values; a dash where a run has no acc
    assert view.order == [("accuracy ↑", "desc")] and grid.matching == grid.total == 3
    assert grid.first_ways[6:9] == ["desc", "asc", "desc"]  # a metric's first click puts its better end first
    assert grid.has_trait("selected")
    assert button.disabled
    grid.selected = ["b" * 32]
    assert view.selected == ["b" * 32] and button.disabled and "1 selected" in hint.value
    grid.selected = ["a" * 32, "b" * 32]
    assert view.selected == ["b" * 32, "a" * 32] and not button.disabled
    button.click()
    assert compared == [("b" * 32, "a" * 32)]
    [shown_comparison] = comparison.children
    assert isinstance(shown_comparison, ComparisonView) and [r.run_id for r in shown_comparison.comparison.runs] == ["b" * 32, "a" * 32]
    html = view._repr_html_()
    assert html.index(">y<") < html.index(">x<") and "0.9123" in html and "LogisticRegression" in html
    assert "3 runs" in repr(view)


def test_runs_table_without_compare_cannot_compare_and_says_a_failed_comparison_in_one_line():
    view = RunsTable(runs_frame())
    view.grid.selected = ["a" * 32, "b" * 32]
    assert view.compare_button.disabled
    failing = RunsTable(runs_frame(), compare=lambda *ids: (_ for _ in ()).throw(ValueError("run 'a' was deleted")))
    failing.grid.selected = ["a" * 32, "b" * 32]
    failing.compare_button.click()
    assert "run &#x27;a&#x27; was deleted" in failing.comparison.children[0].value


def test_the_runs_grid_sorts_searches_and_pages_every_run_in_the_kernel_and_refuses_a_malformed_order():
    frame = pd.concat([runs_frame()] * 9, ignore_index=True).assign(run_id=[f"{i:032x}" for i in range(27)], name=[f"run-{i}" for i in range(27)])
    grid = RunsTable(frame).grid
    assert len(grid.rows) == 10 and grid.matching == 27 and grid.row_keys[0] == f"{2:032x}"  # one page goes to the browser, the newest first
    loss = grid.columns.index("log_loss ↓")
    grid.order = [loss, "asc"]
    assert [row[loss] for row in grid.rows][:9] == ["0.3"] * 9  # all 27 sorted, not the page
    grid.order = [grid.columns.index("acc ↑"), "desc"]
    assert "–" not in [row[grid.columns.index("acc ↑")] for row in grid.rows]  # missing values last, either way
    grid.page = 2
    assert len(grid.rows) == 7 and grid.rows[-1][grid.columns.index("acc ↑")] == "–"
    grid.search = "RUN-2 forest"  # every word, in any column, any case
    assert sorted(row[1] for row in grid.rows) == ["run-22", "run-25"] and grid.matching == 2 and grid.page == 0  # past the last page: the last
    grid.search, grid.page = "", 99
    assert grid.page == 2 and grid.matching == 27
    for bad in ([99, "asc"], [0, "up"], [0]):
        with pytest.raises(traitlets.TraitError, match="order is"):
            grid.order = bad
    with pytest.raises(traitlets.TraitError, match="at least one row"):
        grid.page_size = 0
    assert grid.order == [grid.columns.index("acc ↑"), "desc"] and len(grid.rows) == 7  # a refused change leaves the grid as it was


def test_empty_runs_table_says_how_to_start():
    view = RunsTable(pd.DataFrame(columns=["run_id", "name", "status", "start_time", "duration_s"]))
    assert "%%mlops_train" in view._repr_html_()


def test_chart_alt_text_is_escaped():
    tag = png_img(b"\x89PNG", alt='x" onerror="alert(1)')
    assert 'alt="x&quot; onerror=&quot;alert(1)"' in tag


def test_comparing_two_model_classes_leads_with_the_class_and_the_params_set_and_keeps_defaults_behind_a_toggle():
    forest = run_of("f" * 32, "RandomForestClassifier", {"n_estimators": "50", "criterion": "gini", "max_depth": "None", "random_state": "0"},
                    {"accuracy": 0.98, "log_loss": 0.12})
    pipeline = run_of("p" * 32, "Pipeline", {"logisticregression__C": "0.01", "logisticregression__max_iter": "100", "memory": "None",
                                             "standardscaler__with_mean": "True"}, {"accuracy": 0.93, "log_loss": 0.41})  # fmt: skip
    view = ComparisonView(compare_runs([forest, pipeline]))
    assert set(view.set_params.index) == {"n_estimators", "random_state", "logisticregression__C"}  # what a person chose
    assert {"criterion", "max_depth", "logisticregression__max_iter", "memory", "standardscaler__with_mean"} == set(view.default_params.index)
    top = view.children[0].value
    assert "RandomForestClassifier" in top and "Pipeline" in top
    assert "↓ lower" in top and "<b>0.12</b>" in top and "<b>0.98</b>" in top  # the best of each metric, its way
    assert isinstance(view.children[1], widgets.Image) and bytes(view.children[1].value).startswith(b"\x89PNG")
    toggle = view.defaults
    assert isinstance(toggle, widgets.Accordion) and toggle.selected_index is None and toggle.titles[0].startswith("5 params left at their defaults")
    html = view._repr_html_()
    assert "<details><summary>5 params left at their defaults" in html and html.index("logisticregression__C") < html.index("<details>")


def test_a_stopped_deployment_card_shows_what_it_served_from_the_store(store):
    from mlops_magic.serving.manager import probe
    from mlops_magic.widgets.deployments import DeploymentCard, table_html

    target = {"name": "wine", "variants": [{"label": "production", "alias": "production", "weight": 80.0},
                                           {"label": "staging", "alias": "staging", "weight": 20.0}], "shadow": None}  # fmt: skip
    store.record_deployment("wine", target, "127.0.0.1", 5999, 999_999)
    started = store.deployment("wine").started_at
    answered = [{"time": started + (i + 1) / 1000, "model": "wine", "version": 1 + (i >= 15), "status_code": 200, "latency_ms": 2.0 + i % 5, "n_rows": 1} for i in range(20)]
    store.log_requests([*answered, {"time": started + 0.0205, "model": "wine", "version": None, "status_code": 400, "latency_ms": 1.0, "n_rows": 0},
                        {"time": time.time() + 60, "model": "wine", "version": 2, "status_code": 200, "latency_ms": 9.0, "n_rows": 1}])  # fmt: skip
    time.sleep(0.05)
    store.mark_deployment_stopped("wine")  # the last request above comes after the stop: not this process's
    seen = probe(store.deployment("wine"))
    assert seen.status == "stopped" and seen.requests is None and seen.versions == {} and seen.served is None  # all the probe can see
    (stopped,) = mm.deployments("wine")  # what mm.deployments, mm.stop and the magics return carries what it served
    for text in (stopped._repr_html_(), DeploymentCard(stopped).body.value):  # mm.stop()'s card in a notebook, and the widget's
        assert "21 served, 4.8% errors" in text and "v1, v2" in text and "p50 4 ms" in text  # 1 of 21; latencies 2..6 and 1
        assert "last request" in text and "stopped" in text and "–" not in text
    table = table_html([stopped])
    assert "21 served (v1, v2)" in table and "production 80%<br>staging 20%" in table and "<br>stopped " in table and "–" not in table
    assert mm.served("wine").requests == 21 and mm.served("wine").versions_text == "v1, v2"  # what the status carries
    store.record_deployment("iris", {"name": "iris", "variants": [{"label": "production", "alias": "production", "weight": 1.0}], "shadow": None},
                            "127.0.0.1", 5998, 999_998)  # fmt: skip
    store.mark_deployment_stopped("iris")
    (iris,) = mm.deployments("iris")
    assert "none served" in iris._repr_html_() and "none served" in table_html([iris])
