"""``%mlops_compare``: runs side by side. It leads with each run's model class and the params a person
set; the params left at their defaults (scikit-learn's, read from each class's signature) sit behind
a toggle; metrics say which way is better and get a chart each, on their own scale."""

from __future__ import annotations

import inspect
from functools import lru_cache

import ipywidgets as widgets
import pandas as pd

from .. import html as h
from ..metrics.names import higher_is_better_by_name
from ..plots import metrics_chart
from ..tracking.comparison import Comparison
from .view import View, chart_layout, html


def described(value) -> str:
    """A default as the store records a param value (strings as they are, the rest as ``repr``)."""
    return value if isinstance(value, str) else repr(value)


@lru_cache(maxsize=1)
def sklearn_defaults() -> dict[str, dict[str, str]]:
    """Per scikit-learn estimator class (lower-cased name, as ``make_pipeline`` names its steps): its
    params' defaults."""
    from sklearn.utils.discovery import all_estimators

    found = {}
    for name, cls in all_estimators():
        parameters = inspect.signature(cls.__init__).parameters.values()
        found[name.lower()] = {p.name: described(p.default) for p in parameters if p.default is not inspect.Parameter.empty}
    return found


def is_default(key: str, value: str, model_class: str | None) -> bool:
    """Whether param ``key`` (``step__param`` as ``get_params(deep=True)`` names it) holds its class's
    default. The owner is the step named before the last ``__`` (else the run's model class); for an
    owner that names no class (``estimator__...``), a value some class has as that param's default."""
    defaults = sklearn_defaults()
    owner, _, leaf = key.rpartition("__")
    known = defaults.get((owner.rsplit("__", 1)[-1] if owner else (model_class or "")).lower())
    if known is not None:
        return leaf in known and known[leaf] == value
    return not key.startswith("best.") and any(leaf in d and d[leaf] == value for d in defaults.values())


def params_table(comparison: Comparison) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The params that differ between the runs (or that only some runs have): those some run set,
    and those every run left at its default."""
    labels = list(comparison.metrics.columns)
    params = pd.DataFrame({label: run.params for label, run in zip(labels, comparison.runs)}).sort_index()
    differing = params[params.astype(str).nunique(axis=1, dropna=False) > 1]
    classes = [run.tags.get("model_class") for run in comparison.runs]
    defaults = differing.apply(
        lambda row: all(pd.isna(v) or is_default(row.name, str(v), c) for v, c in zip(row, classes)), axis=1
    ) if len(differing) else pd.Series(dtype=bool)  # fmt: skip
    return differing[~defaults].fillna("–"), differing[defaults].fillna("–")


def runs_html(comparison: Comparison) -> str:
    rows = [(run.short_id, run.name, run.tags.get("model_class", "–"), run.status, f"{run.duration_s:.2f} s" if run.duration_s is not None else "–")
            for run in comparison.runs]  # fmt: skip
    return h.table(["run", "name", "model", "status", "duration"], rows)


def metrics_html(metrics: pd.DataFrame) -> str:
    """Metrics by run, the best value of each in bold, with the way it is better."""
    rows = []
    for metric, values in metrics.iterrows():
        higher = higher_is_better_by_name(str(metric))
        best = values.max() if higher else values.min()
        cells = [f"<b>{h.escape(h.fmt(v))}</b>" if v == best and values.notna().sum() > 1 else h.escape(h.fmt(v)) for v in values]
        rows.append([h.escape(metric), "↑ higher" if higher else "↓ lower", *cells])
    return h.table(["metric", "better", *metrics.columns], rows, raw=True)


def params_html(set_params: pd.DataFrame, default_params: pd.DataFrame) -> tuple[str, str]:
    """The params some run set (a table), and those left at their defaults (a table, for the toggle)."""
    shown = h.table(["param", *set_params.columns], set_params.itertuples()) if len(set_params) else f"<div style='color:{h.MUTED}'>the same params set</div>"
    hidden = h.table(["param", *default_params.columns], default_params.itertuples()) if len(default_params) else ""
    return shown, hidden


def data_and_code_html(comparison: Comparison) -> str:
    parts = []
    if len(comparison.data):
        parts += ["<h4 style='margin:6px 0 2px'>data</h4>", h.table(comparison.data.columns, comparison.data.itertuples(index=False))]
    parts.append("<h4 style='margin:6px 0 2px'>code</h4>")
    parts += [h.code(diff) if diff else f"<div style='color:{h.MUTED}'>same code</div>" for diff in comparison.code_diffs]
    return "".join(parts)


class ComparisonView(View):
    """Runs side by side: who they are, metrics (table and chart), the params set, defaults on a toggle, data and code."""

    def __init__(self, comparison: Comparison):
        self.comparison = comparison
        metrics = comparison.metrics.dropna(how="all")
        self.chart = metrics_chart(metrics, higher_is_better_by_name) if len(metrics) else None
        self.set_params, self.default_params = params_table(comparison)
        shown, hidden = params_html(self.set_params, self.default_params)
        self.defaults = widgets.Accordion(children=[html(hidden)], titles=(f"{len(self.default_params)} params left at their defaults that differ",))
        self.defaults.selected_index = None
        self.defaults.layout.display = None if len(self.default_params) else "none"
        head = "<div style='font-family:sans-serif;font-size:13px'><h4 style='margin:2px 0'>runs</h4>" + runs_html(comparison)
        top = head + "<h4 style='margin:6px 0 2px'>metrics</h4>" + (metrics_html(metrics) if len(metrics) else "") + "</div>"
        children = [html(top)]
        if self.chart:
            children.append(widgets.Image(value=self.chart, format="png", layout=chart_layout()))
        children += [html("<h4 style='margin:6px 0 2px;font-family:sans-serif'>params set</h4>" + shown), self.defaults,
                     html(data_and_code_html(comparison))]  # fmt: skip
        super().__init__(children=children)

    def static_html(self) -> str:
        metrics = self.comparison.metrics.dropna(how="all")
        shown, hidden = params_html(self.set_params, self.default_params)
        parts = ["<h4 style='margin:2px 0'>runs</h4>", runs_html(self.comparison), "<h4 style='margin:6px 0 2px'>metrics</h4>"]
        parts += [metrics_html(metrics) if len(metrics) else "", h.png_img(self.chart, "metrics of the compared runs") if self.chart else ""]
        parts += ["<h4 style='margin:6px 0 2px'>params set</h4>", shown]
        if hidden:
            parts.append(f"<details><summary>{len(self.default_params)} params left at their defaults that differ</summary>{hidden}</details>")
        parts.append(data_and_code_html(self.comparison))
        return "<div style='font-family:sans-serif;font-size:13px'>" + "".join(parts) + "</div>"

    def summary(self) -> str:
        return repr(self.comparison)
