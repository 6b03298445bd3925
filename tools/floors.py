"""Print a pip constraints file that pins every dependency of ``pyproject.toml`` to its floor.

    python tools/floors.py > floors.txt && pip install -c floors.txt ".[test]"     # Python 3.11+ (tomllib)

Each ``NAME>=X`` of ``[project] dependencies`` and of the ``test`` extra becomes ``NAME==X``, so the
suite runs on the oldest versions the package promises to work with (``.ci/run`` does that).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def floors(pyproject: Path = PYPROJECT) -> list[str]:
    """``NAME==X`` for each requirement with a ``>=X`` floor, in the order ``pyproject.toml`` lists them."""
    project = tomllib.loads(pyproject.read_text())["project"]
    pins = []
    for line in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(line)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if lower:
            pins.append(f"{requirement.name}=={lower[0]}")
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", nargs="?", type=Path, default=PYPROJECT)
    args = parser.parse_args(argv)
    sys.stdout.write("".join(pin + "\n" for pin in floors(args.pyproject)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
