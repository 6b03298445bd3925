"""The bearer token of a serving process: required beyond loopback, 401 without it, health checks open."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from mlops_magic import api
from mlops_magic.errors import ServingError
from mlops_magic.serving.security import is_loopback

from .serving_support import logistic, session_with_store, train

TOKEN = "s3cret-token"
GUARDED = [("get", "/model"), ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/docs"), ("get", "/v2/models/wine"), ("post", "/invocations"), ("post", "/v2/models/wine/infer")]
OPEN = ["/ping", "/health", "/ready", "/v2/health/live", "/v2/health/ready"]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    with session_with_store(tmp_path_factory.mktemp("security") / "store"):
        run, model = train(logistic())
        api.promote(run.run_id, name="wine", alias="production")
        status = api.serve("wine@production", workers=1, token=TOKEN)
        yield status
        api.stop("wine")


def test_without_the_token_every_path_but_the_health_checks_is_401(guarded):
    assert guarded.status == "running" and guarded.versions == {"production": 1}  # the kernel that started it read /model with the token
    with requests.Session() as session:
        for method, path in GUARDED:
            for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                answer = session.request(method, guarded.url + path, headers=headers, json={"dataframe_records": []})
                assert answer.status_code == 401, (path, headers)
                assert answer.headers["www-authenticate"] == "Bearer" and "Authorization: Bearer" in answer.json()["error"]
        for path in OPEN:
            assert session.get(guarded.url + path).status_code == 200, path
        authorised = {"Authorization": f"Bearer {TOKEN}"}
        record = dict.fromkeys((c["name"] for c in guarded.schema), 1.0)
        answer = session.post(f"{guarded.url}/invocations", json={"dataframe_records": [record]}, headers=authorised)
        assert answer.status_code == 200 and len(answer.json()["ids"]) == 1
        document = session.get(f"{guarded.url}/openapi.json", headers=authorised).json()
        assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
        assert "401" in document["paths"]["/invocations"]["post"]["responses"] and "401" not in document["paths"]["/ping"]["get"]["responses"]


def test_a_kernel_without_the_token_sees_it_running_but_not_what_it_serves(guarded, monkeypatch):
    monkeypatch.delenv("MLOPS_MAGIC_TOKEN", raising=False)
    (status,) = api.deployments("wine")
    assert status.status == "running" and status.versions == {}
    monkeypatch.setenv("MLOPS_MAGIC_TOKEN", TOKEN)
    assert api.deployments("wine")[0].versions == {"production": 1}


def test_beyond_loopback_serving_refuses_to_start_without_a_token(store, monkeypatch):
    monkeypatch.delenv("MLOPS_MAGIC_TOKEN", raising=False)
    run, _ = train(logistic())
    api.promote(run.run_id, name="wine", alias="production")
    with pytest.raises(ServingError, match="serving on 0.0.0.0 reaches beyond this machine and needs a token: pass --token"):
        api.serve("wine@production", host="0.0.0.0")
    with pytest.raises(ServingError, match="an empty token"):
        api.serve("wine@production", token=" ")
    assert api.deployments() == []  # nothing was started
    target = json.dumps({"name": "wine", "variants": [{"label": "production", "alias": "production", "weight": 1}]})
    direct = subprocess.run(
        [sys.executable, "-m", "mlops_magic.serving", "--store", store.url, "--target", target, "--host", "0.0.0.0", "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert direct.returncode == 3 and "needs a token" in direct.stderr  # the serving process itself refuses, before it binds


def test_loopback_is_told_from_the_rest():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.4", "example.org"))
