"""The run card shown under a ``%%mlops_train`` cell: metrics against the best earlier run, params, data, warnings."""

from __future__ import annotations

import json

import ipywidgets as widgets

from .. import html as h
from ..tracking.card import RunCardData
from .view import View, html

KEY_PARAMS = 8


def card_html(card: RunCardData) -> str:
    run = card.run
    status = h.badge(run.status, h.GOOD if run.status == "finished" else h.BAD)
    header = (
        f"<b>run {h.escape(run.short_id)}</b> {status} · experiment <b>{h.escape(run.experiment)}</b> · "
        f"{h.escape(run.name)} · {run.duration_s:.2f} s"
    )
    model = run.tags.get("model_class")
    if model:
        header += f" · {h.escape(model)}"
    against = f"best earlier run {h.escape(card.best_run_id[:8])}" if card.best_run_id else "no earlier run to compare"
    metrics = h.table(
        ["metric", "value", against],
        [
            [f"<b>{h.escape(m.name)}</b>" if m.name == card.primary_metric else h.escape(m.name), h.fmt(m.value), h.delta(m.delta, m.improved)]
            for m in card.metrics
        ],
        raw=True,
    ) if card.metrics else f'<div style="color:{h.MUTED}">no metrics: bind a metric-like name (acc, f1, rmse, ...) or pass --eval.</div>'
    params = list(card.key_params.items())[:KEY_PARAMS]
    params_html = h.table(["param set", "value"], params) if params else ""
    data = [[d.role, d.variable or "–", d.n_rows, len(d.columns), d.digest[:12]] for d in run.datasets.values()]
    data_html = h.table(["data", "variable", "rows", "columns", "fingerprint"], data) if data else ""
    error = h.code(run.error.strip().splitlines()[-1]) if run.error else ""
    replay = f'<div style="color:{h.MUTED};margin:2px 0 4px">{h.escape(card.replay)}</div>' if card.replay else ""
    return (
        '<div style="border:1px solid var(--jp-border-color2, #d0d7de);border-radius:6px;padding:8px 12px;font-family:sans-serif;font-size:13px;line-height:1.4">'
        f"<div>{header}</div>{error}{replay}"
        f'<div style="display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start">{metrics}{params_html}{data_html}</div>'
        f"{h.warnings_block(card.warnings)}</div>"
    )


class RunCard(View):
    """Run card: the summary as HTML, with the cell's code and the environment folded below."""

    def __init__(self, card: RunCardData):
        self.card = card
        run = card.run
        details = widgets.Accordion(
            children=[
                html(h.code(run.source or "")),
                html(h.code(json.dumps(run.environment, indent=1))),
                html(h.code("\n\n".join(f"# In[{c['execution_count']}]\n{c['source']}" for c in run.provenance.get("upstream", [])) or "none")),
            ],
            titles=("code", "environment", "upstream cells"),
            selected_index=None,
        )
        super().__init__(children=[html(card_html(card)), details])

    def static_html(self) -> str:
        return card_html(self.card)

    def summary(self) -> str:
        run = self.card.run
        metrics = ", ".join(f"{m.name}={m.value:.4g}" for m in self.card.metrics[:4])
        return f"<RunCard run {run.short_id} ({run.experiment}, {run.status}) {metrics}>"

