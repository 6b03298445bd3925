"""Deployment views: the card ``%mlops_serve`` shows, and the table of ``%mlops_deployments``."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from .. import html as h
from ..serving.manager import STATUS_COLOURS, card_html, started_text, versions_text, watcher_text
from .view import View


def table_html(statuses: list) -> str:
    if not statuses:
        return f'<div style="color:{h.MUTED}">no deployments: serve a model with %mlops_serve NAME@ALIAS.</div>'
    rows = [
        [h.escape(s.name), h.badge(s.status, STATUS_COLOURS.get(s.status, h.MUTED)), h.escape(s.url), h.escape(s.description),
         h.escape(versions_text(s)), h.escape("–" if s.requests is None else s.requests), h.escape(s.pid), h.escape(started_text(s.started_at)),
         h.escape(watcher_text(s.watcher) if s.watcher else "–")]
        for s in statuses
    ]  # fmt: skip
    return h.table(["model", "status", "URL", "serves", "versions", "requests", "pid", "started", "watcher"], rows, raw=True)


class _Refreshing(View):
    """HTML rendered from ``data``, and a ``Refresh`` button that asks ``refresh()`` for new data."""

    def __init__(self, data, render: Callable[[object], str], refresh: Callable[[], object] | None):
        self.data = data
        self._render = render
        self._refresh = refresh
        self.body = widgets.HTML(render(data))
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
