"""Export of a registered version to the folders other servers load: what each folder holds, the pickle gate.

That MLflow and MLServer really load and serve them is in tests/peers/test_export_peers.py.
"""

from __future__ import annotations

import json
import pickle

import joblib
import numpy as np
import pytest
import sklearn
import yaml
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from mlops_magic import api
from mlops_magic.errors import InvalidInputError

from .serving_support import forest, train, wine_frames


def halve(X):
    """A function of this module: a model using it needs this module to load."""
    return X / 2


@pytest.fixture
def wine(store):
    run, model = train(forest(5))
    api.promote(run.run_id, name="wine", alias="production")
    return model, wine_frames()[1].drop(columns="target").head(10)


def test_the_mlflow_folder_holds_the_flavours_the_signature_and_the_environment(wine, tmp_path):
    model, rows = wine
    exported = api.export("wine@production", tmp_path / "mlflow", format="mlflow")
    assert exported.files == ["MLmodel", "model.pkl", "python_env.yaml", "requirements.txt"] and exported.version == 1
    mlmodel = yaml.safe_load((tmp_path / "mlflow" / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"] == {"code": None, "pickled_model": "model.pkl", "serialization_format": "pickle", "sklearn_version": sklearn.__version__}
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.sklearn" and pyfunc["model_path"] == "model.pkl" and pyfunc["env"] == {"virtualenv": "python_env.yaml"}
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [c["name"] for c in inputs] == list(rows.columns) and {c["type"] for c in inputs} == {"double"} and all(c["required"] for c in inputs)
    assert json.loads(mlmodel["signature"]["outputs"]) == [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]
    requirements = (tmp_path / "mlflow" / "requirements.txt").read_text().split()
    assert f"scikit-learn=={sklearn.__version__}" in requirements and "mlflow" in requirements
    assert yaml.safe_load((tmp_path / "mlflow" / "python_env.yaml").read_text())["dependencies"] == ["-r requirements.txt"]
    with open(tmp_path / "mlflow" / "model.pkl", "rb") as pickled:
        np.testing.assert_array_equal(pickle.load(pickled).predict(rows), model.predict(rows))


def test_kserve_gets_exactly_one_model_file_and_mlserver_its_settings_too(wine, tmp_path):
    model, rows = wine
    api.export("wine/1", tmp_path / "kserve", format="kserve")
    assert [p.name for p in (tmp_path / "kserve").iterdir()] == ["model.joblib"]
    np.testing.assert_array_equal(joblib.load(tmp_path / "kserve" / "model.joblib").predict(rows), model.predict(rows))
    api.export("wine", tmp_path / "mlserver", format="mlserver")
    settings = json.loads((tmp_path / "mlserver" / "model-settings.json").read_text())
    assert settings["implementation"] == "mlserver_sklearn.SKLearnModel"
    assert settings["parameters"] == {"uri": "./model.joblib", "version": "1", "content_type": "pd"}
    assert [(i["name"], i["datatype"]) for i in settings["inputs"]] == [(c, "FP64") for c in rows.columns]
    assert settings["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1, 1]}]


def test_a_model_of_custom_types_is_refused_unless_allowed(store, tmp_path):
    run, model = train(make_pipeline(FunctionTransformer(halve), forest(5)))
    api.promote(run.run_id, name="custom")
    with pytest.raises(InvalidInputError, match=r"custom/1 needs tests\.test_export\.halve, not plain scikit-learn.*--allow-custom"):
        api.export("custom", tmp_path / "refused", format="kserve")
    assert not (tmp_path / "refused").exists()
    exported = api.export("custom", tmp_path / "allowed", format="kserve", allow_custom=True)
    assert "loading it runs code" in exported.note
    rows = wine_frames()[1].drop(columns="target").head(3)
    np.testing.assert_array_equal(joblib.load(tmp_path / "allowed" / "model.joblib").predict(rows), model.predict(rows))


def test_an_export_never_writes_over_a_folder_or_takes_an_unknown_format(wine, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="already exists and is not an empty folder"):
        api.export("wine@production", tmp_path / "taken")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    with pytest.raises(InvalidInputError, match="--format 'onnx' is not one of mlflow, kserve, mlserver"):
        api.export("wine@production", tmp_path / "new", format="onnx")
    (tmp_path / "empty").mkdir()
    assert api.export("wine@production", tmp_path / "empty", format="kserve").files == ["model.joblib"]


def test_the_command_and_the_magic_say_it_is_a_pickle(wine, tmp_path, ip, capsys):
    from mlops_magic.cli import main

    assert main(["export", "wine@production", str(tmp_path / "cli"), "--format", "mlserver"]) == 0
    said = capsys.readouterr()
    assert "as mlserver to" in said.out and "note: the exported model is a pickle: loading it runs code" in said.out
    assert main(["export", "wine@nope", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "x").exists()
    exported = ip.run_line_magic("mlops_export", f"wine@production {tmp_path / 'magic'} --format kserve")
    assert exported.files == ["model.joblib"] and "note: the exported model is a pickle" in capsys.readouterr().out
