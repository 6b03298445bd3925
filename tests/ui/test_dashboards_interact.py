"""A person's clicks on the dashboards of the tutorials, in JupyterLab, and what they change: the runs
grid sorted by a metric, two runs selected and compared; the drift histogram of another column; the
monitor refreshed after new predictions; a maturity question answered in the widget.

They run before the tutorials' clean-up cells (the serving processes still up); new predictions
are sent from the tutorial's own kernel, as a console attached to the notebook would send them.
"""

from __future__ import annotations

import re
import time

import pytest

from .jupyter import HEAD, ROWS, column_values, kernel_of, run_in_kernel


def output_of(tutorial, source_start: str):
    """The output area of the first cell whose source starts with ``source_start``."""
    index = next(i for i, cell in enumerate(tutorial.notebook.cells) if cell.source.startswith(source_start))
    return tutorial.page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")


@pytest.mark.parametrize(("front", "name"), [("lab", "01-track-experiments")])
def test_the_runs_grid_sorts_by_a_metric_and_compares_two_selected_runs(tutorials, front, name):
    tutorial = tutorials[front, name]
    view = output_of(tutorial, "%mlops_runs -e wine --sort accuracy")
    grid = view.locator(".mlops-grid")
    grid.locator(ROWS).first.wait_for()
    accuracy = [float(v) for v in column_values(grid, "accuracy ↑")]
    assert accuracy == sorted(accuracy, reverse=True) and len(accuracy) == 3  # opens as %mlops_runs --sort asked
    grid.locator(HEAD, has_text="log_loss ↓").click()
    tutorial.page.wait_for_timeout(300)
    losses = [float(v) for v in column_values(grid, "log_loss ↓") if v.strip()]
    assert losses == sorted(losses) and len(losses) == 3, losses  # the lowest loss first now
    rows = grid.locator(ROWS)
    rows.nth(0).click()
    rows.nth(1).click()
    button = view.locator("button", has_text="compare selected")
    tutorial.page.wait_for_function("button => !button.disabled", arg=button.element_handle(), timeout=15_000)
    button.click()
    compared = view.locator(".jupyter-widgets", has_text="params set")
    compared.first.wait_for(timeout=60_000)
    text = view.inner_text()
    assert "↓ lower" in text and "data" in text and "code" in text
    assert view.locator("img").count() >= 1  # the metrics chart
    tutorial.shot("runs-compared", view)


@pytest.mark.parametrize(("front", "name"), [("lab", "03-monitor")])
def test_the_drift_histogram_follows_the_column_chosen_and_refresh_counts_new_predictions(tutorials, server, front, name):
    tutorial = tutorials[front, name]
    page = tutorial.page
    view = output_of(tutorial, "%mlops_monitor wine-quality --window 100 --metric accuracy --min 0.85")
    assert "600" in view.inner_text() and "degraded" in view.inner_text()
    view.locator(".lm-TabBar-tab", has_text="drift").click()
    histogram = view.locator("img.widget-image").nth(1)
    histogram.wait_for()
    before = histogram.get_attribute("src")
    view.locator(".widget-dropdown select").select_option("proline")
    page.wait_for_function("([img, before]) => img.src !== before", arg=[histogram.element_handle(), before], timeout=30_000)
    tutorial.shot("monitor-drift-proline", view)

    kernel = kernel_of(page)
    more = (
        "extra = test_df.sample(n=100, replace=True, random_state=9).drop(columns='target')\n"
        "for start in range(0, 100, 20):\n"
        "    session.post(invocations, json={'dataframe_records': extra.iloc[start:start + 20].to_dict(orient='records')}).raise_for_status()\n"
        "deadline = time.time() + 60\n"
        "while mm.get_store().count_predictions('wine-quality') < 700 and time.time() < deadline:\n"
        "    time.sleep(0.2)\n"
    )
    assert run_in_kernel(server, kernel, more, "mm.get_store().count_predictions('wine-quality')") == "700"
    header = view.locator(".widget-html").first
    assert re.search(r"predictions\s*600", header.inner_text())
    view.locator("button", has_text="refresh").click()
    page.wait_for_function("node => /predictions\\s*700/.test(node.innerText)", arg=header.element_handle(), timeout=60_000)
    view.locator(".lm-TabBar-tab", has_text="performance").click()
    tutorial.shot("monitor-refreshed", view)


@pytest.mark.parametrize(("front", "name"), [("lab", "05-maturity")])
def test_a_question_answered_in_the_maturity_widget_is_stored(tutorials, server, front, name):
    from mlops_magic.assessment.questions import QUESTIONS

    tutorial = tutorials[front, name]
    view = output_of(tutorial, "%mlops_maturity --answer")
    key, (_, question) = next((k, q) for k, q in QUESTIONS.items() if k not in ("cooperation", "standards"))
    row = view.locator(".widget-hbox", has_text=question)
    row.locator("button", has_text="partly").click()
    kernel = kernel_of(tutorial.page)
    deadline = time.time() + 30
    answer = None
    while time.time() < deadline:
        answer = run_in_kernel(server, kernel, "", f"mm.maturity().answers.get({key!r}, {{}}).get('answer')")
        if answer == "'partly'":
            break
        time.sleep(0.5)
    assert answer == "'partly'"
    tutorial.shot("maturity-answered", view)
