"""Every tutorial run in a real JupyterLab and in Notebook 7, in Chromium: each
dashboard is in the page as a widget view (no "Error displaying widget", no "Model not found"), no
cell failed, no error from widget code in the console; the saved notebook converted by nbconvert
shows each dashboard with no kernel; and a person's clicks change what they show: the runs grid
sorted by a metric, two runs selected and compared; the drift histogram of another column; the
monitor refreshed after new predictions; a maturity question answered in the widget.

The clicks come before the tutorials' clean-up cells (the serving processes still up); new
predictions are sent from the tutorial's own kernel, as a console attached to the notebook would.
One file, so that pytest-xdist (``--dist loadfile``) runs the tutorials once, on one worker.
A PNG of each dashboard (light and dark theme in JupyterLab) goes to ``test-output/ui/``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import nbformat
import pytest

from ..cells import cell_failure
from .conftest import FRONTS, Tutorial
from .jupyter import APP, HEAD, ROWS, WIDGET_FAILURES, column_values, dark_theme, kernel_of, run_in_kernel, save

# A cell shows a view when a line of it (the last such line: a cell shows its last value) calls one of these.
VIEW_MAGICS = re.compile(r"^%(mlops_runs|mlops_compare|mlops_monitor|mlops_data|mlops_models|mlops_serve|mlops_deployments|mlops_maturity)\b", re.MULTILINE)
CELLS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => ({
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
        mime: o.getAttribute('data-mime-type') || '',
        views: o.querySelectorAll('.jupyter-widgets').length,
        text: o.innerText.slice(0, 400)})),
}))"""
# What each cell left, as nbformat outputs (output_type, stream name, ename), from the notebook's model.
OUTPUTS = "() => APP.shell.currentWidget.content.widgets.map(cell => cell.model.type === 'code' ? cell.model.toJSON().outputs : [])".replace("APP", APP)


def expects_view(cell) -> bool:
    """Whether the tutorial's cell ends in a view (a view magic, or a training cell that shows its run card)."""
    if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
        return False
    magics = [m for m in VIEW_MAGICS.finditer(cell.source) if "--backtest" not in cell.source[m.start():].splitlines()[0]]
    trains = cell.source.startswith("%%mlops_train") and "--quiet" not in cell.source.splitlines()[0]
    return bool(magics) or trains


def widget_errors(errors: list[str]) -> list[str]:
    """The console errors that come from widget code (the widget manager, anywidget, the views' models)."""
    return [e for e in errors if re.search(r"widget|anywidget|grid|jupyter-widgets|model", e, re.IGNORECASE)]


def dashboards(tutorial: Tutorial):
    """The output areas of the tutorial's view cells, in order."""
    cells = tutorial.page.locator(".jp-Notebook .jp-Cell")
    return [cells.nth(i).locator(".jp-OutputArea") for i, cell in enumerate(tutorial.notebook.cells) if expects_view(cell)]


CASES = [pytest.param(front, name, id=f"{front}-{name}") for front, names in FRONTS.items() for name in names]


@pytest.mark.parametrize(("front", "name"), CASES)
def test_every_dashboard_renders_as_a_widget_view_and_no_cell_fails(tutorials, front, name):
    tutorial = tutorials[front, name]
    cells, outputs = tutorial.page.evaluate(CELLS), tutorial.page.evaluate(OUTPUTS)
    assert len(cells) == len(outputs) == len(tutorial.notebook.cells)
    clean_up = max(i for i, cell in enumerate(tutorial.notebook.cells) if cell.cell_type == "code")
    for number, (cell, shown, left) in enumerate(zip(tutorial.notebook.cells, cells, outputs)):
        if cell.cell_type != "code" or number == clean_up:
            continue
        assert re.fullmatch(r"\[\d+\]:", shown["prompt"].strip()), f"cell {number} did not run: {shown['prompt']!r}"
        failure = cell_failure(left, must_raise="raises-exception" in cell.metadata.get("tags", []))  # nbval's rule (notebooks/conftest.py)
        assert not failure, f"cell {number} ({cell.source.splitlines()[0]}): {failure}"
        texts = " ".join(o["text"] for o in shown["outputs"])
        assert not any(shown_failure in texts for shown_failure in WIDGET_FAILURES), f"cell {number}: {texts[:400]}"
        views = [o for o in shown["outputs"] if o["views"]]
        if expects_view(cell):
            assert views, f"cell {number} ({cell.source.splitlines()[0]}) shows no widget view: {[o['mime'] for o in shown['outputs']]}"
    assert not widget_errors(tutorial.errors), widget_errors(tutorial.errors)
    for number, area in enumerate(dashboards(tutorial)):
        tutorial.shot(f"view{number}", area)
    if front == "lab":
        dark_theme(tutorial.page)
        try:
            for number, area in enumerate(dashboards(tutorial)):
                tutorial.shot(f"view{number}-dark", area)
        finally:
            dark_theme(tutorial.page, dark=False)


# What each view's static HTML holds, found in nbconvert's page where no widget runs.
STATIC = {"%%mlops_train": "best earlier run|no earlier run to compare", "%mlops_runs": r"started \(UTC\)", "%mlops_compare": "params set",
          "%mlops_monitor": "drifted columns", "%mlops_data": "data check", "%mlops_serve": "Deployment"}  # fmt: skip


@pytest.mark.parametrize(("front", "name"), [pytest.param("lab", name, id=f"lab-{name}") for name in ("01-track-experiments", "03-monitor")])
def test_the_saved_tutorial_converts_to_html_with_each_dashboard_drawn_without_a_kernel(tutorials, server, tmp_path, front, name):
    from bs4 import BeautifulSoup

    tutorial = tutorials[front, name]
    save(tutorial.page)
    saved = server.root / front / f"{name}.ipynb"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp_path), str(saved)], check=True, capture_output=True)
    page = (tmp_path / f"{name}.html").read_text()
    assert "Loading widget" not in page and "Error displaying widget" not in page
    notebook = nbformat.read(saved, as_version=4)
    cells = BeautifulSoup(page, "html.parser").select("div.jp-Cell")
    assert len(cells) == len(notebook.cells)
    checked = 0
    for number, (cell, shown) in enumerate(zip(notebook.cells, cells)):
        if not expects_view(cell):
            continue
        outputs = shown.select(".jp-OutputArea-output")
        assert outputs and any(o.select("table, img") for o in outputs), f"cell {number} ({cell.source.splitlines()[0]}): no table or chart in the page"
        for magic in (m for m in STATIC if re.search(rf"^{re.escape(m)}\b", cell.source, re.MULTILINE)):
            assert re.search(STATIC[magic], " ".join(o.get_text(" ") for o in outputs)), f"cell {number}: {STATIC[magic]!r} not in its static view"
        checked += 1
    assert checked >= 2


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
    grid.locator(".mm-grid-scroll").evaluate("scroll => { scroll.scrollLeft = 0; }")  # the header's click scrolled to its column
    tutorial.shot("runs-compared", view)


@pytest.mark.parametrize(("front", "name"), [("lab", "03-monitor")])
def test_the_drift_histogram_follows_the_column_chosen_and_refresh_counts_new_predictions(tutorials, server, front, name):
    tutorial = tutorials[front, name]
    page = tutorial.page
    view = output_of(tutorial, "%mlops_monitor wine-quality --window 100 --metric accuracy --min 0.85")
    assert "600" in view.inner_text() and "degraded" in view.inner_text()
    histogram = view.locator("img.widget-image").nth(1)
    assert histogram.evaluate("img => img.naturalWidth") == 0  # drawn when its tab is first opened, not before
    view.locator(".lm-TabBar-tab", has_text="drift").click()
    page.wait_for_function("img => img.naturalWidth > 0", arg=histogram.element_handle(), timeout=30_000)
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
