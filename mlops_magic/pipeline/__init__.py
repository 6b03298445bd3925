"""``mlops-magic ci init``: from notebook to pipeline. Writes into a repository the release pipeline
MLOps level 3 asks for, as plain commands of the CLI: ``ci/pipeline.sh`` (tests, training, gated
promotion, monitor check, maturity check) and, for a CI service, the workflow that runs it.

The templates in ``templates/`` are commented for the user who reads them in their repository;
``{{name}}`` marks what is filled in.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import InvalidInputError

TEMPLATES = Path(__file__).parent / "templates"
PROVIDERS = {"github": ".github/workflows/mlops-release.yml", "gitlab": ".gitlab-ci.yml", "script": None}
SCRIPT = "ci/pipeline.sh"
DEFAULT_TESTS = "python -m pytest -q"


@dataclass
class Pipeline:
    """What ``ci init`` wrote: the files (relative to the repository) and how to run it."""

    root: str
    files: list[str]
    provider: str

    def summary(self) -> str:
        where = {"github": "GitHub Actions runs it on every push", "gitlab": "GitLab CI runs it on the default branch", "script": "run it from any CI service"}[self.provider]
        return f"wrote {', '.join(self.files)} in {self.root}: {where}; try it here with `bash {SCRIPT}`"

    def __repr__(self) -> str:
        return self.summary()


def _fill(template: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def train_step(recipe: str | None, script: str | None) -> tuple[str, str]:
    """The shell lines that train and set ``run_id``, and what they do in words."""
    if script:
        step = f"python {shlex.quote(script)}\nrun_id=best  # the best run of $EXPERIMENT, which {script} tracked"
        return step, f"run {script}, which tracks its runs in experiment $EXPERIMENT; the best one is promoted"
    ref = recipe or "$MODEL@production"
    step = f'RECIPE="${{RECIPE:-{ref}}}"\nrun_id=$(mlops-magic replay "$RECIPE" --quiet)'
    return step, f"replay the recorded recipe of {ref} (the cell that trained it, on its data snapshot) as a new run"


def write_pipeline(
    root: str | os.PathLike,
    model: str,
    experiment: str,
    provider: str = "github",
    require: str = "",
    min_level: int = 3,
    tests: str = DEFAULT_TESTS,
    script: str | None = None,
    recipe: str | None = None,
    force: bool = False,
) -> Pipeline:
    """Write ``ci/pipeline.sh`` (and the ``provider``'s workflow) under ``root``; refuse to overwrite a
    file unless ``force``."""
    if provider not in PROVIDERS:
        raise InvalidInputError(f"--provider {provider!r} is not one of {', '.join(PROVIDERS)}.")
    if not 0 <= min_level <= 4:
        raise InvalidInputError(f"--min-level {min_level} is not a level: choose 0 to 4.")
    root = Path(root).resolve()
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder: give the repository's folder.")
    train, train_comment = train_step(recipe, script)
    values = {
        "model": model,
        "experiment": experiment,
        "require": require,
        "min_level": str(min_level),
        "tests": tests,
        "train_step": train,
        "train_comment": train_comment,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "version": __version__,
    }
    files = {SCRIPT: _fill("pipeline.sh", values)}
    if PROVIDERS[provider]:
        files[PROVIDERS[provider]] = _fill(f"{provider}.yml" if provider == "github" else "gitlab-ci.yml", values)
    existing = [name for name in files if (root / name).exists() and (root / name).read_text() != files[name]]
    if existing and not force:
        raise InvalidInputError(f"{root / existing[0]} exists and differs: move it away, or pass --force to overwrite it.")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    script_path = root / SCRIPT
    script_path.chmod(script_path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return Pipeline(str(root), list(files), provider)
