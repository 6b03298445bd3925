"""Export a registered version into a folder other servers load: an MLflow Model, or the single model file
KServe's sklearn server and MLServer's sklearn runtime load.

Every one of these formats is a pickle, and loading a pickle runs code: an export says so, and refuses a
model made of types other than scikit-learn's, numpy's, scipy's and pandas' unless ``allow_custom``
(the store itself keeps models with skops, which loads only the types it recorded).
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError
from ..refs import parse_model_ref
from ..serving.models import input_schema, output_datatype, schema_for
from .mlmodel import write_mlflow_model
from .servers import write_kserve, write_mlserver

FORMATS = {"mlflow": write_mlflow_model, "kserve": write_kserve, "mlserver": write_mlserver}
PLAIN_MODULES = frozenset({"sklearn", "numpy", "scipy", "pandas", "builtins", "collections", "functools", "operator", "math", "datetime"})
PICKLE_NOTE = "the exported model is a pickle: loading it runs code, so load it only where you would run this store's code."


@dataclass(frozen=True)
class Exported:
    """A folder an export wrote: what it holds and for which server."""

    folder: Path
    format: str
    name: str
    version: int
    files: list[str]
    note: str = PICKLE_NOTE

    def __repr__(self) -> str:
        return f"<Exported {self.name}/{self.version} as {self.format} to {self.folder} ({', '.join(self.files)})>"


def custom_types(trusted_types: list[str]) -> list[str]:
    """The types a model needs beyond plain scikit-learn/numpy/scipy/pandas (skops recorded them at save)."""
    return [t for t in trusted_types if t.split(".", 1)[0] not in PLAIN_MODULES]


def export_version(store, ref: str, fmt: str, folder: str | Path, allow_custom: bool = False) -> Exported:
    """Write version ``ref`` (``name@alias``, ``name/N``, ``name``) of the store as ``fmt`` into the new folder ``folder``."""
    if fmt not in FORMATS:
        raise InvalidInputError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}: choose one.")
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidInputError(f"{folder} already exists and is not an empty folder: export into a new folder.")
    name, version, alias = parse_model_ref(ref)
    found = store.model_version(name, version=version, alias=alias)
    run = store.get_run(found.run_id)
    record = run.model_named(found.variable)
    custom = custom_types(record.trusted_types)
    if custom and not allow_custom:
        raise InvalidInputError(
            f"{name}/{found.version} needs {', '.join(custom)}, not plain scikit-learn/numpy/scipy/pandas: a pickle of it loads "
            "only where that code is importable and runs it. Export with --allow-custom if that is what you want."
        )
    model = store.artifacts.load_model(record.sha256, record.trusted_types)
    schema = schema_for(model, input_schema(run))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        files = FORMATS[fmt](folder, model, schema, output_datatype(model), name=name, version=found.version, trained_with=run.environment.get("packages", {}))
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:  # a half-written folder is not left behind
        for path in folder.iterdir():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise InvalidInputError(f"cannot export {name}/{found.version} to {folder}: {exc}") from None
    return Exported(folder, fmt, name, found.version, sorted(files))
