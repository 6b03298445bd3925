"""The serving protocol against a real serving process: every payload form, V2, bad input, feedback, metrics."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import requests

from mlops_magic import api

from .serving_support import forest, invoke, logistic, session_with_store, train, wine_frames


@pytest.fixture(scope="module", params=[1, 2], ids=["1 worker", "2 workers"])
def served(request, tmp_path_factory):
    """Model ``wine`` v1 (a logistic pipeline, which cannot take NaN) served at production, by 1 or 2 workers."""
    with session_with_store(tmp_path_factory.mktemp("serving") / "store"):
        frames = wine_frames()
        run, model = train(logistic(), frames=frames)
        train(forest(), frames=frames)
        api.promote(run.run_id, name="wine", alias="production")
        status = api.serve("wine@production", workers=request.param)
        X = frames[1].drop(columns="target")
        with requests.Session() as session:
            yield type("Served", (), {"url": status.url, "model": model, "X": X, "y": frames[1]["target"], "session": session, "status": status})
        api.stop("wine")


def test_every_payload_form_predicts_like_the_model_in_process(served):
    rows = served.X.head(5)
    expected = served.model.predict(rows).tolist()
    split = rows.to_dict("split")
    forms = {
        "dataframe_split": {"dataframe_split": {"columns": split["columns"], "data": split["data"]}},
        "dataframe_split (with index)": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": rows.to_dict("records")},
        "instances (records)": {"instances": rows.to_dict("records")},
        "instances (rows)": {"instances": rows.to_numpy().tolist()},
        "inputs (columns)": {"inputs": rows.to_dict("list")},
    }
    ids = []
    for form, payload in forms.items():
        answer = invoke(served.session, served.url, payload)
        assert answer.status_code == 200, (form, answer.text)
        assert answer.json()["predictions"] == expected, form
        ids += answer.json()["ids"]
    csv = served.session.post(f"{served.url}/invocations", data=rows.to_csv(index=False), headers={"Content-Type": "text/csv"})
    assert csv.status_code == 200 and csv.json()["predictions"] == expected
    ids += csv.json()["ids"]
    assert len(set(ids)) == len(ids) == 5 * (len(forms) + 1)


def test_v2_infer_with_one_tensor_per_column_or_one_matrix(served):
    rows = served.X.head(4)
    expected = served.model.predict(rows).tolist()
    per_column = {"id": "abc", "inputs": [{"name": c, "shape": [4], "datatype": "FP64", "data": rows[c].tolist()} for c in rows]}
    answer = served.session.post(f"{served.url}/v2/models/wine/infer", json=per_column).json()
    assert answer["outputs"][0]["data"] == expected and answer["id"] == "abc" and answer["model_version"] == "1"
    assert answer["outputs"][0]["shape"] == [4] and answer["outputs"][1]["name"] == "ids" and len(answer["outputs"][1]["data"]) == 4
    matrix = {"inputs": [{"name": "input-0", "shape": [4, rows.shape[1]], "datatype": "FP64", "data": rows.to_numpy().ravel().tolist()}]}
    assert served.session.post(f"{served.url}/v2/models/wine/versions/1/infer", json=matrix).json()["outputs"][0]["data"] == expected
    assert served.session.post(f"{served.url}/v2/models/wine/versions/7/infer", json=matrix).status_code == 404
    assert served.session.post(f"{served.url}/v2/models/other/infer", json=matrix).status_code == 404


def test_tritonclient_speaks_to_the_v2_endpoint(served):
    """With its defaults (binary tensors both ways), with JSON tensors, and with a tensor per column."""
    httpclient = pytest.importorskip("tritonclient.http")
    rows = served.X.head(6).to_numpy(dtype=np.float64)
    expected = served.model.predict(served.X.head(6))
    client = httpclient.InferenceServerClient(url=served.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("wine") and client.is_model_ready("wine", "1")
    assert client.get_model_metadata("wine")["inputs"][0]["name"] == "alcohol"
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    tensor = httpclient.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)  # binary_data=True: raw bytes after the JSON header
    result = client.infer("wine", [tensor], request_id="r-1")  # no outputs named: every output, as raw bytes
    np.testing.assert_array_equal(result.as_numpy("predict"), expected)
    ids = result.as_numpy("ids")
    assert result.get_response()["id"] == "r-1" and len(ids) == 6 and all(isinstance(i, bytes) for i in ids)
    tensor.set_data_from_numpy(rows, binary_data=False)
    result = client.infer("wine", [tensor], outputs=[httpclient.InferRequestedOutput("predict", binary_data=False)])
    np.testing.assert_array_equal(result.as_numpy("predict"), expected)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["predict"]
    columns = []
    for i, column in enumerate(served.X.columns):
        columns.append(httpclient.InferInput(column, [6], "FP64"))
        columns[-1].set_data_from_numpy(rows[:, i], binary_data=i % 2 == 0)  # binary and JSON tensors in one request
    result = client.infer("wine", columns, model_version="1", parameters={"content_type": "pd"}, outputs=[httpclient.InferRequestedOutput("predict")])
    np.testing.assert_array_equal(result.as_numpy("predict"), expected)
    client.close()


def _record(served, **changes):
    record = served.X.head(1).to_dict("records")[0]
    record.update(changes)
    return record


BAD_REQUESTS = [
    ("missing column", lambda s: {"json": {"dataframe_records": [{k: v for k, v in _record(s).items() if k != "alcohol"}]}}, 400, "missing column 'alcohol'"),
    ("unknown column", lambda s: {"json": {"dataframe_records": [_record(s, colour=1.0)]}}, 400, "unknown column 'colour'"),
    ("wrong type", lambda s: {"json": {"dataframe_records": [_record(s, hue="pale")]}}, 400, "column 'hue' row 0 is 'pale'"),
    ("NaN the model cannot take", lambda s: {"json": {"dataframe_records": [_record(s, ash=None)]}}, 400, "column 'ash' has a missing value"),
    ("empty batch", lambda s: {"json": {"dataframe_records": []}}, 400, "empty batch"),
    ("empty CSV", lambda s: {"data": b"", "headers": {"Content-Type": "text/csv"}}, 400, "empty batch"),
    ("ragged rows", lambda s: {"json": {"instances": [[1.0, 2.0]]}}, 400, "row 0 has 2 values; the model takes 13"),
    ("no payload form", lambda s: {"json": {"rows": []}}, 400, "exactly one of dataframe_split"),
    ("malformed JSON", lambda s: {"data": b'{"dataframe_records": [', "headers": {"Content-Type": "application/json"}}, 400, "malformed JSON"),
    ("wrong content type", lambda s: {"data": b"alcohol=1", "headers": {"Content-Type": "text/plain"}}, 415, "'text/plain' is not supported"),
    ("oversize body", lambda s: {"data": b" " * (21 * 1024 * 1024), "headers": {"Content-Type": "application/json"}}, 413, "over the"),
]


@pytest.mark.parametrize("case, request_of, status, message", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_input_gets_a_4xx_that_names_the_problem_and_serving_goes_on(served, case, request_of, status, message):
    answer = served.session.post(f"{served.url}/invocations", **request_of(served))
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    good = invoke(served.session, served.url, {"dataframe_records": [_record(served)]})
    assert good.status_code == 200


def test_feedback_is_durable_when_answered_and_joined_to_the_log(served):
    rows = served.X.tail(8)
    ids = invoke(served.session, served.url, {"dataframe_records": rows.to_dict("records")}).json()["ids"]
    labels = served.y.tail(8).tolist()
    answer = served.session.post(f"{served.url}/feedback", json={"ids": ids, "labels": labels})
    assert answer.json() == {"recorded": 8}
    log = api.predictions("wine").set_index("prediction_id")
    assert log.loc[ids, "label"].tolist() == labels
    assert {type(v) for v in log.loc[ids, "label"]} == {int}  # as sent, not turned into floats
    assert log.loc[ids, "output"].tolist() == served.model.predict(rows).tolist()
    assert log.loc[ids, "inputs.alcohol"].tolist() == rows["alcohol"].tolist()
    assert (log.loc[ids, "version"] == 1).all() and (log.loc[ids, "variant"] == "production").all()
    # the answered class's probability, from the one predict_proba call that also gave the answer
    np.testing.assert_allclose(log.loc[ids, "confidence"].to_numpy(dtype=float), served.model.predict_proba(rows).max(axis=1))
    unknown = served.session.post(f"{served.url}/feedback", json={"ids": ["nope"], "labels": [1]})
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["error"]
    uneven = served.session.post(f"{served.url}/feedback", json={"ids": ids, "labels": [1]})
    assert uneven.status_code == 400 and "one label per id" in uneven.json()["error"]


def test_prediction_ids_sort_by_arrival_as_text(served):
    rows = served.X.sample(300, replace=True, random_state=0)  # more than 0xff rows: the counter crosses ff -> 100
    ids = invoke(served.session, served.url, {"dataframe_split": rows.to_dict("split")}).json()["ids"]
    assert len(set(ids)) == 300 and sorted(ids) == ids


def test_v2_metadata_states_the_datatype_infer_answers_with(store):
    """Versions answering int, text and bool classes, and a regressor's floats: metadata agrees with /infer."""
    from sklearn.linear_model import LinearRegression

    train_df, test_df = wine_frames()
    kinds = {  # expected V2 datatype: (model, target of the wine data)
        "INT64": (logistic(), lambda t: t),
        "BYTES": (logistic(), lambda t: t.map({0: "barolo", 1: "grignolino", 2: "barbera"})),
        "BOOL": (forest(), lambda t: t == 0),
        "FP64": (LinearRegression(), lambda t: t.astype(float) * 1.5),
    }
    for model, target in kinds.values():
        run, _ = train(model, frames=(train_df.assign(target=target(train_df["target"])), test_df.assign(target=target(test_df["target"]))))
        api.promote(run.run_id, name="kinds")
    status = api.serve("kinds", split="1=1,2=1,3=1,4=1", workers=1)
    rows = test_df.drop(columns="target").head(3)
    matrix = {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.to_numpy().ravel().tolist()}]}
    try:
        with requests.Session() as session:
            for version, expected in enumerate(kinds, 1):
                declared = session.get(f"{status.url}/v2/models/kinds/versions/{version}").json()["outputs"]
                answered = session.post(f"{status.url}/v2/models/kinds/versions/{version}/infer", json=matrix).json()["outputs"]
                assert declared == [{"name": "predict", "datatype": expected, "shape": [-1]}, {"name": "ids", "datatype": "BYTES", "shape": [-1]}], version
                assert [(o["name"], o["datatype"], o["shape"]) for o in answered] == [("predict", expected, [3]), ("ids", "BYTES", [3])], version
            assert session.get(f"{status.url}/v2/models/kinds").json()["outputs"][0]["datatype"] == "INT64"  # the first variant's
            assert session.get(f"{status.url}/v2/models/kinds/versions/9").status_code == 404
    finally:
        api.stop("kinds")


def test_service_endpoints_health_model_metrics_docs(served):
    get = lambda path: served.session.get(served.url + path)  # noqa: E731
    assert get("/health").json()["status"] == "alive"
    assert get("/ready").json() == {"ready": True, "versions": {"production": 1}}
    assert get("/version").json()["versions"] == {"production": 1}
    model = get("/model").json()
    assert model["input_schema"][0] == {"name": "alcohol", "dtype": "float64"} and len(model["input_schema"]) == 13
    assert model["accepts_nan"] is False and model["variants"][0]["version"] == 1 and model["shadow"] is None
    invoke(served.session, served.url, {"dataframe_records": [_record(served)]})
    metrics = get("/metrics").text
    assert 'mlops_requests_total{model="wine",status="200",version="1"}' in metrics
    assert "mlops_request_latency_seconds_bucket" in metrics
    for phase in ("preprocess", "predict", "postprocess"):  # the names KServe's model servers export, which its Grafana boards read
        count = re.search(rf'^request_{phase}_seconds_count\{{model_name="wine"\}} (\S+)$', metrics, re.M)
        assert count and float(count[1]) >= 1, phase
    assert get("/ping").json() == {"status": "ok"}
    assert get("/docs").status_code == 200 and "/invocations" in get("/openapi.json").json()["paths"]
    assert get("/v2/health/live").json() == {"live": True} and get("/v2/health/ready").status_code == 200
    assert get("/v2/models/wine").json()["versions"] == ["1"]
    assert get("/v2/models/other").status_code == 404


def test_the_serving_process_imports_no_notebook_libraries():
    code = (
        "import sys, mlops_magic.serving.__main__, mlops_magic.serving.app, mlops_magic.serving.models; "
        "print(sorted(m for m in ('IPython', 'ipywidgets', 'matplotlib') if m in sys.modules))"
    )
    assert json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.replace("'", '"')) == []


def test_a_slow_client_and_an_idle_connection_do_not_hold_up_other_requests(served):
    import socket
    import threading
    import time

    host, port = served.url.removeprefix("http://").split(":")
    idle = socket.create_connection((host, int(port)))  # opened, never used
    body = b"[1,2]"
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))

    def send_slowly():
        for byte in body:  # a byte a second
            slow.sendall(bytes([byte]))
            time.sleep(1.0)

    sender = threading.Thread(target=send_slowly)
    sender.start()
    latencies = []
    while sender.is_alive():
        with requests.Session() as session:  # fresh connections: with two workers, both take some
            started = time.perf_counter()
            assert invoke(session, served.url, {"dataframe_records": served.X.head(2).to_dict("records")}).status_code == 200
            latencies.append(time.perf_counter() - started)
        time.sleep(0.1)
    sender.join()
    answer = slow.recv(65536).decode()
    slow.close()
    idle.close()
    assert answer.startswith("HTTP/1.1 400") and '"error"' in answer  # the slow client is answered too, in JSON
    print(f"slow client: {len(latencies)} other requests served meanwhile, slowest {max(latencies) * 1000:.0f} ms")
    assert len(latencies) >= 10 and max(latencies) < 2.0
