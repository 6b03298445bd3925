"""The tutorials for a pip user: the numbered notebooks, copied out of the package into a folder to open.

The wheel ships ``notebooks/0*.ipynb`` as ``mlops_magic/notebooks/`` (setup.py); a source checkout has
them in ``notebooks/``. The folder keeps a record of what was copied (``RECORD``), so a notebook left as
it was copied is refreshed by the next copy, and one the user changed is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import MLOpsError

DEFAULT_FOLDER = "mlops-magic-tutorials"
RECORD = ".mlops-magic-tutorials.json"  # {name: sha256 of the copy}
_PACKAGE = Path(__file__).resolve().parent


def shipped() -> list[Path]:
    """The tutorials, in order: the package's own copies, else a source checkout's."""
    for folder in (_PACKAGE / "notebooks", _PACKAGE.parent / "notebooks"):
        notebooks = sorted(folder.glob("0*.ipynb"))
        if notebooks:
            return notebooks
    raise MLOpsError(f"no tutorials in {_PACKAGE}: this installation of mlops_magic is incomplete; reinstall it (pip install --force-reinstall mlops_magic).")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_tutorials(folder: str | Path = DEFAULT_FOLDER) -> tuple[list[Path], list[Path]]:
    """Copy the tutorials into ``folder``; return (the files written or already up to date, the files kept).

    A file is kept, not overwritten, when it differs from both this version's tutorial and what was last copied there.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / RECORD
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    copied, kept = [], []
    for source in shipped():
        target, data = folder / source.name, source.read_bytes()
        if target.exists():
            present = _digest(target.read_bytes())
            if present not in (_digest(data), record.get(source.name)):
                kept.append(target)
                continue
        target.write_bytes(data)
        record[source.name] = _digest(data)
        copied.append(target)
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return copied, kept
