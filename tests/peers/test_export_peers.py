"""PEERS: MLflow and MLServer, in their own venvs (see conftest.py), load what ``mm.export`` writes and answer
as our serving process does; MLflow's own client works against our server, and both servers answer the
same bad input with the same status.

These tests are slow (each peer is a few hundred MB, installed once per session in the background).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

import pytest
import requests

from mlops_magic import api
from mlops_magic.serving.ports import free_port

from ..serving_support import forest, session_with_store, train, wine_frames

pytestmark = pytest.mark.peers
ROWS = 20

MLFLOW_SIDE = """
import json, sys
import pandas as pd
import mlflow.pyfunc
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

folder, host, port, split = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
rows = pd.DataFrame(split["data"], columns=split["columns"])
loaded = mlflow.pyfunc.load_model(folder)
client = ScoringServerClient(host, port)
client.wait_server_ready(timeout=30)  # GET /ping
print(json.dumps({
    "schema": loaded.metadata.get_input_schema().input_names(),
    "loaded": loaded.predict(rows).tolist(),
    "client": client.invoke(rows).get_predictions(predictions_format="ndarray").tolist(),
}))
"""

MLSERVER_SIDE = """
import asyncio, json, sys
from mlserver.settings import ModelSettings, ModelParameters
from mlserver.types import InferenceRequest
from mlserver_sklearn import SKLearnModel

async def answers(mlserver_folder, kserve_folder, request):
    settings = {
        "mlserver": ModelSettings.parse_file(f"{mlserver_folder}/model-settings.json"),
        "kserve": ModelSettings(name="wine", implementation=SKLearnModel, parameters=ModelParameters(uri=kserve_folder, content_type="pd")),
    }
    out = {}
    for label, setting in settings.items():
        model = SKLearnModel(setting)
        await model.load()
        response = await model.predict(InferenceRequest.model_validate(request))
        out[label] = {o.name: o.data.root if hasattr(o.data, "root") else o.data for o in response.outputs}
        out[label + "_version"] = model.version
    return out

print(json.dumps(asyncio.run(answers(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))))
"""


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """Model ``wine`` v1 (a forest) served by us, and the rows both sides score."""
    with session_with_store(tmp_path_factory.mktemp("peers") / "store"):
        run, model = train(forest(20))
        api.promote(run.run_id, name="wine", alias="production")
        status = api.serve("wine@production", workers=1)
        rows = wine_frames()[1].drop(columns="target").head(ROWS)
        answer = requests.post(f"{status.url}/invocations", json={"dataframe_split": rows.to_dict("split")}, timeout=30).json()
        yield type("Ours", (), {"url": status.url, "rows": rows, "predictions": answer["predictions"], "expected": model.predict(rows).tolist()})
        api.stop("wine")


def venv_environment(python: str) -> dict[str, str]:
    """This environment with the venv's bin first on PATH (``mlflow models serve`` starts the ``uvicorn`` it finds there)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**environment, "PATH": os.pathsep.join([os.path.dirname(python), environment.get("PATH", "")])}


def peer(python: str, script: str, *args: str) -> dict:
    done = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, timeout=300, env=venv_environment(python))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mlflow_loads_and_serves_the_export_as_we_serve_it(ours, peer_python, tmp_path):
    python = peer_python("mlflow")
    assert ours.predictions == ours.expected
    api.export("wine@production", tmp_path / "mlflow", format="mlflow")
    host, port = ours.url.removeprefix("http://").split(":")
    mlflow_side = peer(python, MLFLOW_SIDE, str(tmp_path / "mlflow"), host, port, json.dumps(ours.rows.to_dict("split")))
    assert mlflow_side["schema"] == list(ours.rows.columns)  # the signature of the version's schema
    assert mlflow_side["loaded"] == ours.predictions  # mlflow.pyfunc.load_model
    assert mlflow_side["client"] == ours.predictions  # MLflow's ScoringServerClient against our server, /ping and all
    mlflow_port = free_port("127.0.0.1")
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(python), "mlflow"), "models", "serve", "-m", str(tmp_path / "mlflow"), "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=venv_environment(python),
    )  # fmt: skip
    theirs = f"http://127.0.0.1:{mlflow_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            try:
                if requests.get(f"{theirs}/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "mlflow models serve did not answer /ping within 120 s"
            time.sleep(0.5)
        answer = requests.post(f"{theirs}/invocations", json={"dataframe_split": ours.rows.to_dict("split")}, timeout=30)
        assert answer.json()["predictions"] == ours.predictions  # mlflow models serve
        record = ours.rows.head(1).to_dict("records")[0]
        bad = {
            "a missing column": ({"json": {"dataframe_records": [{k: v for k, v in record.items() if k != "alcohol"}]}}, 400),
            "text for a number": ({"json": {"dataframe_records": [dict(record, hue="pale")]}}, 400),
            "no payload form": ({"json": {"rows": [record]}}, 400),
            "malformed JSON": ({"data": b"{nope", "headers": {"Content-Type": "application/json"}}, 400),
            "a content type neither takes": ({"data": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        }
        for case, (request, status) in bad.items():
            theirs_status = requests.post(f"{theirs}/invocations", timeout=30, **request).status_code
            our_answer = requests.post(f"{ours.url}/invocations", timeout=30, **request)
            assert theirs_status == our_answer.status_code == status, case
            assert our_answer.json()["error"], case
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_mlservers_sklearn_runtime_loads_the_mlserver_and_kserve_exports(ours, peer_python, tmp_path):
    python = peer_python("mlserver")
    api.export("wine@production", tmp_path / "mlserver", format="mlserver")
    api.export("wine@production", tmp_path / "kserve", format="kserve")
    request = {"inputs": [{"name": c, "datatype": "FP64", "shape": [ROWS, 1], "data": ours.rows[c].tolist()} for c in ours.rows]}
    answers = peer(python, MLSERVER_SIDE, str(tmp_path / "mlserver"), str(tmp_path / "kserve"), json.dumps(request))
    our_answer = requests.post(f"{ours.url}/v2/models/wine/infer", json={**request, "parameters": {"content_type": "pd"}}, timeout=30).json()
    assert our_answer["outputs"][0]["name"] == "predict" and our_answer["outputs"][0]["data"] == ours.predictions
    assert answers["mlserver"]["predict"] == answers["kserve"]["predict"] == ours.predictions
    assert answers["mlserver_version"] == "1"
