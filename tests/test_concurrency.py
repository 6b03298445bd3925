"""Several processes write runs into one SQLite store at once: nothing is lost, nothing is half-written."""

from __future__ import annotations

import subprocess
import sys

from mlops_magic.store import Store

WRITER = """
import sys
import mlops_magic as mm
mm.set_store(sys.argv[1])
for i in range(int(sys.argv[2])):
    with mm.run("shared", name=f"{sys.argv[3]}-{i}") as active:
        active.log_param("writer", sys.argv[3])
        active.log_metric("step", i)
        active.log_metric("score", i / 10)
mm.get_store()  # flush the background writer
"""


def test_two_processes_log_runs_at_once(tmp_path):
    location = str(tmp_path / "store")
    Store(location).close()  # created once, so both writers open an existing schema
    runs_each = 60
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, location, str(runs_each), name], stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    for process in writers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    frame = Store(location).runs_frame("shared")
    assert len(frame) == 2 * runs_each
    assert frame["params.writer"].value_counts().to_dict() == {"a": runs_each, "b": runs_each}
    assert frame["metrics.step"].notna().all() and frame["metrics.score"].notna().all()
