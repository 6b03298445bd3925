"""What the working folder shows: a git repository with commits, tests, and a CI configuration that runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

# Where CI services read their configuration, relative to the repository's root.
CI_FILES = (
    ".github/workflows/*.yml",
    ".github/workflows/*.yaml",
    ".gitlab-ci.yml",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".circleci/config.yml",
    "bitbucket-pipelines.yml",
    ".buildkite/pipeline.yml",
)
SKIPPED = {".git", ".mlops", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages", ".ipynb_checkpoints", ".tox"}
MAX_DEPTH, MAX_ENTRIES = 4, 20_000  # a bounded walk: a home folder must not take seconds
TEST_WORDS = ("pytest", "unittest", "nbval", "tox", "make test", "npm test", "ci/pipeline.sh")
PIPELINE_WORDS = ("mlops-magic promote", "ci/pipeline.sh")


def git_facts(folder: Path) -> dict[str, Any] | None:
    """The repository holding ``folder``: its root and number of commits; None outside one."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)

    try:
        root = git("rev-parse", "--show-toplevel")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if root.returncode != 0:
        return None
    count = git("rev-list", "--count", "HEAD")
    return {"root": root.stdout.strip(), "commits": int(count.stdout.strip()) if count.returncode == 0 else 0}


def test_files(folder: Path) -> list[str]:
    """Test modules and test notebooks' folders under ``folder`` (``test_*.py``, ``*_test.py``), relative paths."""
    found, seen = [], 0
    for root, dirs, files in os.walk(folder):
        depth = len(Path(root).relative_to(folder).parts)
        dirs[:] = [] if depth >= MAX_DEPTH else [d for d in dirs if d not in SKIPPED and not d.startswith(".")]
        seen += len(files) + len(dirs)
        found += [str(Path(root, f).relative_to(folder)) for f in files if f.endswith(".py") and (f.startswith("test_") or f.endswith("_test.py"))]
        if seen > MAX_ENTRIES:
            break
    return sorted(found)


def ci_files(root: Path) -> list[dict[str, Any]]:
    """The CI configurations of the repository at ``root``: path, whether it runs tests, whether it promotes."""
    found = []
    for pattern in CI_FILES:
        for path in sorted(root.glob(pattern)):
            text = path.read_text(errors="replace")
            found.append(
                {
                    "path": str(path.relative_to(root)),
                    "runs_tests": any(word in text for word in TEST_WORDS),
                    "runs_pipeline": any(word in text for word in PIPELINE_WORDS),
                }
            )
    return found


def folder_evidence(path: str | os.PathLike) -> dict[str, Any]:
    folder = Path(path).resolve()
    git = git_facts(folder) if folder.is_dir() else None
    root = Path(git["root"]) if git else folder
    return {"path": str(folder), "git": git, "tests": test_files(folder) if folder.is_dir() else [], "ci": ci_files(root) if root.is_dir() else []}
