"""The heavy peers (MLflow, MLServer), each in its own virtual environment, built once per session in the background.

When a test of this folder is selected, both builds start as soon as collection ends and run while the
rest of the suite does; this folder's tests are moved to the end of the run, so they seldom wait. Each
venv installs the pinned peer and the scikit-learn that trains the models here, so an exported pickle
loads as it was written. ``MLOPS_MAGIC_PEER_VENVS=<folder>`` keeps the venvs between sessions (they are
reused while their pins are the same). A build that fails fails the tests under ``CI=true``, and skips
them elsewhere (no network, say), with pip's last line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
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
        self.thread = threading.Thread(target=self._build, name=f"peer-venv-{name}", daemon=True)
        self.thread.start()

    def _build(self) -> None:
        marker = self.folder / ".pins"
        if marker.exists() and marker.read_text() == "\n".join(self.pins):
            self.seconds = 0.0
            return
        started = time.monotonic()
        steps = [[sys.executable, "-m", "venv", "--clear", str(self.folder)], [str(self.folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *self.pins]]
        for step in steps:
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

    def stop(self) -> None:
        """End a build still running (the session ends before the tests that need it ran)."""
        if self.thread.is_alive() and self.process is not None:
            self.process.terminate()
        self.thread.join(30)

    def python(self) -> str:
        waited = time.monotonic()
        self.thread.join(BUILD_TIMEOUT_S)
        if self.error or self.thread.is_alive():
            message = f"the {self.name} venv ({' '.join(self.pins)}) could not be built: {self.error or 'still building'}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        print(f"{self.name} venv: built in {self.seconds:.0f} s, waited {time.monotonic() - waited:.0f} s for it")
        return str(self.folder / "bin" / "python")


_venvs: dict[str, PeerVenv] = {}
_temporary: list[Path] = []


def pytest_collection_modifyitems(session, config, items):
    """Start the builds if a test here is selected, and run the tests here last."""
    ours = [item for item in items if HERE in Path(str(item.fspath)).parents]
    if not ours:
        return
    items[:] = [item for item in items if item not in ours] + ours
    kept = os.environ.get("MLOPS_MAGIC_PEER_VENVS")
    root = Path(kept or tempfile.mkdtemp(prefix="mlops-magic-peers-"))
    root.mkdir(parents=True, exist_ok=True)
    _temporary.extend([] if kept else [root])
    _venvs.update({name: PeerVenv(name, root) for name in PEERS})


def pytest_sessionfinish(session, exitstatus):
    for venv in _venvs.values():
        venv.stop()
    for root in _temporary:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def peer_python():
    """``peer_python("mlflow")``: the interpreter of that peer's venv, once it is built."""
    return lambda name: _venvs[name].python()
