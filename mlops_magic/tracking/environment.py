"""Where a run happened: Python, platform, versions of the imported packages, git state.

Captured in a background thread while the cell runs, so it adds nothing to the cell's time.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import threading
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

ALWAYS = ("scikit-learn", "numpy", "pandas", "scipy", "skops", "mlops_magic")


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def package_versions() -> dict[str, str]:
    """Versions of the distributions behind every imported top-level module (stdlib excluded)."""
    names = set(ALWAYS)
    top_level = {name.split(".")[0] for name in list(sys.modules)}
    distributions = _distributions()
    for module in top_level - set(sys.stdlib_module_names):
        names.update(distributions.get(module, ()))
    versions = {name: _version(name) for name in sorted(names)}
    return {name: version for name, version in versions.items() if version is not None}


@cache
def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def git_state(folder: str | Path = ".") -> dict[str, Any] | None:
    """Commit, branch and dirty flag of the git repository holding ``folder``; None outside one."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=5, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "branch": branch, "dirty": dirty}


def capture_environment() -> dict[str, Any]:
    """Python, platform and git state (package versions come at the end of the cell)."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "git": git_state(),
    }


class EnvironmentCapture:
    """Starts ``capture_environment`` in a thread; ``result()`` waits for it and adds package versions."""

    def __init__(self):
        self._result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="mlops-environment", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = capture_environment()
        except Exception as exc:  # never let provenance break tracking
            self._result = {"error": f"{type(exc).__name__}: {exc}"}

    def result(self) -> dict[str, Any]:
        self._thread.join()
        # Packages imported by the cell itself are only in sys.modules now.
        return {**self._result, "packages": package_versions()}
