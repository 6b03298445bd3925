"""The suite fails a tutorial whose magic fails: nbval with ``notebooks/conftest.py``, run on copies.

nbval alone passes a cell whose magic printed a ``UsageError`` (nbval issue #147); these tests run
pytest on copies of notebooks, next to a copy of the hook, and read which cells failed and why.
The tutorials themselves run once, as part of the suite (``notebooks/`` is a test path).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def run_nbval(notebook: nbformat.NotebookNode, folder: Path, *options: str) -> tuple[int, dict[str, str]]:
    """Run pytest (nbval-lax, the hook in conftest.py) on ``notebook`` saved in ``folder``.

    Returns the exit status and, per cell ("Cell 0", ...), "passed" or the failure message.
    """
    nbformat.write(notebook, folder / "tutorial.ipynb")
    shutil.copy(NOTEBOOKS / "conftest.py", folder / "conftest.py")
    (folder / "pytest.ini").write_text(f"[pytest]\npythonpath = {ROOT}\n")  # no configuration from folders above tmp_path; the hook imports tests.cells
    report = folder / "report.xml"
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
               "--color=no", "-c", str(folder / "pytest.ini"), f"--junitxml={report}", *options, "tutorial.ipynb"]
    finished = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    assert report.exists(), finished.stdout + finished.stderr
    cells = {}
    for case in ElementTree.parse(report).iter("testcase"):
        failure = case.find("failure")
        cells[case.get("name")] = "passed" if failure is None else failure.get("message")
    return finished.returncode, cells


def code_cells(notebook: nbformat.NotebookNode) -> list:
    """The code cells, in nbval's numbering ("Cell N" is the N-th)."""
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_a_failing_magic_or_a_cell_that_must_raise_and_did_not_fails_its_cell_and_only_that_cell(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in [
        "%load_ext mlops_magic",
        "assert 'load_ext' in In[-2]",                   # cells are kept in the history, as in JupyterLab
        "%mlops_runs",                                    # a magic that works
        "%mlops_runs --sort",                             # a flag without its value: argparse refuses
        "%mlops_promote best --name wine -e nowhere",     # the package refuses (NotFoundError)
        "# NBVAL_RAISES_EXCEPTION\n1 / 0",                # marked to raise, raises
        "# NBVAL_RAISES_EXCEPTION\n1 + 1",                # marked to raise, does not
        "1 / 0",                                          # tagged raises-exception, raises
        "1 + 1",                                          # tagged raises-exception, does not
        "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()",  # caught and printed
    ]]
    for cell in notebook.cells[7:9]:
        cell.metadata["tags"] = ["raises-exception"]
    status, cells = run_nbval(notebook, tmp_path)
    assert status == 1
    assert cells["Cell 0"] == cells["Cell 1"] == cells["Cell 2"] == cells["Cell 5"] == cells["Cell 7"] == "passed"
    assert "Cell 3: a magic failed: UsageError: argument --sort: expected one argument" in cells["Cell 3"]
    assert "Cell 4: a magic failed: UsageError: " in cells["Cell 4"] and "nowhere" in cells["Cell 4"]
    for number in (6, 8):
        assert f"Cell {number}: the cell is marked to raise (raises-exception, NBVAL_RAISES_EXCEPTION) but raised no exception" in cells[f"Cell {number}"]
    assert "Cell 9: it printed an error on stderr: Traceback (most recent call last):" in cells["Cell 9"]


def test_a_tutorial_whose_promotion_gate_refuses_fails_at_that_cell(tmp_path):
    notebook = nbformat.read(NOTEBOOKS / "02-promote-and-serve.ipynb", as_version=4)
    promote, cell = next((number, cell) for number, cell in enumerate(code_cells(notebook)) if "%mlops_promote" in cell.source)
    assert '--require "accuracy >= 0.9"' in cell.source
    cell.source = cell.source.replace('--require "accuracy >= 0.9"', '--require "accuracy > 1"')
    status, cells = run_nbval(notebook, tmp_path, "-x")  # stop there: nothing after it runs
    assert status == 1
    assert all(cells[f"Cell {n}"] == "passed" for n in range(promote))
    assert f"Cell {promote}: a magic failed: UsageError: " in cells[f"Cell {promote}"]
    assert "accuracy" in cells[f"Cell {promote}"]
