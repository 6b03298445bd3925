"""The runs grid over 10,000 runs in JupyterLab: it draws one page of rows (not 10,000), says how many
there are; a click on a header sorts all of them, a search looks in all of them (and shows what a
user typed as text, not markup), a page turn and a bigger page show the next ones, and a selection
stays while the page changes. The time each step took is printed and kept in
``test-output/ui/timings-grid.json``; the figures the issue names are measured by
``benchmarks/bench_browser.py`` (a real store, and the monitor over 1,000,000 predictions).
"""

from __future__ import annotations

import ast
import json
import time

import nbformat
import pytest

from .conftest import OUTPUT, new_page
from .jupyter import HEAD, KERNEL, ROWS, column_values, kernel_of, open_notebook, run_in_kernel, timed_cell

RUNS = 10_000
FRAME = f"""
import numpy as np
import pandas as pd

from mlops_magic.widgets.runs_table import RunsTable

rng = np.random.default_rng(0)
n = {RUNS}
frame = pd.DataFrame({{
    "run_id": [f"{{i:08x}}{{0:024x}}" for i in range(n)], "experiment": "scale", "name": [f"scale-{{i}}" for i in range(n - 1)] + ["<b>bold</b> & co"], "status": "finished",
    "start_time": pd.to_datetime(1.7e9 + np.arange(n) * 60.0, unit="s", utc=True), "duration_s": rng.random(n) * 5,
    **{{f"metrics.{{m}}": rng.random(n) for m in ("accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "log_loss", "baseline_accuracy")}},
    "tags.model_class": rng.choice(["LogisticRegression", "RandomForestClassifier", "Pipeline"], n), "tags.owner": "ana",
}}).sort_values("metrics.accuracy", ascending=False)
frame.attrs["sorted_by"] = ("metrics.accuracy", False)  # as mm.runs(sort="accuracy") leaves it
len(frame)
"""


def changed(page, grid, click) -> None:
    """``click``, then wait until the grid's first row is another (the kernel sends the new page)."""
    before = grid.locator(ROWS).first.inner_text()
    click()
    page.wait_for_function("([grid, before]) => grid.querySelector('tbody tr').innerText !== before", arg=[grid.element_handle(), before])


@pytest.mark.parametrize(("front", "name"), [("lab", "scale")])
def test_the_runs_grid_over_10000_runs_draws_one_page_and_sorts_searches_and_pages_them_all(browser, server, front, name):
    folder = server.root / "scale"
    folder.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL})
    notebook.cells = [nbformat.v4.new_code_cell(FRAME), nbformat.v4.new_code_cell("table = RunsTable(frame)\ntable"), nbformat.v4.new_code_cell("del frame")]
    nbformat.write(notebook, folder / "scale.ipynb")
    errors: list[str] = []
    page = new_page(browser, errors)
    try:
        open_notebook(page, f"{server.url}/lab/tree/scale/scale.ipynb?reset")
        timed_cell(page, 0, ".jp-OutputArea-executeResult")  # the frame (it shows its length)
        drawn = timed_cell(page, 1, f".mlops-grid {ROWS}", 120)  # the grid, from the cell's run to its first row drawn
        grid = page.locator(".mlops-grid")
        info = grid.locator(".mm-grid-info")
        assert grid.locator(ROWS).count() == 10 and info.inner_text() == "1 to 10 of 10,000 runs"  # one page in the page, not 10,000 rows
        accuracy = [float(v) for v in column_values(grid, "accuracy ↑")]
        assert accuracy == sorted(accuracy, reverse=True) and accuracy[0] > 0.999  # opens sorted as mm.runs was

        started = time.perf_counter()
        changed(page, grid, lambda: grid.locator(HEAD, has_text="log_loss ↓").click())
        sorted_in = time.perf_counter() - started
        losses = column_values(grid, "log_loss ↓")
        assert [float(v) for v in losses] == sorted(float(v) for v in losses) and float(losses[0]) < 0.001  # the lowest of all 10,000 first
        assert grid.locator(HEAD, has_text="log_loss ↓").get_attribute("aria-sort") == "ascending"
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.mouse.move(0, 0)
        grid.locator(".mm-grid-scroll").evaluate("scroll => { scroll.scrollLeft = 0; }")  # the click scrolled to its column
        grid.screenshot(path=str(OUTPUT / "lab-scale-runs-grid.png"), timeout=30_000)

        rows = grid.locator(ROWS)
        chosen = [rows.nth(0).locator("td").first.inner_text(), rows.nth(2).locator("td").first.inner_text()]
        rows.nth(0).click()
        rows.nth(2).focus()
        page.keyboard.press("Enter")  # from the keyboard, as a click
        page.wait_for_function("grid => grid.querySelectorAll('tbody tr.mm-selected').length === 2", arg=grid.element_handle())

        started = time.perf_counter()
        changed(page, grid, lambda: grid.locator(".mm-grid-pager button", has_text="2").first.click())
        paged_in = time.perf_counter() - started
        assert info.inner_text() == "11 to 20 of 10,000 runs" and grid.locator("tbody tr.mm-selected").count() == 0

        started = time.perf_counter()
        changed(page, grid, lambda: grid.locator(".mm-grid-search").fill("bold"))
        searched_in = time.perf_counter() - started
        assert info.inner_text() == "1 to 1 of 1 runs (of 10,000 in all)"
        assert column_values(grid, "name") == ["<b>bold</b> & co"]  # what the user typed, shown as text
        grid.locator(".mm-grid-search").fill("")
        page.wait_for_function("info => info.innerText.startsWith('1 to 10 of 10,000')", arg=info.element_handle())
        grid.locator(".mm-grid-size").select_option("100")
        page.wait_for_function("grid => grid.querySelectorAll('tbody tr').length === 100", arg=grid.element_handle())
        assert grid.locator("tbody tr.mm-selected").count() == 2  # the runs chosen on page 1 are still selected
        selected = run_in_kernel(server, kernel_of(page), "", "[run_id[:8] for run_id in table.selected]")
        assert sorted(ast.literal_eval(selected)) == sorted(chosen)

        timings = {"runs": RUNS, "drawn_s": round(drawn, 2), "sorted_s": round(sorted_in, 2), "next_page_s": round(paged_in, 2), "searched_s": round(searched_in, 2)}
        (OUTPUT / "timings-grid.json").write_text(json.dumps(timings, indent=1))
        print(f"runs grid over {RUNS:,} runs: {timings}")
        assert not [e for e in errors if "widget" in e.lower() or "grid" in e.lower()], errors
    finally:
        page.close()
