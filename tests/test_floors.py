"""``tools/floors.py``: the constraints ``.ci/run`` installs for its second run are the floors ``pyproject.toml`` declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def floors(pyproject: Path) -> list[str]:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "floors.py"), str(pyproject)], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.splitlines()


def test_every_floor_of_the_dependencies_and_the_test_extra_is_pinned_and_follows_pyproject(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = floors(ROOT / "pyproject.toml")
    assert len(pins) == len(declared) and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9.]*", pin) for pin in pins)  # no extras in a constraint
    assert [pin.split("==")[0] for pin in pins] == [re.match(r"[A-Za-z0-9_.-]+", line).group() for line in declared]

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(re.sub(r'"scikit-learn>=[^"]+"', '"scikit-learn>=1.4.2"', (ROOT / "pyproject.toml").read_text()))
    raised = floors(pyproject)
    assert [pin for pin in raised if pin.startswith("scikit-learn==")] == ["scikit-learn==1.4.2"]
    assert [pin for pin in raised if not pin.startswith("scikit-learn==")] == [pin for pin in pins if not pin.startswith("scikit-learn==")]
