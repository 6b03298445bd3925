"""Webhooks in the store: the receivers, and an outbox of deliveries queued with the events they carry.

A delivery row is written in the same transaction as its lineage event, so a receiver hears of
exactly the changes that were committed. Senders claim rows (a compare-and-set on ``attempts``),
so two senders never post one delivery at once; each webhook gets its events in order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from . import schema as s


@dataclass
class Webhook:
    """A receiver: its URL, the events it takes (None: all), and its signing secret (never shown)."""

    webhook_id: int
    url: str
    events: list[str] | None
    secret: str | None = field(repr=False)
    created_at: float


@dataclass
class Delivery:
    """One event due at one webhook, claimed by a sender: ``attempts`` counts this one."""

    delivery_id: int
    attempts: int
    webhook: Webhook
    event: dict[str, Any]  # the lineage event: event_id, time, event, model, version, run_id, ..., detail (a dict)


def queue_deliveries(conn: Connection, event_id: int, event: str, now: float) -> None:
    """Queue ``event`` for every webhook that takes it, inside the caller's transaction (the outbox)."""
    hooks = conn.execute(select(s.webhooks.c.webhook_id, s.webhooks.c.events)).all()
    due = [
        {"webhook_id": webhook_id, "event_id": event_id, "attempts": 0, "next_attempt_at": now}
        for webhook_id, events in hooks
        if events is None or event in json.loads(events)
    ]
    if due:
        conn.execute(s.webhook_deliveries.insert(), due)


def _webhook(row) -> Webhook:
    return Webhook(row.webhook_id, row.url, json.loads(row.events) if row.events else None, row.secret, row.created_at)


class WebhooksStore:
    """Mixin of ``Store``: webhooks and their outbox of deliveries."""

    def add_webhook(self, url: str, events: list[str] | None, secret: str | None) -> Webhook:
        """Store a receiver of ``events`` (None: every event); events recorded from now on are queued for it."""
        now = time.time()
        with self.db.writing() as conn:
            webhook_id = conn.execute(
                s.webhooks.insert().values(url=url, events=None if events is None else json.dumps(list(events)), secret=secret, created_at=now)
            ).inserted_primary_key[0]
        return Webhook(webhook_id, url, None if events is None else list(events), secret, now)

    def webhook_records(self) -> list[Webhook]:
        with self.db.reading() as conn:
            return [_webhook(r) for r in conn.execute(select(s.webhooks).order_by(s.webhooks.c.webhook_id))]

    def claim_deliveries(self, now: float, lease_s: float, max_attempts: int) -> list[Delivery]:
        """The oldest undelivered event of each webhook, if it is due, claimed for ``lease_s`` seconds.

        A webhook whose oldest event waits for a retry (or is claimed by another sender) gets
        nothing newer, so its events arrive in order; one given up (``max_attempts``) no longer holds them.
        """
        d, e = s.webhook_deliveries, s.events
        open_ = (d.c.delivered_at.is_(None)) & (d.c.attempts < max_attempts)
        heads = select(d.c.webhook_id, func.min(d.c.event_id).label("event_id")).where(open_).group_by(d.c.webhook_id).subquery()
        query = (
            select(d.c.delivery_id, d.c.attempts, d.c.next_attempt_at, s.webhooks, e)
            .join(heads, (heads.c.webhook_id == d.c.webhook_id) & (heads.c.event_id == d.c.event_id))
            .join(s.webhooks, s.webhooks.c.webhook_id == d.c.webhook_id)
            .join(e, e.c.event_id == d.c.event_id)
            .where(open_, d.c.next_attempt_at <= now)
            .order_by(d.c.webhook_id)
        )
        claimed = []
        with self.db.writing() as conn:
            for row in conn.execute(query).all():
                taken = conn.execute(
                    d.update()
                    .where(d.c.delivery_id == row.delivery_id, d.c.attempts == row.attempts, d.c.delivered_at.is_(None))
                    .values(attempts=row.attempts + 1, next_attempt_at=now + lease_s)
                )
                if taken.rowcount == 1:
                    event = {c.name: row._mapping[c] for c in e.columns}
                    event["detail"] = json.loads(event["detail"]) if event["detail"] else {}
                    claimed.append(Delivery(row.delivery_id, row.attempts + 1, _webhook(row), event))
        return claimed

    def delivery_succeeded(self, delivery_id: int) -> None:
        d = s.webhook_deliveries
        with self.db.writing() as conn:
            conn.execute(d.update().where(d.c.delivery_id == delivery_id).values(delivered_at=time.time(), last_error=None))

    def delivery_failed(self, delivery_id: int, error: str, retry_at: float) -> None:
        """Record why an attempt failed and when the next one is due (none once its attempts ran out)."""
        d = s.webhook_deliveries
        with self.db.writing() as conn:
            conn.execute(d.update().where(d.c.delivery_id == delivery_id).values(last_error=error[:2000], next_attempt_at=retry_at))

    def deliveries_frame(self):
        """Every delivery, oldest first: delivery_id, webhook_id, event_id, event, attempts,
        next_attempt_at, delivered_at, last_error."""
        import pandas as pd

        d = s.webhook_deliveries
        query = select(d.c.delivery_id, d.c.webhook_id, d.c.event_id, s.events.c.event, d.c.attempts, d.c.next_attempt_at, d.c.delivered_at, d.c.last_error)
        query = query.join(s.events, s.events.c.event_id == d.c.event_id).order_by(d.c.delivery_id)
        with self.db.reading() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        columns = ["delivery_id", "webhook_id", "event_id", "event", "attempts", "next_attempt_at", "delivered_at", "last_error"]
        return pd.DataFrame(rows, columns=columns)
