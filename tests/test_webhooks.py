"""Webhooks against a real local receiver: MLflow's payloads and signature, order, retries with backoff, giving up,
one sender per delivery, and a promotion that never waits on a receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest

from mlops_magic import api, cli
from mlops_magic.errors import InvalidInputError
from mlops_magic.loop.webhooks import MAX_ATTEMPTS, WebhookSender, deliver_pending

from .serving_support import forest, logistic, train, wine_frames

SECRET = "s3cret"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST; it answers 500 to the first ``failures``
    requests, and waits ``delay`` seconds before answering each."""

    def __init__(self, failures: int = 0, delay: float = 0.0):
        self.failures, self.delay = failures, delay
        self.received: list[tuple[Any, str]] = []  # (headers, body) of the requests it took (2xx)
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                time.sleep(receiver.delay)
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(500)
                else:
                    receiver.received.append((self.headers, body))  # case-insensitive, as HTTP headers are
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**options):
        made.append(Receiver(**options))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two trained runs (a weak champion, a stronger challenger) in a store the tests copy from."""
    from .serving_support import session_with_store

    path = tmp_path_factory.mktemp("webhook-runs") / "store"
    with session_with_store(path):
        frames = wine_frames()
        weak, _ = train(logistic(C=0.01), frames=frames)
        strong, _ = train(forest(), frames=frames)
    return path, weak.run_id, strong.run_id


@pytest.fixture
def trained(runs, tmp_path):
    """A fresh copy of the trained store, in use for the test: (weak run id, strong run id)."""
    import shutil

    from .serving_support import session_with_store

    path, weak, strong = runs
    shutil.copytree(path, tmp_path / "store")
    with session_with_store(tmp_path / "store"):
        yield weak, strong


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens there once the socket is closed


def test_signed_events_arrive_in_order_with_mlflows_payloads_and_signature(trained, receiver):
    weak, strong = trained
    hook = receiver()
    api.add_webhook(hook.url, secret=SECRET)
    api.promote(weak, name="wine", alias="production")
    api.promote(strong, name="wine", alias="production")
    api.get_store().add_alerts([{"model": "wine", "kind": "threshold", "metric": "accuracy", "value": 0.5, "threshold": 0.8, "window": {"end": 1.0}, "message": "accuracy 0.5 < 0.8", "policy_id": 7}])

    done = deliver_pending(api.get_store(), timeout=5)

    assert (done.delivered, done.failed) == (5, 0)
    bodies = hook.bodies()
    assert [(b["entity"], b["action"]) for b in bodies] == [
        ("model_version", "created"), ("model_version_alias", "created"),
        ("model_version", "created"), ("model_version_alias", "created"), ("alert", "fired"),
    ]  # fmt: skip
    assert bodies[0]["data"] == {"name": "wine", "version": "1", "source": "models:/wine/1", "run_id": weak, "tags": {}, "description": None}
    assert bodies[3]["data"] == {"name": "wine", "alias": "production", "version": "2"}
    alert = bodies[4]["data"]
    assert (alert["model"], alert["policy_id"], alert["detail"]["message"]) == ("wine", 7, "accuracy 0.5 < 0.8") and alert["alert_id"] >= 1
    assert bodies[0]["timestamp"].endswith("+00:00")
    for headers, body in hook.received:  # MLflow's scheme: v1,base64(HMAC-SHA256(secret, "id.timestamp.body"))
        signed = f"{headers['X-MLflow-Delivery-Id']}.{headers['X-MLflow-Timestamp']}.{body}".encode()
        expected = "v1," + base64.b64encode(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()
        assert hmac.compare_digest(headers["X-MLflow-Signature"], expected)
        assert abs(int(headers["X-MLflow-Timestamp"]) - time.time()) < 60 and headers["Content-Type"] == "application/json"
    assert len({h["X-MLflow-Delivery-Id"] for h, _ in hook.received}) == 5
    assert deliver_pending(api.get_store()).delivered == 0  # nothing is sent twice


def test_a_webhook_gets_only_its_events_and_none_recorded_before_it_and_no_signature_without_secret(trained, receiver):
    weak, strong = trained
    api.promote(weak, name="wine", alias="production")
    hook = receiver()
    api.add_webhook(hook.url, events=["model_version_alias.created"])
    api.promote(strong, name="wine", alias="production")
    deliver_pending(api.get_store())
    assert [b["data"] for b in hook.bodies()] == [{"name": "wine", "alias": "production", "version": "2"}]
    assert "X-MLflow-Signature" not in hook.received[0][0]


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_after_growing_waits(trained, receiver):
    weak, strong = trained
    hook = receiver(failures=2)
    api.add_webhook(hook.url, events=["model_version.created"])
    api.promote(weak, name="wine")
    api.promote(strong, name="wine")  # queued behind the first: must not overtake it
    store = api.get_store()

    started = time.time()
    assert deliver_pending(store, backoff_s=0.3).failed == 1
    first = store.deliveries_frame().iloc[0]
    assert first["attempts"] == 1 and "HTTP 500" in first["last_error"]
    assert 0.25 < first["next_attempt_at"] - started < 0.5
    assert deliver_pending(store, backoff_s=0.3).failed == 0 and hook.received == []  # not due, and the second waits behind it
    time.sleep(0.35)
    assert deliver_pending(store, backoff_s=0.3).failed == 1
    second = store.deliveries_frame().iloc[0]
    assert second["attempts"] == 2 and 0.55 < second["next_attempt_at"] - time.time() < 0.65  # doubled
    time.sleep(0.65)
    assert deliver_pending(store, backoff_s=0.3).delivered == 2
    assert [b["data"]["version"] for b in hook.bodies()] == ["1", "2"]
    assert store.deliveries_frame()["attempts"].tolist() == [3, 1]


def test_an_unreachable_receiver_is_given_up_after_max_attempts_recorded_and_holds_no_later_event(trained):
    weak, strong = trained
    api.add_webhook(closed_port_url())
    api.promote(weak, name="wine")
    store = api.get_store()
    done = deliver_pending(store, backoff_s=0.0)
    assert (done.delivered, done.failed) == (0, MAX_ATTEMPTS)
    row = store.deliveries_frame().iloc[0]
    assert row["attempts"] == MAX_ATTEMPTS and pd.isna(row["delivered_at"]) and f"attempt {MAX_ATTEMPTS}: URLError" in row["last_error"]
    assert api.webhooks()[["delivered", "pending", "failed"]].values.tolist() == [[0, 0, 1]]
    api.promote(strong, name="wine")
    assert deliver_pending(store, backoff_s=0.0).failed == MAX_ATTEMPTS  # the next event is tried, not held behind the given-up one


def test_two_senders_never_post_one_delivery_twice_and_keep_the_order(trained, receiver):
    weak, strong = trained
    hook = receiver(delay=0.05)
    api.add_webhook(hook.url)
    api.promote(weak, name="wine", alias="production")
    api.promote(strong, name="wine", alias="production")
    store = api.get_store()
    senders = [threading.Thread(target=deliver_pending, args=(store,)) for _ in range(2)]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    ids = [h["X-MLflow-Delivery-Id"] for h, _ in hook.received]
    assert len(ids) == len(set(ids)) == 4
    assert [(b["entity"], b["data"]["version"]) for b in hook.bodies()] == [("model_version", "1"), ("model_version_alias", "1"), ("model_version", "2"), ("model_version_alias", "2")]


def test_a_bad_or_hanging_receiver_never_blocks_a_promotion_and_the_sender_stops(trained, receiver):
    weak, strong = trained
    hanging, good, closed = receiver(delay=3.0), receiver(), closed_port_url()
    api.add_webhook(hanging.url)
    api.add_webhook(closed)
    api.add_webhook(good.url)
    sender = WebhookSender(api.get_store(), interval=0.05, timeout=0.5, backoff_s=60)
    sender.start()
    try:
        started = time.monotonic()
        api.promote(weak, name="wine", alias="production")
        api.promote(strong, name="wine", alias="production")
        took = time.monotonic() - started
        deadline = time.monotonic() + 10
        while len(good.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stopping = time.monotonic()
        sender.stop()
        stopped_in = time.monotonic() - stopping
    assert took < 1.5, f"two promotions took {took:.2f} s with a hanging receiver"
    assert [b["entity"] for b in good.bodies()][:2] == ["model_version", "model_version_alias"]
    assert not sender.is_alive() and stopped_in < 6
    errors = api.webhooks().set_index("url")["last_error"]
    assert "timed out" in errors[hanging.url] and "URLError" in errors[closed]


def test_bad_webhook_input_is_a_one_line_error_naming_the_fix(store):
    with pytest.raises(InvalidInputError, match="not an http"):
        api.add_webhook("ftp://example.org/hook")
    with pytest.raises(InvalidInputError, match="unknown webhook event 'model.deployed'.*choose among"):
        api.add_webhook("http://127.0.0.1:9/hook", events=["model.deployed"])
    assert api.webhooks().empty


def test_cli_adds_lists_and_delivers_webhooks(trained, receiver, capsys):
    weak, _ = trained
    hook = receiver()
    assert cli.main(["webhook", "add", hook.url, "--event", "model_version.created", "--secret", SECRET]) == 0
    assert "webhook 1 added" in capsys.readouterr().out
    api.promote(weak, name="wine", alias="production")
    assert cli.main(["webhook", "deliver"]) == 0
    assert "1 webhook deliveries made" in capsys.readouterr().out
    assert cli.main(["webhook", "list"]) == 0
    listed = capsys.readouterr().out
    assert hook.url in listed and SECRET not in listed
    assert cli.main(["webhook", "add", "nowhere"]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err


def test_an_event_whose_payload_cannot_be_built_is_a_recorded_failure_never_an_exception(store, receiver):
    hook = receiver()
    api.add_webhook(hook.url)
    store.record_event("model_version_alias.created", "wine", version=1)  # no alias in its detail
    store.record_event("retrain.started", "wine", job_id=1)
    done = deliver_pending(store, backoff_s=60)
    assert (done.delivered, done.failed) == (0, 1)  # the second waits behind the first, in order
    assert "cannot build the payload of model_version_alias.created: KeyError('alias')" in store.deliveries_frame()["last_error"].iloc[0]
