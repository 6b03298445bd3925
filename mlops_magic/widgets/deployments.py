"""Deployment views: the card ``%mlops_serve`` shows, and the table of ``%mlops_deployments``.

A deployment no longer running shows what it served (requests, errors, latency, versions, its last
request and its stop), read from the request log of the store in use."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from .. import html as h
from ..errors import StoreError
from ..serving.manager import STATUS_COLOURS, card_html, started_text, versions_text, watcher_text
from ..serving.served import Served
from .view import View, html


def served_of(status) -> Served | None:
    """What a deployment no longer running served, from the store in use (None while it runs, or if the store cannot be read)."""
    if status.status == "running":
        return None
    from .. import api

    try:
        return api.served(status.name)
    except StoreError:  # the store cannot be read now: the card shows what the probe saw
        return None


def requests_text(status, was: Served | None) -> str:
    if was is not None:
        return f"{was.requests:,} served" + (f", stopped {started_text(was.stopped_at)}" if was.stopped_at else "")
    return "–" if status.requests is None else str(status.requests)


def table_html(statuses: list) -> str:
    if not statuses:
        return f'<div style="color:{h.MUTED}">no deployments: serve a model with %mlops_serve NAME@ALIAS.</div>'
    rows = []
    for s in statuses:
        was = served_of(s)
        versions = versions_text(s) if was is None or s.versions else was.versions_text
        rows.append([h.escape(s.name), h.badge(s.status, STATUS_COLOURS.get(s.status, h.MUTED)), h.escape(s.url), h.escape(s.description),
                     h.escape(versions), h.escape(requests_text(s, was)), h.escape(s.pid), h.escape(started_text(s.started_at)),
                     h.escape(watcher_text(s.watcher) if s.watcher else "–")])  # fmt: skip
    return h.table(["model", "status", "URL", "serves", "versions", "requests", "pid", "started", "watcher"], rows, raw=True)


class _Refreshing(View):
    """HTML rendered from ``data``, and a ``Refresh`` button that asks ``refresh()`` for new data."""

    def __init__(self, data, render: Callable[[object], str], refresh: Callable[[], object] | None):
        self.data = data
        self._render = render
        self._refresh = refresh
        self.body = html(render(data))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", disabled=refresh is None)
        self.refresh_button.on_click(self.refresh)
        super().__init__(children=[self.body, self.refresh_button])

    def refresh(self, _button=None) -> None:
        self.data = self._refresh()
        self.body.value = self._render(self.data)

    def static_html(self) -> str:
        return self._render(self.data)


class DeploymentCard(_Refreshing):
    """One deployment: URL, versions, a curl example, the request count; ``Refresh`` probes it again."""

    def __init__(self, status, refresh: Callable[[], object] | None = None):
        super().__init__(status, lambda status: card_html(status, served_of(status)), refresh)

    @property
    def status(self):
        return self.data

    def summary(self) -> str:
        text = f"{self.status!r}"
        return text + (f"\n{self.status.curl_example()}" if self.status.status == "running" else "")


class DeploymentsTable(_Refreshing):
    """Every deployment with its live status; ``Refresh`` probes them again."""

    def __init__(self, statuses: list, refresh: Callable[[], list] | None = None):
        super().__init__(statuses, table_html, refresh)

    @property
    def statuses(self) -> list:
        return self.data

    def summary(self) -> str:
        return "\n".join(repr(s) for s in self.statuses) or "no deployments"
