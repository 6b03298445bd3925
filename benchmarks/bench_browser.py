"""The dashboards at scale in a real browser: ``%mlops_runs`` over 10,000 runs and ``%mlops_monitor``
over 1,000,000 logged predictions, each timed in JupyterLab in headless Chromium from the cell's run
to its view drawn (kernel, widget messages, the grid's first page or the dashboard's charts).

Baselines in the same run: the 10,000 runs as one hand-made HTML table (``DataFrame.to_html``, what
a table without paging costs the browser), and reading the whole prediction log.

    python benchmarks/bench_browser.py [--rows 1000000] [--runs 10000] [--store /tmp/bench-browser]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_monitor import build  # noqa: E402

from tests.ui.jupyter import APP, KERNEL, kernel_of, launch_browser, open_notebook, run_in_kernel, select_cell, start_server, timed_cell, wait_idle  # noqa: E402

CELLS = {
    "setup": "%load_ext mlops_magic\nimport mlops_magic as mm\nmm.set_store({store!r})",
    "runs": "%mlops_runs -e scale --sort accuracy",
    "monitor": "%mlops_monitor wine --window 1000 --metric accuracy --min 0.9",
    "html table": "from IPython.display import HTML\nHTML(mm.runs('scale').to_html())",
}
KERNEL_SIDE = """import time
from mlops_magic import api
from mlops_magic.widgets.monitor import MonitorDashboard
from mlops_magic.widgets.runs_table import RunsTable
_t = time.perf_counter(); RunsTable(mm.runs("scale", sort="accuracy"), compare=api.compare); _runs = time.perf_counter() - _t
_t = time.perf_counter(); _report = api.monitor("wine", window=1000, metric="accuracy", min_value=0.9); _computed = time.perf_counter() - _t
_t = time.perf_counter(); _view = MonitorDashboard(_report); _bundle = _view._repr_mimebundle_(); _drawn = time.perf_counter() - _t
_kernel = (round(_runs, 2), round(_computed, 2), round(_drawn, 2))
"""
DRAWN = {"runs": ".mlops-grid tbody tr", "monitor": ".widget-tab img.widget-image", "html table": "table.dataframe tbody tr"}


def add_runs(store_dir: Path, count: int) -> None:
    import mlops_magic as mm
    from mlops_magic.store import Run

    mm.set_store(str(store_dir))
    store = mm.get_store()
    if store.count_runs("scale") >= count:
        return
    now = time.time()
    for i in range(count):
        accuracy = 0.5 + 0.5 * ((i * 7919) % count) / count
        store.write_run(Run(run_id=f"{i:032x}", experiment="scale", name=f"scale-{i}", status="finished", start_time=now - i, duration_s=0.1 + i % 50 / 10,
                            params={"C": str(i % 10), "max_iter": "100"}, tags={"model_class": "LogisticRegression"},
                            metrics={"accuracy": accuracy, "f1_macro": accuracy * 0.98, "log_loss": 1.5 - accuracy, "roc_auc": min(1.0, accuracy + 0.05)}))  # fmt: skip
        if i % 2000 == 1999:
            print(f"  wrote {i + 1:,} runs", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--store", default=None, help="reuse (or create) the store here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="bench-browser-"))
    if not (folder / "store.db").exists():
        started = time.perf_counter()
        build(str(folder), folder / "artifacts", args.rows)
        print(f"logged {args.rows:,} predictions in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    add_runs(folder, args.runs)
    print(f"{args.runs:,} runs in the store ({time.perf_counter() - started:.0f} s)")
    root = Path(tempfile.mkdtemp(prefix="bench-browser-nb-"))
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL})
    notebook.cells = [nbformat.v4.new_code_cell(source.format(store=str(folder))) for source in CELLS.values()]
    nbformat.write(notebook, root / "scale.ipynb")
    server = start_server(root, env={"PYTHONPATH": str(ROOT)})
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 2400})
            open_notebook(page, f"{server.url}/lab/tree/scale.ipynb?reset")
            select_cell(page, 0, ".jp-CodeCell")
            page.evaluate(f"() => {APP}.commands.execute('notebook:run-cell')")
            page.wait_for_timeout(500)
            wait_idle(page, 120)
            kernel = kernel_of(page)
            run_in_kernel(server, kernel, "import sklearn.linear_model, skops.io, matplotlib.figure")  # what a training kernel has imported
            times = {name: timed_cell(page, i, DRAWN[name]) for i, name in enumerate(CELLS) if name in DRAWN}
            load = os.getloadavg()
            kernel_side = run_in_kernel(server, kernel, KERNEL_SIDE, "_kernel")
            read = run_in_kernel(server, kernel, "import time\n_t = time.perf_counter()\nmm.get_store().predictions_frame('wine', include_shadow=False)\n"
                                 "_read = time.perf_counter() - _t", "round(_read, 2)")  # fmt: skip
            browser.close()
    finally:
        server.stop()
    runs_kernel, computed, view = (float(v) for v in kernel_side.strip("()").split(","))
    print(f"%mlops_runs over {args.runs:,} runs, drawn in the browser: {times['runs']:.2f} s (under 2 s: {'yes' if times['runs'] < 2 else 'NO'});"
          f" of which {runs_kernel:.2f} s in the kernel (mm.runs and the view)")  # fmt: skip
    print(f"  baseline, the same runs as one HTML table (no paging): {times['html table']:.2f} s; the grid is {times['html table'] / times['runs']:.1f}x faster")
    print(f"%mlops_monitor over {args.rows:,} predictions, drawn in the browser: {times['monitor']:.2f} s (under 3 s: {'yes' if times['monitor'] < 3 else 'NO'});"
          f" of which in the kernel {computed:.2f} s computing (mm.monitor) and {view:.2f} s building the view and its static HTML")  # fmt: skip
    print(f"  load average (1, 5, 15 min) when the cells ran: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores")
    print(f"  baseline, reading the whole prediction log in the kernel: {float(read):.2f} s, {float(read) / times['monitor']:.1f}x the dashboard end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
