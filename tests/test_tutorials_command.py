"""``mlops-magic tutorials``: the notebooks copied into a folder, a changed one kept, and the same from a built wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from mlops_magic import cli
from mlops_magic.tutorials import RECORD

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))


def test_copies_every_tutorial_refreshes_an_unchanged_copy_and_keeps_a_changed_one(tmp_path, capsys):
    folder = tmp_path / "tutorials"
    assert cli.main(["tutorials", str(folder)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in folder.glob("*.ipynb")) == TUTORIALS and len(TUTORIALS) >= 4
    assert (folder / TUTORIALS[0]).read_bytes() == (ROOT / "notebooks" / TUTORIALS[0]).read_bytes()
    assert f"open them with: jupyter lab {folder}" in out

    first, second = folder / TUTORIALS[0], folder / TUTORIALS[1]
    older = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'  # as an earlier version copied it
    first.write_bytes(older)
    record = json.loads((folder / RECORD).read_text())
    record[first.name] = __import__("hashlib").sha256(older).hexdigest()
    (folder / RECORD).write_text(json.dumps(record))
    second.write_text(second.read_text().replace("wine", "my wine"))  # the user's edit
    edited = second.read_bytes()

    assert cli.main(["tutorials", str(folder)]) == 2
    captured = capsys.readouterr()
    assert first.read_bytes() == (ROOT / "notebooks" / first.name).read_bytes()  # refreshed
    assert second.read_bytes() == edited  # kept
    assert captured.err == f"mlops-magic: kept {second}: it was changed since it was copied; move it away to get this version's.\n"

    second.unlink()
    assert cli.main(["tutorials", str(folder)]) == 0 and second.read_bytes() == (ROOT / "notebooks" / second.name).read_bytes()


def test_the_built_wheel_ships_the_tutorials_and_its_command_copies_one_that_runs(tmp_path):
    """The wheel, installed in a fresh virtual environment (its dependencies seen from this one), not the source tree."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".*cache", ".mlops", ".benchmarks"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("mlops_magic-*.whl"))
    shipped = sorted(n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("mlops_magic/notebooks/"))
    assert shipped == [f"mlops_magic/notebooks/{name}" for name in TUTORIALS]  # every tutorial, and not the test hook

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing from the source tree
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)], env=env, check=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip()
    here = [p for p in sys.path if p.endswith("site-packages")]  # this environment's dependencies, after the wheel's package
    Path(site, "dependencies.pth").write_text("\n".join(here) + "\n")

    work = tmp_path / "user"
    work.mkdir()
    copied = subprocess.run([str(venv / "bin" / "mlops-magic"), "tutorials"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    assert "open them with: jupyter lab mlops-magic-tutorials" in copied.stdout
    folder = work / "mlops-magic-tutorials"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == TUTORIALS

    run = f"""
import mlops_magic, nbclient, nbformat
assert mlops_magic.__file__.startswith({str(venv)!r}), mlops_magic.__file__
notebook = nbformat.read({str(folder / TUTORIALS[0])!r}, as_version=4)
nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={{"metadata": {{"path": {str(folder)!r}}}}}).execute()
nbformat.write(notebook, {str(folder / TUTORIALS[0])!r})
"""
    executed = subprocess.run([str(python), "-c", run], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert executed.returncode == 0, executed.stderr[-3000:]
    notebook = nbformat.read(folder / TUTORIALS[0], as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)  # nbclient stops at an error no cell was tagged to raise
    assert [cell.source for cell in code if any(o.output_type == "error" for o in cell.outputs)] == [
        cell.source for cell in code if "raises-exception" in cell.metadata.get("tags", [])
    ]
