"""An MLflow Model folder: ``MLmodel`` with the ``sklearn`` and ``python_function`` flavours and the input
signature of the version's schema, the pickled model, ``requirements.txt`` and ``python_env.yaml``.

``mlflow.pyfunc.load_model`` loads it and ``mlflow models serve`` serves it; the requirements pin the
scikit-learn that pickled it (a pickle loads reliably only with the same scikit-learn).
"""

from __future__ import annotations

import datetime
import json
import pickle
import platform
import uuid
from importlib import metadata
from pathlib import Path

from ..serving.payloads import InputSchema

MODEL_FILE = "model.pkl"
_MLFLOW_TYPES = {"bool": "boolean", "int8": "integer", "int16": "integer", "int32": "integer", "int64": "long", "uint": "long", "float32": "float", "float64": "double"}
_OUTPUT_TENSORS = {"INT64": "int64", "FP64": "float64", "BOOL": "bool"}  # the numpy dtype of predict's answers


def mlflow_type(dtype: str) -> str:
    """MLflow's column type for a pandas dtype name (text, categories and objects are strings)."""
    dtype = dtype.lower()
    return _MLFLOW_TYPES.get(dtype) or next((t for prefix, t in _MLFLOW_TYPES.items() if dtype.startswith(prefix)), "string")


def signature(schema: InputSchema, output: str) -> dict[str, str]:
    """MLflow's signature block (its specs are JSON text inside the YAML): a column spec per input, and the
    answers as MLflow records a numpy array of them (a tensor spec; a column of strings for text classes)."""
    inputs = [{"type": mlflow_type(dtype), "name": column, "required": True} for column, dtype in schema.columns.items()]
    answers = {"type": "tensor", "tensor-spec": {"dtype": _OUTPUT_TENSORS[output], "shape": [-1]}} if output in _OUTPUT_TENSORS else {"type": "string", "required": True}
    return {"inputs": json.dumps(inputs), "outputs": json.dumps([answers]), "params": None}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def requirements() -> list[str]:
    """What loading the pickle needs: MLflow, and the scikit-learn, numpy and scipy that wrote it (numpy, scipy to their major)."""
    sklearn = _version("scikit-learn")
    majors = [f"{d}>={v.split('.')[0]},<{int(v.split('.')[0]) + 1}" for d in ("numpy", "scipy") if (v := _version(d))]
    return ["mlflow", f"scikit-learn=={sklearn}", *majors, "pandas"]


def yaml_lines(value, indent: int = 0) -> list[str]:
    """A mapping as block YAML; scalars as JSON (valid YAML, quoted where needed)."""
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines += [" " * indent + f"{key}:", *yaml_lines(item, indent + 2)]
        elif isinstance(item, list):
            lines += [" " * indent + f"{key}:", *(" " * indent + f"- {json.dumps(i)}" for i in item)]
        else:
            lines.append(" " * indent + f"{key}: {'null' if item is None else json.dumps(item)}")
    return lines


def write_mlflow_model(folder: Path, model, schema: InputSchema, output: str, *, trained_with: dict[str, str], **_identity) -> list[str]:
    with open(folder / MODEL_FILE, "wb") as out:
        pickle.dump(model, out, protocol=pickle.DEFAULT_PROTOCOL)
    python = platform.python_version()
    sklearn = _version("scikit-learn")
    mlmodel = {
        "flavors": {
            "python_function": {
                "env": {"virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": MODEL_FILE,
                "predict_fn": "predict",
                "python_version": python,
            },
            "sklearn": {"code": None, "pickled_model": MODEL_FILE, "serialization_format": "pickle", "sklearn_version": sklearn},
        },
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "signature": signature(schema, output),
    }
    if trained_with.get("scikit-learn") not in (None, sklearn):
        mlmodel["metadata"] = {"trained_with_scikit_learn": trained_with["scikit-learn"]}
    (folder / "MLmodel").write_text("\n".join(yaml_lines(mlmodel)) + "\n")
    (folder / "requirements.txt").write_text("\n".join(requirements()) + "\n")
    build = {"python": python, "build_dependencies": [f"{d}=={v}" if (v := _version(d)) else d for d in ("pip", "setuptools", "wheel")], "dependencies": ["-r requirements.txt"]}
    (folder / "python_env.yaml").write_text("\n".join(yaml_lines(build)) + "\n")
    return [MODEL_FILE, "MLmodel", "requirements.txt", "python_env.yaml"]
