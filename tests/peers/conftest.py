"""The heavy peers (MLflow, MLServer), each in its own virtual environment, built once per session in the background.

When a test of this folder is selected (marker ``peers``), both builds start as soon as collection ends
and run while the rest of the suite does; this folder's tests are moved to the end of the run, so they
seldom wait. Under pytest-xdist every worker collects, and a lock file lets one of them build each venv
for all (the last worker to finish removes them). Each
venv installs the pinned peer and the scikit-learn that trains the models here, so an exported pickle
loads as it was written. ``MLOPS_MAGIC_PEER_VENVS=<folder>`` keeps the venvs between sessions (they are
reused while their pins are the same). A build that fails fails the tests under ``CI=true``, and skips
them elsewhere (no network, say), with pip's last line.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import sklearn

PEERS = {  # the latest that install on Python 3.11 here, with the scikit-learn of this environment
    "mlflow": ["mlflow==3.17.2", f"scikit-learn=={sklearn.__version__}"],
    "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", f"scikit-learn=={sklearn.__version__}"],
}
BUILD_TIMEOUT_S = 1200
HERE = Path(__file__).parent


class PeerVenv:
    """A venv being built in a thread; ``python()`` waits for it and answers its interpreter."""

    def __init__(self, name: str, root: Path):
        self.name, self.folder, self.pins = name, root / name, PEERS[name]
        self.error: str | None = None
        self.seconds: float | None = None
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()  # the session ends: stop waiting for another worker's build
        self.cancelled = False  # ... and it was cut short: stop building
        self.thread = threading.Thread(target=self._build_once, args=(root / f"{name}.lock",), name=f"peer-venv-{name}", daemon=True)
        self.thread.start()

    def _build_once(self, lock_path: Path) -> None:
        """Build under the lock, unless another worker built it while this one waited for the lock."""
        with open(lock_path, "w") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self.stopping.wait(0.5):
                        return
            marker = self.folder / ".pins"
            if marker.exists() and marker.read_text() == "\n".join(self.pins):
                self.seconds = 0.0
                return
            self._build(marker)

    def _build(self, marker: Path) -> None:
        started = time.monotonic()
        steps = [[sys.executable, "-m", "venv", "--clear", str(self.folder)], [str(self.folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *self.pins]]
        for step in steps:
            if self.cancelled:
                return
            self.process = subprocess.Popen(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                output, _ = self.process.communicate(timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.error = f"{' '.join(step[:4])} did not finish within {BUILD_TIMEOUT_S} s"
                return
            if self.process.returncode != 0:
                lines = [line for line in output.splitlines() if line.strip() and not line.startswith("WARNING: Location")]
                self.error = f"{' '.join(step[:4])} failed: {lines[-1] if lines else self.process.returncode}"
                return
        marker.write_text("\n".join(self.pins))
        self.seconds = time.monotonic() - started

    def stop(self, interrupted: bool) -> None:
        """Stop waiting for another worker's build; finish this worker's own (another worker's peer test may wait
        for it), unless the run was cut short (``-x``, Ctrl-C), when nobody will."""
        self.stopping.set()
        self.cancelled = interrupted
        if interrupted and self.thread.is_alive() and self.process is not None:
            self.process.terminate()
        self.thread.join(BUILD_TIMEOUT_S)

    def python(self) -> str:
        waited = time.monotonic()
        self.thread.join(BUILD_TIMEOUT_S)
        if self.error or self.thread.is_alive():
            message = f"the {self.name} venv ({' '.join(self.pins)}) could not be built: {self.error or 'still building'}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        built = f"built in {self.seconds:.0f} s" if self.seconds else "built by another worker, or kept"
        print(f"{self.name} venv: {built}; waited {time.monotonic() - waited:.0f} s for it")
        return str(self.folder / "bin" / "python")


_venvs: dict[str, PeerVenv] = {}
_temporary: list[Path] = []


def ours(items) -> list:
    return [item for item in items if HERE in Path(str(item.fspath)).parents]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Run the tests here last."""
    mine = ours(items)
    items[:] = [item for item in items if item not in mine] + mine


def pytest_collection_finish(session):
    """Start the builds if a test here is still selected (after ``-m``, ``-k`` and the like)."""
    if not ours(session.items):
        return
    kept = os.environ.get("MLOPS_MAGIC_PEER_VENVS")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex  # the same in every worker of one run
    root = Path(kept or Path(tempfile.gettempdir()) / f"mlops-magic-peers-{run}")
    root.mkdir(parents=True, exist_ok=True)
    _temporary.extend([] if kept else [root])
    _venvs.update({name: PeerVenv(name, root) for name in PEERS})


def pytest_sessionfinish(session, exitstatus):
    interrupted = bool(session.shouldstop or session.shouldfail) or exitstatus == pytest.ExitCode.INTERRUPTED
    for venv in _venvs.values():
        venv.stop(interrupted)
    for root in _temporary:  # the last worker of the run to finish removes the venvs
        with open(root / "finished", "a") as finished:
            fcntl.flock(finished, fcntl.LOCK_EX)
            finished.write("x")
            finished.flush()
            if (root / "finished").stat().st_size >= int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")):
                shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def peer_python():
    """``peer_python("mlflow")``: the interpreter of that peer's venv, once it is built."""
    return lambda name: _venvs[name].python()
