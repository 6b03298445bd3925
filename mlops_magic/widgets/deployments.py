"""Deployment views: the card ``%mlops_serve`` shows, and the table of ``%mlops_deployments``.

A deployment no longer running shows what it served (requests, errors, latency, versions, its last
request and its stop), which its status carries (``serving.manager`` reads it from the request log).
The table fits a notebook's width: one line per variant, the processes in one cell."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from .. import html as h
from ..serving.manager import STATUS_COLOURS, card_html, started_text, watcher_text
from ..serving.router import Target
from .view import View, html


def serves_html(status) -> str:
    """What a deployment serves, a line per variant with its share and, while it runs, its version (``production 80% → v1``)."""
    target = Target.from_dict(status.target)
    variants = [(v.label, share) for v, share in zip(target.variants, target.shares())]
    variants += [(target.shadow.label, f"{target.shadow.label} (shadow)")] if target.shadow else []
    return "<br>".join(h.escape(share + (f" → v{status.versions[label]}" if label in status.versions else "")) for label, share in variants)


def requests_text(status) -> str:
    was = status.served
    if was is None:
        return "–" if status.requests is None else f"{status.requests:,}"
    return f"{was.count_text} served ({was.versions_text})" if was.requests else "none served"


def process_html(status) -> str:
    """The serving process (pid, start, stop) and the model's watcher, a line each."""
    lines = [f"pid {status.pid}, started {started_text(status.started_at)}"]
    if status.served is not None and status.served.stopped_at is not None:
        lines.append(f"stopped {started_text(status.served.stopped_at)}")
    if status.watcher:
        lines.append(watcher_text(status.watcher))
    return "<br>".join(h.escape(line) for line in lines)


def table_html(statuses: list) -> str:
    if not statuses:
        return f'<div style="color:{h.MUTED}">no deployments: serve a model with %mlops_serve NAME@ALIAS.</div>'
    rows = [[h.escape(s.name), h.badge(s.status, STATUS_COLOURS.get(s.status, h.MUTED)), h.escape(s.url), serves_html(s), h.escape(requests_text(s)),
             process_html(s)] for s in statuses]  # fmt: skip
    return h.table(["model", "status", "URL", "serves", "requests", "process"], rows, raw=True)


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
        super().__init__(status, card_html, refresh)

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
