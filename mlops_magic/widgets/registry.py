"""The registry view of ``%mlops_models``: every model's versions with alias badges, and the alias history."""

from __future__ import annotations

import ipywidgets as widgets

from ..registry import history_html, versions_html
from .view import View, html


class RegistryView(View):
    """Versions and aliases of registered models, filterable by model, with the history of alias moves."""

    def __init__(self, registry):
        self.registry = registry
        names = sorted(registry.versions["name"].unique()) if not registry.versions.empty else []
        self.model = widgets.Dropdown(options=["all models", *names], value="all models", description="model")
        self.versions_html = html(versions_html(registry.versions))
        self.history_html = html(history_html(registry.history))
        self.model.observe(self._filter, names="value")
        children = [html("<b>Model versions</b>"), self.versions_html, html("<b>Alias history</b>"), self.history_html]
        super().__init__(children=([self.model] if len(names) > 1 else []) + children)

    def _filter(self, _change=None) -> None:
        versions, history = self.registry.versions, self.registry.history
        if self.model.value != "all models":
            versions = versions[versions["name"] == self.model.value]
            history = history[history["name"] == self.model.value]
        self.versions_html.value = versions_html(versions)
        self.history_html.value = history_html(history)

    def static_html(self) -> str:
        return self.registry._repr_html_()

    def summary(self) -> str:
        return f"<RegistryView {self.registry.versions['name'].nunique() if not self.registry.versions.empty else 0} models>\n{self.registry!r}"
