"""Kernel faults: a real Jupyter kernel (IPython with the extension) interrupted or killed while it tracks.

A run is never ``running`` forever nor silently gone: killed mid-cell, or killed after its cell
returned while the background writer still saves it, it is ``interrupted`` with what was saved
the next time the store is opened; an interrupt is ``interrupted`` and reaches the user.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time

import pytest
from IPython.core.error import UsageError

from mlops_magic import api
from mlops_magic.store import Store

SETUP = """
%load_ext mlops_magic
import time
import mlops_magic as mm
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
X, y = load_wine(return_X_y=True, as_frame=True)
"""


@contextlib.contextmanager
def kernel(store_folder):
    """A real IPython kernel (ipykernel, its own process) with the extension loaded on ``store_folder``."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "MLOPS_MAGIC_STORE": str(store_folder)})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(SETUP, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        yield manager, client
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def runs(folder) -> list[dict]:
    """The runs as a fresh opening of the store sees them (the opening marks runs whose kernel died)."""
    store = Store(str(folder))
    try:
        frame = store.runs_frame()
        return [{**row, "run": store.get_run(row["run_id"])} for row in frame.to_dict("records")]
    finally:
        store.close()


def stored_row(folder, where: str):
    """A row of the store's ``runs`` (read without opening a Store, so nothing is marked)."""
    if not (folder / "store.db").exists():
        return None
    with contextlib.closing(sqlite3.connect(folder / "store.db")) as connection:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return None  # being created
        return connection.execute(f"SELECT status, (SELECT count(*) FROM metrics m WHERE m.run_id = r.run_id), "
                                  f"(SELECT count(*) FROM run_models o WHERE o.run_id = r.run_id) FROM runs r WHERE {where}").fetchone()  # fmt: skip


def wait_for(condition, timeout: float = 30.0, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s for {what}")


def kill(manager) -> None:
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)
    manager.provisioner.process.wait(timeout=10)


def test_an_interrupted_cell_and_a_kernel_killed_mid_cell_leave_interrupted_runs(tmp_path):
    folder = tmp_path / "store"
    with kernel(folder) as (manager, client):
        client.execute("%%mlops_train -e k -n interrupted --tag t=1\nstarted = time.time()\ntime.sleep(30)", stop_on_error=False)  # ipykernel 6 aborts the next request otherwise
        wait_for(lambda: stored_row(folder, "name = 'interrupted'"), what="the running run")
        manager.interrupt_kernel()  # SIGINT, as the notebook's stop button sends
        reply = client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"  # it reached the user
        assert client.execute_interactive("mm.get_store()", timeout=30)["content"]["status"] == "ok"  # written: the kernel lives on
        assert stored_row(folder, "name = 'interrupted'")[0] == "interrupted"

        client.execute("%%mlops_train -e k -n killed --tag t=2\nmm.log_metric('partial', 0.5)\ntime.sleep(30)")
        assert wait_for(lambda: stored_row(folder, "name = 'killed'"), what="the running run")[0] == "running"
        kill(manager)
    assert stored_row(folder, "name = 'killed'")[0] == "running"  # until the store is opened again
    found = {r["name"]: r for r in runs(folder)}
    killed = found["killed"]["run"]
    assert killed.status == "interrupted" and "ended before it was written whole" in killed.error
    assert "time.sleep(30)" in killed.source and killed.tags["t"] == "2"  # what was saved: the code, its name and tags
    assert found["interrupted"]["run"].status == "interrupted" and "KeyboardInterrupt" in found["interrupted"]["run"].error


def test_a_kernel_killed_while_its_run_is_still_being_written_leaves_it_interrupted(tmp_path):
    folder = tmp_path / "store"
    with kernel(folder) as (manager, client):
        cell = "%%mlops_train -e k -n big --data X,y\nforest = RandomForestClassifier(n_estimators=400, random_state=0).fit(X, y)\nacc = forest.score(X, y)"
        assert client.execute_interactive(cell, timeout=120)["content"]["status"] == "ok"  # the cell has returned
        # the writer stores the params and metrics first, then saves the 400 trees with skops: kill it in between
        row = wait_for(lambda: (found := stored_row(folder, "name = 'big'")) and found[1] and found, what="the params and metrics")
        kill(manager)
    assert row[0] == "running" and row[2] == 0  # killed before the model was written
    (run,) = [r["run"] for r in runs(folder)]
    assert run.status == "interrupted" and run.metrics["acc"] == 1.0 and run.params["n_estimators"] == "400" and not run.models
    store = Store(str(folder))
    with store.db.reading() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()


def test_keyboard_interrupt_in_a_tracked_cell_reaches_the_user_and_the_run_is_interrupted(ip, store):
    with pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("mlops_train", "-e k", "x = 1\nraise KeyboardInterrupt")
    store = api.get_store()  # the run written (the writer thread is done)
    (run_id,) = store.runs_frame()["run_id"]
    assert store.get_run(run_id).status == "interrupted"
    with pytest.raises(UsageError, match="no variable 'nope'"):  # a refusal still writes nothing
        ip.run_cell_magic("mlops_train", "-e k --data nope", "x = 2")
    assert store.count_runs() == 1


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MiB tmpfs: a disk that really fills up."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True, text=True)
    if mounted.returncode:  # not root, or a container without CAP_SYS_ADMIN
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder) -> int:
    """Write a file until the disk is full; return its size."""
    written = 0
    with open(folder / "filler", "wb") as filler:
        with contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
                written += 65536
    return written


def test_a_full_disk_while_tracking_is_one_warning_and_the_run_is_written_once_space_is_back(ip, small_disk):
    ip.run_line_magic("config", f"MLOpsMagic.store = {str(small_disk / 'store')!r}")
    try:
        track_on_a_full_disk(ip, small_disk)
    finally:
        ip.run_line_magic("config", "MLOpsMagic.store = ''")  # the shell's configuration outlives the test


def track_on_a_full_disk(ip, small_disk):
    from mlops_magic import api

    assert ip.run_cell("from sklearn.datasets import load_wine\nfrom sklearn.tree import DecisionTreeClassifier\nX, y = load_wine(return_X_y=True, as_frame=True)").success
    cell = "tree = DecisionTreeClassifier(max_depth={}, random_state=0).fit(X, y)\nacc = tree.score(X, y)\nacc"
    assert ip.run_cell_magic("mlops_train", "-e disk --quiet", cell.format(2)) > 0.9
    api.get_store()
    fill(small_disk)
    value = ip.run_cell_magic("mlops_train", "-e disk --quiet", cell.format(3))  # the disk is full as it tracks
    assert value == pytest.approx(0.9775, abs=0.05)  # the cell's own result, intact
    _, card = api.train_cell(ip, cell.format(4), experiment="disk")  # the next cell's run card carries the warning
    about = [line for line in card.warnings if "is not recorded yet" in line]
    assert len(about) == 1 and ("database or disk is full" in about[0] or "No space left on device" in about[0]), card.warnings
    assert len(api.runs("disk")) == 1  # not written yet
    (small_disk / "filler").unlink()  # space is back
    store = api.get_store()  # writes what waited
    runs = {store.get_run(r).params["max_depth"]: store.get_run(r) for r in api.runs("disk")["run_id"]}
    assert sorted(runs) == ["2", "3", "4"] and all(r.status == "finished" and not r.warnings for r in runs.values())
    assert api.load_model(runs["3"].run_id).get_params()["max_depth"] == 3  # its model too, sha256-checked
    with store.db.reading() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
