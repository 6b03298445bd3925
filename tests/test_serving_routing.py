"""Routing in a real serving process: A/B weights, shadow scoring, and hot swap when an alias moves."""

from __future__ import annotations

import collections
import json
import threading
import time

import numpy as np
import pytest
import requests
from sqlalchemy import bindparam, text

from mlops_magic import api

from .serving_support import forest, invoke, logistic, session_with_store, train, wine_frames


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """``wine`` v1 (logistic) at production and v2 (forest) at staging; run ids and models to compare with."""
    with session_with_store(tmp_path_factory.mktemp("routing") / "store"):
        frames = wine_frames()
        weak, weak_model = train(logistic(C=0.01), frames=frames)
        strong, strong_model = train(forest(), frames=frames)
        api.promote(weak.run_id, name="wine", alias="production")
        api.promote(strong.run_id, name="wine", alias="staging")
        X = frames[1].drop(columns="target")
        yield type("Registry", (), {"weak": weak_model, "strong": strong_model, "strong_run": strong, "X": X})


def test_ab_split_follows_the_weights_and_records_the_variant(registry):
    status = api.serve("wine", split="production=90,staging=10")
    record = {"dataframe_records": registry.X.head(1).to_dict("records")}
    seen = collections.Counter()
    try:
        with requests.Session() as session:
            for i in range(1000):
                answer = invoke(session, status.url, record, **{"X-Request-ID": f"request-{i}"})
                assert answer.status_code == 200
                seen[answer.headers["x-variant"]] += 1
            again = {invoke(session, status.url, record, **{"X-Request-ID": "request-7"}).headers["x-variant"] for _ in range(5)}
    finally:
        api.stop("wine")
    assert 870 <= seen["production"] <= 930 and seen["production"] + seen["staging"] == 1000
    assert len(again) == 1  # one request id always lands on the same variant
    log = api.predictions("wine")
    assert log["variant"].value_counts().to_dict() == {"production": seen["production"] + 5 * ("production" in again), "staging": seen["staging"] + 5 * ("staging" in again)}
    assert set(log.loc[log["variant"] == "staging", "version"]) == {2}


def stored_rows(ids: list[str]) -> dict[str, tuple]:
    """``(label, confidence, shadow)`` of each of ``ids`` as the store holds them (SQL, no DataFrame on the way)."""
    with api.get_store().db.reading() as conn:
        rows = conn.execute(
            text("SELECT prediction_id, label, confidence, shadow FROM predictions WHERE prediction_id IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": ids},
        ).all()
    return {pid: (None if label is None else json.loads(label), confidence, bool(shadow)) for pid, label, confidence, shadow in rows}


def test_shadow_scores_the_challenger_but_answers_with_the_champion(registry):
    rows = registry.X.head(20)
    status = api.serve("wine@production", shadow="staging")
    try:
        with requests.Session() as session:
            answer = invoke(session, status.url, {"dataframe_records": rows.to_dict("records")}).json()
            labels = [int(v) for v in registry.strong.predict(rows)]
            assert session.post(f"{status.url}/feedback", json={"ids": answer["ids"], "labels": labels}).json() == {"recorded": 20}
    finally:
        api.stop("wine")
    assert answer["predictions"] == registry.weak.predict(rows).tolist()
    log = api.predictions("wine").set_index("prediction_id")
    shadow_ids = [f"{i}.s" for i in answer["ids"]]
    shadow = log.loc[shadow_ids]
    assert shadow["shadow"].all() and (shadow["version"] == 2).all() and (shadow["variant"] == "staging").all()
    assert shadow["output"].tolist() == registry.strong.predict(rows).tolist()
    stored = stored_rows([*answer["ids"], *shadow_ids])
    assert [stored[i][0] for i in shadow_ids] == labels  # the store labels the shadow rows too
    assert [stored[i][0] for i in answer["ids"]] == labels and not any(stored[i][2] for i in answer["ids"])
    # each row carries the confidence of the model that made it: the champion's, and the shadow's own
    np.testing.assert_allclose([stored[i][1] for i in answer["ids"]], registry.weak.predict_proba(rows).max(axis=1))
    np.testing.assert_allclose([stored[i][1] for i in shadow_ids], registry.strong.predict_proba(rows).max(axis=1))


def test_feedback_before_the_shadow_row_is_written_labels_it_when_it_comes(store):
    row = {"time": 1.0, "model": "m", "version": 1, "variant": "production", "inputs": {"a": 1.0}, "output": 1, "latency_ms": 1.0}
    store.log_predictions([{**row, "prediction_id": "p-1", "shadow": False}])
    store.log_feedback(["p-1"], [0])
    store.log_predictions([{**row, "prediction_id": "p-1.s", "shadow": True, "version": 2, "confidence": 0.5}])
    assert stored_rows(["p-1", "p-1.s"]) == {"p-1": (0, None, False), "p-1.s": (0, 0.5, True)}


def test_an_alias_move_swaps_the_version_without_dropping_a_request(registry):
    status = api.serve("wine@production")
    since = time.time()
    record = {"dataframe_records": registry.X.head(2).to_dict("records")}
    outcomes: list[tuple[int, str]] = []
    errors: list[Exception] = []
    done = threading.Event()

    def stream():
        with requests.Session() as session:
            while not done.is_set():
                try:
                    answer = invoke(session, status.url, record)
                    outcomes.append((answer.status_code, answer.headers.get("x-model-version")))
                except requests.RequestException as exc:
                    errors.append(exc)

    clients = [threading.Thread(target=stream) for _ in range(2)]
    try:
        for client in clients:
            client.start()
        time.sleep(0.5)
        api.promote(registry.strong_run.run_id, name="wine", alias="production")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not outcomes or outcomes[-1][1] != "2"):
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        done.set()
        for client in clients:
            client.join()
        api.stop("wine")
    assert errors == [] and {code for code, _ in outcomes} == {200}
    versions = [v for _, v in outcomes]
    assert versions[0] == "1" and versions[-1] == "2"
    logged = api.predictions("wine", since=since, include_shadow=False)
    assert len(logged) == 2 * len(outcomes)  # every answered row is in the log, none twice
    assert logged["version"].value_counts().to_dict() == {1: 2 * versions.count("1"), 2: 2 * versions.count("2")}


def test_the_shadow_queue_is_bounded_and_close_scores_everything_it_holds():
    """A shadow model slower than the traffic: requests beyond the bound are skipped (counted), the queued rest all scored."""
    from types import SimpleNamespace

    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    from mlops_magic.serving.models import ServedVersion, output_datatype, schema_for, scoring_of
    from mlops_magic.serving.shadow import QUEUE_REQUESTS, ShadowScorer

    entered, go_on = threading.Event(), threading.Event()

    class Slow(LogisticRegression):  # scores only when the test lets it
        def predict(self, X):
            entered.set()
            go_on.wait(30)
            return super().predict(X)

    X, y = load_wine(return_X_y=True, as_frame=True)
    model = Slow(max_iter=5000).fit(X, y)
    served = ServedVersion("wine", 2, "run", "sha", model, schema_for(model, None), True, scoring_of(model), output_datatype(model))
    logged, skipped = [], []
    scorer = ShadowScorer(SimpleNamespace(current={"staging": served}), "staging", SimpleNamespace(predictions=logged.append), on_skip=skipped.append)
    scorer.start()
    scorer.submit(X.head(2), ["p-0", "p-1"])
    assert entered.wait(10)  # the first request is being scored: the queue holds what comes next
    for i in range(QUEUE_REQUESTS + 5):
        scorer.submit(X.head(2), [f"q-{i}-a", f"q-{i}-b"])
    assert skipped == [2] * 5  # 5 requests of 2 rows beyond the bound
    go_on.set()
    scorer.close()
    assert len(logged) == QUEUE_REQUESTS + 1 and logged[-1].ids == [f"q-{QUEUE_REQUESTS - 1}-a.s", f"q-{QUEUE_REQUESTS - 1}-b.s"]
    assert all(batch.shadow and batch.confidence is not None for batch in logged)


def test_one_parser_reads_model_references_for_serving_and_loading(store):
    from mlops_magic.errors import InvalidInputError
    from mlops_magic.serving.router import Variant, parse_target

    assert parse_target("wine@production").variants == [Variant("production", alias="production")]
    assert parse_target("wine/3").variants == [Variant("v3", version=3)]
    assert parse_target("team/wine@production").name == "team/wine"  # the alias is split off first, as loading does
    for ref, message in [("wine@", "write NAME@ALIAS"), ("@production", "write NAME@ALIAS"), ("wine/x", "write NAME/VERSION")]:
        for use in (api.load_model, api.serve, parse_target):
            with pytest.raises(InvalidInputError, match=f"model reference '{ref}' is malformed: {message}"):
                use(ref)
