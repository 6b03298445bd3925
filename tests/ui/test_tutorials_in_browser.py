"""Every tutorial run in a real JupyterLab (and the first and third in Notebook 7) in Chromium: each
dashboard is in the page as a widget view (no "Error displaying widget", no "Model not found"), no
cell failed, no error from widget code in the console; then a person's clicks change what they show.

A PNG of each dashboard (light and dark theme in JupyterLab) goes to ``test-output/ui/``.
"""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

from .conftest import FRONTS, Tutorial
from .jupyter import WIDGET_FAILURES, dark_theme, save

# A cell shows a view when a line of it (the last such line: a cell shows its last value) calls one of these.
VIEW_MAGICS = re.compile(r"^%(mlops_runs|mlops_compare|mlops_monitor|mlops_data|mlops_models|mlops_serve|mlops_deployments|mlops_maturity)\b", re.MULTILINE)
CELLS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => ({
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
        mime: o.getAttribute('data-mime-type') || '',
        views: o.querySelectorAll('.jupyter-widgets').length,
        text: o.innerText.slice(0, 400)})),
}))"""


def expects_view(cell) -> bool:
    """Whether the tutorial's cell ends in a view (a view magic, or a training cell that shows its run card)."""
    if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
        return False
    magics = [m for m in VIEW_MAGICS.finditer(cell.source) if "--backtest" not in cell.source[m.start():].splitlines()[0]]
    trains = cell.source.startswith("%%mlops_train") and "--quiet" not in cell.source.splitlines()[0]
    return bool(magics) or trains


def widget_errors(errors: list[str]) -> list[str]:
    """The console errors that come from widget code (the widget manager, anywidget, the views' models)."""
    return [e for e in errors if re.search(r"widget|anywidget|itables|datatable|jupyter-widgets|model", e, re.IGNORECASE)]


def dashboards(tutorial: Tutorial):
    """The output areas of the tutorial's view cells, in order."""
    cells = tutorial.page.locator(".jp-Notebook .jp-Cell")
    return [cells.nth(i).locator(".jp-OutputArea") for i, cell in enumerate(tutorial.notebook.cells) if expects_view(cell)]


CASES = [pytest.param(front, name, id=f"{front}-{name}") for front, names in FRONTS.items() for name in names]


@pytest.mark.parametrize(("front", "name"), CASES)
def test_every_dashboard_renders_as_a_widget_view_and_no_cell_fails(tutorials, front, name):
    tutorial = tutorials[front, name]
    cells = tutorial.page.evaluate(CELLS)
    assert len(cells) == len(tutorial.notebook.cells)
    clean_up = max(i for i, cell in enumerate(tutorial.notebook.cells) if cell.cell_type == "code")
    for number, (cell, shown) in enumerate(zip(tutorial.notebook.cells, cells)):
        if cell.cell_type != "code" or number == clean_up:
            continue
        assert re.fullmatch(r"\[\d+\]:", shown["prompt"].strip()), f"cell {number} did not run: {shown['prompt']!r}"
        texts = " ".join(o["text"] for o in shown["outputs"])
        if "raises-exception" not in cell.metadata.get("tags", []):
            failed = [o["text"] for o in shown["outputs"] if o["mime"] == "application/vnd.jupyter.stderr" and re.search(r"Traceback|^\w*Error: ", o["text"], re.M)]
            assert not failed, f"cell {number} failed: {failed[0][:400]}"
        assert not any(failure in texts for failure in WIDGET_FAILURES), f"cell {number}: {texts[:400]}"
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
