"""The registry view of ``%mlops_models``: every model's versions with alias badges, and the alias history."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from .. import html as h
from .view import View

ALIAS_COLOURS = {"production": h.GOOD, "staging": h.WARN}
KEY_METRICS = ("accuracy", "f1_macro", "roc_auc", "rmse", "mae", "r2")


def versions_html(versions: pd.DataFrame) -> str:
    if versions.empty:
        return f'<div style="color:{h.MUTED}">no registered models yet: promote a run with %mlops_promote.</div>'
    metrics = [f"metrics.{m}" for m in KEY_METRICS if f"metrics.{m}" in versions and versions[f"metrics.{m}"].notna().any()]
    rows = []
    for r in versions.sort_values(["name", "version"], ascending=[True, False]).to_dict("records"):
        badges = " ".join(h.badge(a, ALIAS_COLOURS.get(a, h.MUTED)) for a in filter(None, r["aliases"].split(", ")))
        cells = [h.escape(r["name"]), f"v{r['version']}", badges, h.escape(r["run_id"][:8]), h.escape(r["experiment"]), h.escape(r["model"] or "")]
        cells += [h.escape(h.fmt(r[m])) for m in metrics]
        cells.append(h.escape(r["created_at"].strftime("%Y-%m-%d %H:%M")))
        rows.append(cells)
    headers = ["model", "version", "aliases", "run", "experiment", "class", *(m.removeprefix("metrics.") for m in metrics), "registered"]
    return h.table(headers, rows, raw=True)


def history_html(history: pd.DataFrame) -> str:
    if history.empty:
        return f'<div style="color:{h.MUTED}">no alias has been set yet.</div>'
    rows = [
        [r["time"].strftime("%Y-%m-%d %H:%M:%S"), r["name"], r["alias"], "–" if pd.isna(r["from_version"]) else f"v{int(r['from_version'])}",
         f"v{int(r['to_version'])}", r["user"], r["reason"] or ""]
        for r in history.sort_values("event_id", ascending=False).to_dict("records")
    ]  # fmt: skip
    return h.table(["when", "model", "alias", "from", "to", "who", "why"], rows)


class RegistryView(View):
    """Versions and aliases of registered models, filterable by model, with the history of alias moves."""

    def __init__(self, registry):
        self.registry = registry
        names = sorted(registry.versions["name"].unique()) if not registry.versions.empty else []
        self.model = widgets.Dropdown(options=["all models", *names], value="all models", description="model")
        self.versions_html = widgets.HTML(versions_html(registry.versions))
        self.history_html = widgets.HTML(history_html(registry.history))
        self.model.observe(self._filter, names="value")
        children = [widgets.HTML("<b>Model versions</b>"), self.versions_html, widgets.HTML("<b>Alias history</b>"), self.history_html]
        super().__init__(children=([self.model] if len(names) > 1 else []) + children)

    def _filter(self, _change=None) -> None:
        versions, history = self.registry.versions, self.registry.history
        if self.model.value != "all models":
            versions = versions[versions["name"] == self.model.value]
            history = history[history["name"] == self.model.value]
        self.versions_html.value = versions_html(versions)
        self.history_html.value = history_html(history)

    def static_html(self) -> str:
        return "<b>Model versions</b>" + versions_html(self.registry.versions) + "<b>Alias history</b>" + history_html(self.registry.history)

    def summary(self) -> str:
        return f"<RegistryView {self.registry.versions['name'].nunique() if not self.registry.versions.empty else 0} models>\n{self.registry!r}"
