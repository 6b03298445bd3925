"""The defined metrics as the notebook and the command line show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import html as h
from .catalog import Catalog

COLUMNS = ["name", "kind", "better", "definition", "user", "time"]


@dataclass
class MetricsListing:
    """The store's defined metrics (``frame``: one row each), and the one just defined or dropped (``changed``)."""

    frame: Any
    sources: dict[str, str]
    changed: str | None = None
    dropped: bool = False

    def summary(self) -> str:
        if self.changed is not None:
            return f"metric {self.changed} {'removed' if self.dropped else 'defined'}; {len(self.frame)} defined metric(s) in the store"
        return f"{len(self.frame)} defined metric(s)" if len(self.frame) else "no defined metrics: define one with %mlops_metric or @mm.metric"

    def __repr__(self) -> str:
        table = self.frame.drop(columns=["time"]).to_string(index=False) if len(self.frame) else ""
        return self.summary() + (f"\n{table}" if table else "")

    def _repr_html_(self) -> str:
        rows = []
        for r in self.frame.to_dict("records"):
            code = f"<pre style='margin:0;font-size:11px'>{h.escape(self.sources[r['name']])}</pre>" if r["name"] in self.sources else ""
            rows.append([h.escape(r["name"]), h.escape(r["kind"]), h.escape(r["better"]), h.escape(r["definition"]) + code, h.escape(r["user"]), r["time"].strftime("%Y-%m-%d %H:%M")])
        return f"<p><b>Metrics</b>: {h.escape(self.summary())}</p>" + (h.table(COLUMNS, rows, raw=True) if rows else "")


def listing(store, changed: str | None = None, dropped: bool = False) -> MetricsListing:
    import pandas as pd

    definitions = store.metric_definitions()
    catalog = Catalog(definitions)
    rows = [(d.name, d.kind, d.better, catalog.defined[d.name].describe(), d.user, pd.to_datetime(d.time, unit="s", utc=True)) for d in definitions]
    sources = {d.name: d.source for d in definitions if d.source}
    return MetricsListing(pd.DataFrame(rows, columns=COLUMNS), sources, changed, dropped)
