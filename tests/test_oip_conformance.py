"""The Open Inference Protocol (V2) REST API of a real serving process, case by case against the specification.

Answers are validated with the specification's own schemas (``tests/fixtures/open-inference-protocol/
open_inference_rest.yaml``, from kserve/open-inference-protocol at d49cc23, Apache-2.0), and with what its
``inference_rest.md`` says in prose: parameter values are strings, numbers or booleans; a request's id is
returned; a failed request is an HTTP error whose body is ``{"error": ...}``. The model takes a text column
beside the wine measurements, so both BYTES and numeric tensors are exercised.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import requests
import yaml

from mlops_magic import api

from .serving_support import session_with_store, train, wine_frames

SPEC = yaml.safe_load((Path(__file__).parent / "fixtures" / "open-inference-protocol" / "open_inference_rest.yaml").read_text())
ROWS = 4


def conforms(answer: dict, component: str) -> None:
    """``answer`` is valid against the specification's ``component`` schema, and its parameters are scalars."""
    jsonschema.validate(answer, {"$ref": f"#/components/schemas/{component}", "components": SPEC["components"]})
    for parameters in [answer.get("parameters"), *(o.get("parameters") for o in answer.get("outputs", []))]:
        assert all(isinstance(v, (str, int, float)) for v in (parameters or {}).values()), parameters


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frames = tuple(f.assign(cellar=np.where(f["alcohol"] > 13, "north", "south")) for f in wine_frames())
    numeric = [c for c in frames[0].columns if c not in ("target", "cellar")]
    model = make_pipeline(make_column_transformer((StandardScaler(), numeric), (OneHotEncoder(), ["cellar"])), LogisticRegression(max_iter=500))
    with session_with_store(tmp_path_factory.mktemp("oip") / "store"):
        run, model = train(model, frames=frames)
        api.promote(run.run_id, name="wine", alias="production")
        status = api.serve("wine@production", workers=1)
        rows = frames[1].drop(columns="target").head(ROWS)
        with requests.Session() as session:
            yield type("Served", (), {"url": f"{status.url}/v2", "session": session, "rows": rows, "expected": model.predict(rows).tolist()})
        api.stop("wine")


def per_column(rows, **changes) -> list[dict]:
    """One tensor per column, with the datatypes the model's metadata declares; ``changes`` replace fields of a tensor (None drops one)."""
    tensors = []
    for column in rows:
        tensor = {"name": column, "shape": [len(rows)], "datatype": "BYTES" if column == "cellar" else "FP64", "data": rows[column].tolist(), **changes.get(column, {})}
        tensors.append({k: v for k, v in tensor.items() if v is not None})
    return tensors


def test_server_metadata_health_and_model_ready(served):
    get = lambda path: served.session.get(served.url + path)  # noqa: E731
    for path in ("", "/"):
        assert get(path).status_code == 200
        conforms(get(path).json(), "metadata_server_response")
    assert get("/health/live").json() == {"live": True}
    assert get("/health/ready").status_code == 200 and get("/health/ready").json()["live"] is True  # "$ready_server_response = {"live": $bool}"
    for path in ("/models/wine/ready", "/models/wine/versions/1/ready"):  # the second is the only ready path the schema lists
        assert get(path).json() == {"name": "wine", "ready": True}
    for path in ("/models/wine/versions/2/ready", "/models/other/ready", "/models/other/versions/1/ready"):
        assert get(path).status_code == 404
        conforms(get(path).json(), "metadata_model_error_response")


def test_model_metadata_declares_what_infer_takes_and_answers(served):
    for path in ("/models/wine", "/models/wine/versions/1"):
        metadata = served.session.get(served.url + path).json()
        conforms(metadata, "metadata_model_response")
        assert metadata["versions"] == ["1"] and [i["name"] for i in metadata["inputs"]] == list(served.rows.columns)
        tensors = [{"name": i["name"], "shape": [ROWS], "datatype": i["datatype"], "data": served.rows[i["name"]].tolist()} for i in metadata["inputs"]]
        answer = served.session.post(served.url + path + "/infer", json={"inputs": tensors}).json()
        conforms(answer, "inference_response")
        declared = [(o["name"], o["datatype"]) for o in metadata["outputs"]]
        assert [(o["name"], o["datatype"]) for o in answer["outputs"]] == declared == [("predict", "INT64"), ("ids", "BYTES")]
        assert answer["outputs"][0]["data"] == served.expected and answer["model_name"] == "wine" and answer["model_version"] == "1"
    for path in ("/models/wine/versions/2", "/models/other"):
        assert served.session.get(served.url + path).status_code == 404
        conforms(served.session.get(served.url + path).json(), "metadata_model_error_response")


def test_infer_echoes_the_id_and_answers_the_outputs_asked_for(served):
    answer = served.session.post(f"{served.url}/models/wine/infer", json={"id": "42", "inputs": per_column(served.rows), "outputs": [{"name": "ids"}]}).json()
    conforms(answer, "inference_response")
    assert answer["id"] == "42" and [o["name"] for o in answer["outputs"]] == ["ids"] and len(set(answer["outputs"][0]["data"])) == ROWS
    feedback = served.session.post(served.url.removesuffix("/v2") + "/feedback", json={"ids": answer["outputs"][0]["data"], "labels": [0] * ROWS})
    assert feedback.json() == {"recorded": ROWS}  # the ids tensor is what /feedback takes
    pandas = {"parameters": {"content_type": "pd"}, "inputs": [{**t, "shape": [float(ROWS), 1]} for t in per_column(served.rows)]}  # 4.0 is an integer in JSON
    answer = served.session.post(f"{served.url}/models/wine/infer", json=pandas).json()
    assert answer["outputs"][0]["data"] == served.expected and "id" not in answer


def test_numeric_columns_take_every_numeric_datatype(served):
    integral = served.rows.assign(magnesium=served.rows["magnesium"].astype(int))
    for datatype in ("INT64", "INT32", "UINT16", "FP32", "FP16"):
        answer = served.session.post(f"{served.url}/models/wine/infer", json={"inputs": per_column(integral, magnesium={"datatype": datatype})})
        assert answer.status_code == 200, (datatype, answer.text)


def test_the_binary_tensor_data_extension_both_ways(served):
    header = {"inputs": [], "outputs": [{"name": "predict", "parameters": {"binary_data": True}}, {"name": "ids"}]}
    chunks = []
    for column in served.rows:
        if column == "cellar":
            raw = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in served.rows[column])
        else:
            raw = served.rows[column].to_numpy("<f8").tobytes()
        header["inputs"].append({"name": column, "shape": [ROWS], "datatype": "BYTES" if column == "cellar" else "FP64", "parameters": {"binary_data_size": len(raw)}})
        chunks.append(raw)
    body = json.dumps(header).encode()
    answer = served.session.post(f"{served.url}/models/wine/infer", data=body + b"".join(chunks), headers={"Inference-Header-Content-Length": str(len(body))})
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["Inference-Header-Content-Length"])
    json_part = json.loads(answer.content[:length])
    predict, ids = json_part["outputs"]
    conforms({**json_part, "outputs": [ids]}, "inference_response")  # the extension leaves out the data of a binary output
    assert "data" not in predict and predict["parameters"]["binary_data_size"] == 8 * ROWS and len(ids["data"]) == ROWS
    assert np.frombuffer(answer.content[length:], "<i8").tolist() == served.expected
    short = served.session.post(f"{served.url}/models/wine/infer", data=body + b"".join(chunks)[:-3], headers={"Inference-Header-Content-Length": str(len(body))})
    assert short.status_code == 400 and "bytes of binary data" in short.json()["error"]


REFUSED = [  # (case, the request body's changes, words of the error)
    ("missing datatype", lambda r: {"inputs": per_column(r, alcohol={"datatype": None})}, "has no datatype"),
    ("a datatype that is not a string", lambda r: {"inputs": per_column(r, alcohol={"datatype": ["FP64"]})}, "datatype ['FP64']: give one of BOOL"),
    ("a datatype the protocol has not", lambda r: {"inputs": per_column(r, alcohol={"datatype": "FLOAT64"})}, "datatype 'FLOAT64': give one of BOOL"),
    ("FP64 for a text column", lambda r: {"inputs": per_column(r, cellar={"datatype": "FP64"})}, "is FP64: its data must be numbers"),
    ("BYTES for a text column, with numbers", lambda r: {"inputs": per_column(r, cellar={"data": [1, 2, 3, 4]})}, "is BYTES: its data must be strings"),
    ("BYTES for a numeric column", lambda r: {"inputs": per_column(r, alcohol={"datatype": "BYTES", "data": ["1"] * ROWS})}, "column 'alcohol' takes numbers"),
    ("INT64 data with fractions", lambda r: {"inputs": per_column(r, alcohol={"datatype": "INT64"})}, "its data must be integers"),
    ("UINT8 out of range", lambda r: {"inputs": per_column(r, magnesium={"datatype": "UINT8", "data": [300] * ROWS})}, "outside UINT8's range 0..255"),
    ("BOOL data that are numbers", lambda r: {"inputs": per_column(r, alcohol={"datatype": "BOOL"})}, "must be true or false"),
    ("data that do not fit the shape", lambda r: {"inputs": per_column(r, alcohol={"shape": [ROWS + 1]})}, "does not fit shape"),
    ("a negative dimension", lambda r: {"inputs": per_column(r, alcohol={"shape": [-1]})}, "non-negative integers"),
    ("a fractional dimension", lambda r: {"inputs": per_column(r, alcohol={"shape": [ROWS + 0.5]})}, "non-negative integers"),
    ("a list as a request parameter", lambda r: {"inputs": per_column(r), "parameters": {"ids": ["a"]}}, "strings, numbers or booleans"),
    ("an object as an input parameter", lambda r: {"inputs": per_column(r, alcohol={"parameters": {"x": {}}})}, "strings, numbers or booleans"),
    ("an output that does not exist", lambda r: {"inputs": per_column(r), "outputs": [{"name": "probabilities"}]}, "output 'probabilities' does not exist"),
    ("an output asked twice", lambda r: {"inputs": per_column(r), "outputs": [{"name": "ids"}, {"name": "ids"}]}, "requested twice"),
    ("an id that is not a string", lambda r: {"id": 42, "inputs": per_column(r)}, "send it as a string"),
    ("no inputs", lambda r: {"inputs": []}, "needs \"inputs\""),
    ("a content type not served", lambda r: {"inputs": per_column(r), "parameters": {"content_type": "json"}}, "content_type 'json' is not served"),
    ("np: one tensor for text and numbers", lambda r: {"inputs": [{"name": "x", "shape": [ROWS, 14], "datatype": "FP64", "data": [0.0] * ROWS * 14}]}, ("cannot hold column 'cellar'", "could not score this input")),  # pandas < 3 keeps text as object, which may hold numbers: the model refuses them
]


@pytest.mark.parametrize("case, body_of, words", REFUSED, ids=[c[0] for c in REFUSED])
def test_bad_requests_are_400_with_an_error_object(served, case, body_of, words):
    answer = served.session.post(f"{served.url}/models/wine/infer", json=body_of(served.rows))
    assert answer.status_code == 400 and any(w in answer.json()["error"] for w in ([words] if isinstance(words, str) else words)), answer.text
    conforms(answer.json(), "inference_error_response")
