"""The runs grid over 10,000 runs in JupyterLab: it draws one page of rows (not 10,000), says how many
there are, and a click on a header sorts all of them. The time each step took is printed and kept in
``test-output/ui/timings-grid.json``; the figures the issue names are measured by
``benchmarks/bench_browser.py`` (a real store, and the monitor over 1,000,000 predictions).
"""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from .conftest import OUTPUT, new_page
from .jupyter import KERNEL, column_values, open_notebook, run_all_above_last, wait_idle

RUNS = 10_000
FRAME = f"""
import numpy as np
import pandas as pd

from mlops_magic.widgets.runs_table import RunsTable

rng = np.random.default_rng(0)
n = {RUNS}
frame = pd.DataFrame({{
    "run_id": [f"{{i:08x}}{{0:024x}}" for i in range(n)], "experiment": "scale", "name": [f"scale-{{i}}" for i in range(n)], "status": "finished",
    "start_time": pd.to_datetime(1.7e9 + np.arange(n) * 60.0, unit="s", utc=True), "duration_s": rng.random(n) * 5,
    **{{f"metrics.{{m}}": rng.random(n) for m in ("accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "log_loss", "baseline_accuracy")}},
    "tags.model_class": rng.choice(["LogisticRegression", "RandomForestClassifier", "Pipeline"], n), "tags.owner": "ana",
}}).sort_values("metrics.accuracy", ascending=False)
frame.attrs["sorted_by"] = ("metrics.accuracy", False)  # as mm.runs(sort="accuracy") leaves it
"""


def changed(page, grid, click) -> None:
    """``click``, then wait until the grid's first row is another (the grid redraws its rows)."""
    before = grid.locator(".dt-scroll-body tbody tr").first.inner_text()
    click()
    page.wait_for_function("([grid, before]) => grid.querySelector('.dt-scroll-body tbody tr').innerText !== before", arg=[grid.element_handle(), before])


@pytest.mark.parametrize(("front", "name"), [("lab", "scale")])
def test_the_runs_grid_over_10000_runs_draws_one_page_and_sorts_them_all(browser, server, front, name):
    folder = server.root / "scale"
    folder.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL})
    notebook.cells = [nbformat.v4.new_code_cell(FRAME), nbformat.v4.new_code_cell("RunsTable(frame)"), nbformat.v4.new_code_cell("del frame")]
    nbformat.write(notebook, folder / "scale.ipynb")
    errors: list[str] = []
    page = new_page(browser, errors)
    try:
        open_notebook(page, f"{server.url}/lab/tree/scale/scale.ipynb?reset")
        started = time.perf_counter()
        run_all_above_last(page)
        grid = page.locator(".mlops-grid")
        grid.locator(".dt-scroll-body tbody tr").first.wait_for(timeout=60_000)
        drawn = time.perf_counter() - started
        wait_idle(page, 60)
        assert grid.locator(".dt-scroll-body tbody tr").count() == 10  # one page in the page, not 10,000 rows
        assert "of 10,000 entries" in grid.locator(".dt-info").inner_text()
        started = time.perf_counter()
        changed(page, grid, lambda: grid.locator(".dt-scroll-head thead th", has_text="log_loss ↓").click())
        sorted_in = time.perf_counter() - started
        losses = column_values(grid, "log_loss ↓")
        assert [float(v) for v in losses] == sorted(float(v) for v in losses) and float(losses[0]) < 0.001  # the lowest of all 10,000 first
        started = time.perf_counter()
        changed(page, grid, lambda: grid.locator(".dt-paging-button", has_text="2").first.click())
        paged_in = time.perf_counter() - started
        OUTPUT.mkdir(parents=True, exist_ok=True)
        timings = {"runs": RUNS, "drawn_s": round(drawn, 2), "sorted_s": round(sorted_in, 2), "next_page_s": round(paged_in, 2)}
        (OUTPUT / "timings-grid.json").write_text(json.dumps(timings, indent=1))
        print(f"runs grid over {RUNS:,} runs: {timings}")
        grid.screenshot(path=str(OUTPUT / "lab-scale-runs-grid.png"), timeout=30_000)
        assert not [e for e in errors if "widget" in e.lower() or "datatable" in e.lower()], errors
    finally:
        page.close()
