"""The single-file layout of KServe's sklearn server and MLServer's sklearn runtime: one ``model.joblib``
(the only model file in the folder, as KServe requires), plus ``model-settings.json`` for MLServer."""

from __future__ import annotations

import json
from pathlib import Path

import joblib

from ..serving.payloads import InputSchema

MODEL_FILE = "model.joblib"
_V2_INPUT_DATATYPES = {"bool": "BOOL", "int": "INT64", "uint": "UINT64", "float": "FP64"}


def v2_input_datatype(dtype: str) -> str:
    """The Open Inference datatype of a column of ``dtype`` (a pandas dtype name)."""
    return next((v2 for prefix, v2 in _V2_INPUT_DATATYPES.items() if dtype.lower().startswith(prefix)), "BYTES")


def write_kserve(folder: Path, model, schema: InputSchema, output: str, **_identity) -> list[str]:
    joblib.dump(model, folder / MODEL_FILE)
    return [MODEL_FILE]


def write_mlserver(folder: Path, model, schema: InputSchema, output: str, *, name: str, version: int, **_identity) -> list[str]:
    """``model.joblib`` and the ``model-settings.json`` naming MLServer's sklearn runtime, the version, and the
    input columns as named tensors decoded into a DataFrame (``content_type: pd``), so requests need not say so."""
    write_kserve(folder, model, schema, output)
    settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": f"./{MODEL_FILE}", "version": str(version), "content_type": "pd"},
        "inputs": [{"name": c, "datatype": v2_input_datatype(d), "shape": [-1, 1]} for c, d in schema.columns.items()],
        "outputs": [{"name": "predict", "datatype": output, "shape": [-1, 1]}],
    }
    (folder / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    return [MODEL_FILE, "model-settings.json"]
