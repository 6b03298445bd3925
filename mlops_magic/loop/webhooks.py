"""Webhooks: every lineage event POSTed as JSON to the receivers that asked for it, signed, retried.

The envelope and headers are MLflow's (``mlflow/webhooks/delivery.py``): a body
``{"entity", "action", "timestamp" (the event's, ISO 8601 UTC), "data"}``, and ``X-MLflow-Delivery-Id``, ``X-MLflow-Timestamp``
and, with a secret, ``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{body}">``.
``data`` is MLflow's payload for the events MLflow has (``model_version.created``,
``model_version_alias.created``) and ours for the rest. The delivery id stays the same across
retries, so a receiver can drop a repeat.

Events are queued in the store with the change they describe (an outbox, ``store/webhooks.py``);
``deliver_pending`` posts what is due, and ``WebhookSender`` does so on an interval in a daemon
thread, so no promotion, alert or swap ever waits on a receiver. A failed attempt is retried after
``backoff_s * 2**(attempts - 1)`` seconds (at most ``MAX_BACKOFF_S``); after ``MAX_ATTEMPTS`` it
is given up, its ``last_error`` kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

from .. import __version__
from ..errors import InvalidInputError
from ..store.loop import EVENTS

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
TIMEOUT_S = 5.0
BACKOFF_S = 2.0
MAX_BACKOFF_S = 600.0
MAX_ATTEMPTS = 10  # 2 s, 4 s, ... 512 s apart: given up about 17 minutes after the first


def check_webhook(url: str, events: list[str] | None) -> list[str] | None:
    """The events a new webhook takes, checked; a bad URL or event name is a one-line error."""
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInputError(f"webhook URL {url!r} is not an http(s) URL: write e.g. http://127.0.0.1:9000/hook.")
    if events is None:
        return None
    if isinstance(events, str):
        events = [events]
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise InvalidInputError(f"unknown webhook event {unknown[0] if unknown else '(none given)'!r}: choose among {', '.join(EVENTS)}.")
    return list(dict.fromkeys(events))


def payload(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for one lineage event: MLflow's envelope, MLflow's ``data`` where MLflow has the event."""
    entity, action = event["event"].rsplit(".", 1)
    return {"entity": entity, "action": action, "timestamp": datetime.fromtimestamp(event["time"], timezone.utc).isoformat(), "data": _data(event)}


def _data(event: dict[str, Any]) -> dict[str, Any]:
    name, version, detail = event["model"], event["version"], event["detail"]
    if event["event"] == "model_version.created":
        return {"name": name, "version": str(version), "source": f"models:/{name}/{version}", "run_id": event["run_id"], "tags": {}, "description": None}
    if event["event"] == "model_version_alias.created":
        return {"name": name, "alias": detail["alias"], "version": str(version)}
    return {"event_id": event["event_id"], **{k: event[k] for k in ("model", "version", "run_id", "alert_id", "policy_id", "job_id")}, "detail": detail}


def signature(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """MLflow's signature header value: ``v1,`` and the base64 HMAC-SHA256 of ``delivery_id.timestamp.body``."""
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it would re-send the POST as a GET, unsigned."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: str, headers: dict[str, str], timeout: float) -> None:
    """POST ``body``; any answer but 2xx, a timeout or an unreachable host raises ``OSError``."""
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with _opener.open(request, timeout=timeout) as response:
        response.read()


@dataclass
class DeliveryRound:
    """What one ``deliver_pending`` call did."""

    delivered: int = 0
    failed: int = 0

    def __repr__(self) -> str:
        return f"{self.delivered} webhook deliveries made, {self.failed} failed (retried later unless out of attempts)"


def deliver_pending(store, timeout: float = TIMEOUT_S, backoff_s: float = BACKOFF_S) -> DeliveryRound:
    """POST every delivery due now, each webhook's in event order, until none is due; never raises
    for a receiver's failure (it is recorded in ``last_error`` and retried with backoff)."""
    done = DeliveryRound()
    while batch := store.claim_deliveries(time.time(), lease_s=timeout + 5.0, max_attempts=MAX_ATTEMPTS):
        for delivery in batch:
            error = _send(store, delivery, timeout)
            if error is None:
                store.delivery_succeeded(delivery.delivery_id)
                done.delivered += 1
            else:
                delay = min(backoff_s * 2 ** (delivery.attempts - 1), MAX_BACKOFF_S)
                store.delivery_failed(delivery.delivery_id, error, time.time() + delay)
                done.failed += 1
    return done


def _send(store, delivery, timeout: float) -> str | None:
    """Post one delivery; the error as text, or None when the receiver took it."""
    try:
        body = json.dumps(payload(delivery.event), default=str)
    except (KeyError, TypeError, ValueError) as exc:  # an event recorded without the fields its payload needs
        return f"attempt {delivery.attempts}: cannot build the payload of {delivery.event['event']}: {exc!r}"
    delivery_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{store.url}#webhook-delivery-{delivery.delivery_id}"))
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": f"mlops-magic/{__version__}", DELIVERY_ID_HEADER: delivery_id, TIMESTAMP_HEADER: timestamp}
    if delivery.webhook.secret:
        headers[SIGNATURE_HEADER] = signature(delivery.webhook.secret, delivery_id, timestamp, body)
    try:
        post(delivery.webhook.url, body, headers, timeout)
    except urllib.error.HTTPError as exc:
        return f"attempt {delivery.attempts}: HTTP {exc.code} from {delivery.webhook.url}"
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, unreachable, timed out, not HTTP, malformed URL
        return f"attempt {delivery.attempts}: {type(exc).__name__}: {exc}"
    return None


def webhooks_frame(store):
    """One row per webhook (its secret never shown): webhook_id, url, events, signed, created_at, and
    its deliveries: delivered, pending, failed (given up after ``MAX_ATTEMPTS``), last_error."""
    import pandas as pd

    deliveries = store.deliveries_frame()
    rows = []
    for hook in store.webhook_records():
        mine = deliveries[deliveries["webhook_id"] == hook.webhook_id]
        delivered = mine["delivered_at"].notna()
        failed = ~delivered & (mine["attempts"] >= MAX_ATTEMPTS)
        errors = mine["last_error"].dropna()
        rows.append(
            {
                "webhook_id": hook.webhook_id,
                "url": hook.url,
                "events": "all" if hook.events is None else ", ".join(hook.events),
                "signed": hook.secret is not None,
                "created_at": pd.to_datetime(hook.created_at, unit="s", utc=True),
                "delivered": int(delivered.sum()),
                "pending": int((~delivered & ~failed).sum()),
                "failed": int(failed.sum()),
                "last_error": errors.iloc[-1] if len(errors) else None,
            }
        )
    columns = ["webhook_id", "url", "events", "signed", "created_at", "delivered", "pending", "failed", "last_error"]
    return pd.DataFrame(rows, columns=columns)


class WebhookSender(threading.Thread):
    """A daemon thread that delivers what the store's outbox holds every ``interval`` seconds."""

    def __init__(self, store, interval: float = 1.0, timeout: float = TIMEOUT_S, backoff_s: float = BACKOFF_S):
        super().__init__(name="mlops-webhook-sender", daemon=True)
        self.store, self.interval, self.timeout, self.backoff_s = store, interval, timeout, backoff_s
        self._halt = threading.Event()
        self._last_error = ""

    def run(self) -> None:
        while True:
            try:
                deliver_pending(self.store, self.timeout, self.backoff_s)
            except Exception as exc:  # a busy or unreachable store: try again next round
                if str(exc) != self._last_error:
                    print(f"mlops-magic: webhook delivery failed this round, trying again in {self.interval:g} s: {exc}", file=sys.stderr)
                self._last_error = str(exc)
            if self._halt.wait(self.interval):
                return

    def stop(self) -> None:
        """Stop after the delivery in flight (at most ``timeout`` seconds)."""
        self._halt.set()
        if self.is_alive():
            self.join(timeout=self.timeout + 5.0)
