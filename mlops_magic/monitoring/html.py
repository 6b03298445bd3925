"""Static HTML of the monitoring results (monitor dashboard, drift report, data check), without ipywidgets.

The results' ``_repr_html_`` and the widgets both render through these functions, so a saved
notebook and a live dashboard show the same thing; widgets import this module, never the reverse.
"""

from __future__ import annotations

from .. import html as h
from ..plots import drift_histogram, health_chart, performance_chart

VERDICT_COLOURS = {"healthy": h.GOOD, "degraded": h.BAD, "drifting": h.WARN, "empty": h.MUTED}
SEVERITY_COLOURS = {"critical": h.BAD, "warning": h.WARN, "info": h.MUTED}
# The drift table's columns a person reads (the DriftReport's table keeps them all): narrow enough for a notebook.
DRIFT_COLUMNS = ["column", "test", "statistic", "p_value", "threshold", "drifted", "psi", "n_current", "note"]
VARIANT_METRICS = 3  # metric columns in the table of versions and variants, the watched one (and its estimate) first: it fits a notebook
ALERT_COLUMNS = ["time", "kind", "metric", "value", "threshold", "message"]
HEALTH_COLUMNS = ["window", "end", "requests", "errors", "error_rate", "latency_p50", "latency_p95", "latency_p99"]
VARIANT_COLUMNS = ["version", "variant", "shadow", "n_predictions", "n_labelled"]


def page(parts: list[str]) -> str:
    return '<div style="font-family:sans-serif;font-size:13px;line-height:1.4">' + "".join(parts) + "</div>"


# --- the monitor dashboard -------------------------------------------------------------------------


def window_text(report) -> str:
    return f"windows of {report.window} predictions" if str(report.window).isdigit() else f"windows of {report.window}"


def figure_html(label: str, value: str, colour: str | None = None, note: str = "") -> str:
    """One headline figure: a small label over a large value."""
    tint = f"color:{colour};" if colour else ""
    note = f"<span style='font-size:11px;color:{h.MUTED}'> {h.escape(note)}</span>" if note else ""
    return (
        "<div style='display:inline-block;margin:2px 18px 2px 0;vertical-align:top'>"
        f"<div style='font-size:11px;color:{h.MUTED}'>{h.escape(label)}</div><div style='font-size:18px;{tint}'>{h.escape(value)}{note}</div></div>"
    )


def headline_figures(report) -> list[str]:
    """The few figures a person looks at first: the watched metric against its bounds, the traffic,
    drift, the service's errors and latency, and the alerts."""
    figures = []
    if report.metric:
        value = report.latest(report.metric)
        bounds = " ".join(f"{n} {b:g}" for n, b in (("min", report.threshold_min), ("max", report.threshold_max)) if b is not None)
        on = f" on {report.slice}" if report.slice else ""
        figures.append(figure_html(f"{report.metric}{on} (newest window)", "n/a" if value is None else f"{value:.3g}", h.BAD if report.crossed() else None, bounds))
    figures.append(figure_html("predictions", f"{report.n_predictions:,}", note=f"{report.n_labelled:,} labelled in view"))
    if report.drift is not None:
        drifted = len(report.drift.drifted_columns)
        figures.append(figure_html("drifted columns", f"{drifted} of {len(report.drift.table)}", h.WARN if drifted else None))
    if len(report.health) and report.health["requests"].sum():
        newest = report.health.iloc[-1]
        figures.append(figure_html("error rate (newest)", f"{float(newest['error_rate']):.1%}", h.BAD if newest["error_rate"] > 0 else None))
        figures.append(figure_html("latency p95 (newest)", f"{float(newest['latency_p95']):.3g} ms"))
    count = 0 if report.alerts is None else len(report.alerts)
    figures.append(figure_html("alerts", str(count), h.BAD if count else None))
    return figures


def header_html(report) -> str:
    """The verdict, the model and its windows, and the headline figures."""
    version = f" v{report.version}" if report.version is not None else ""
    verdict = h.badge(report.verdict, VERDICT_COLOURS[report.verdict])
    return (
        f"<div style='font-family:sans-serif;font-size:14px;line-height:1.3'><b>{h.escape(report.model)}{version}</b> {verdict}"
        f"<span style='color:{h.MUTED};font-size:12px'> · {h.escape(window_text(report))}</span>"
        f"<div style='margin-top:4px'>{''.join(headline_figures(report))}</div></div>"
    )


def drift_html(drift, title: str) -> str:
    if drift is None:
        return f"<div style='color:{h.MUTED}'>{h.escape(title)}: no reference data or no predictions yet</div>"
    rows = drift.table[DRIFT_COLUMNS].head(30)
    columns = [c for c in DRIFT_COLUMNS if c != "note" or rows["note"].fillna("").astype(str).str.strip().any()]  # no empty note column
    cells = [[h.escape(h.fmt(v)) if k != "drifted" else (h.badge("drifted", h.BAD) if v else "no") for k, v in zip(columns, r)] for r in rows[columns].itertuples(index=False)]
    table = h.table(columns, cells, raw=True, wrap=[columns.index("note")] if "note" in columns else [])
    return f"<h4 style='margin:4px 0'>{h.escape(title)}</h4><div style='font-size:12px;line-height:1.4'>{h.escape(drift.summary())}</div>" + table


def drift_report_html(drift) -> str:
    """A ``DriftReport`` on its own: the drift table and the most drifted column's histogram."""
    parts = [drift_html(drift, "data drift")]
    if len(drift.table):
        column = drift.table["column"].iloc[0]
        parts.append(h.png_img(drift_histogram(drift.histograms[column], column), f"{column}: reference vs current"))
    return page(parts)


def alerts_html(alerts) -> str:
    if alerts is None or not len(alerts):
        return f"<div style='color:{h.MUTED}'>no alerts</div>"
    rows = alerts[ALERT_COLUMNS].head(20).assign(time=lambda f: f["time"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    return h.table(ALERT_COLUMNS, rows.itertuples(index=False), wrap=[ALERT_COLUMNS.index("message")])


def variants_html(report) -> str:
    """The newest window per model version and A/B variant, a shadow beside the champion it shadows
    (same rows): row counts, realised and estimated metrics."""
    if not len(report.by_variant):
        return ""
    newest = report.by_variant[report.by_variant["window"] == report.by_variant["window"].max()]
    metrics = [c for c in newest.columns if c not in (*VARIANT_COLUMNS, "window", "end")]
    first = [m for m in (report.metric, f"estimated_{report.metric}") if m in metrics]
    metrics = (first + [m for m in metrics if m not in first])[:VARIANT_METRICS]
    shadows = bool(newest["shadow"].any())  # the shadow column only beside a shadow
    rows = [
        (r["version"], r["variant"] if isinstance(r["variant"], str) else "–", *(["shadow" if r["shadow"] else ""] if shadows else []), r["n_predictions"],
         r["n_labelled"], *(r[m] for m in metrics))
        for r in newest.to_dict("records")
    ]  # fmt: skip
    columns = [c for c in VARIANT_COLUMNS if c != "shadow" or shadows]
    return "<h4 style='margin:4px 0'>newest window per version and variant</h4>" + h.table([*columns, *metrics], rows)


def notes_html(report) -> str:
    """The lines of metrics that could not be computed, and which metrics were computed on a sample (and how big)."""
    from ..store.monitoring import NEWEST_ROWS, SAMPLE_ROWS

    parts = [f"<div style='color:{h.BAD}'>{h.escape(line)}</div>" for line in report.problems]
    if report.sampled and "n_sample" in report.windows:
        newest = int(report.windows["n_sample"].fillna(0).iloc[-1]) if len(report.windows) else 0
        parts.append(
            f"<div style='color:{h.MUTED};font-size:12px;line-height:1.4'>{h.escape(', '.join(report.sampled))}: computed on a sample of each window's labelled rows "
            f"(at most {SAMPLE_ROWS} rows per window, {NEWEST_ROWS} in the newest; {newest} in the newest window: column n_sample); the others from every row</div>"
        )
    return "".join(parts)


def slices_html(report) -> str:
    """The shown metric per slice in the newest window, beside every row of it, with each one's sample size."""
    from .slices import SLICE_ROWS

    if report.slices is None or not len(report.slices) or not len(report.windows) or not report.metric:
        return ""
    metric = report.metric
    newest = report.slices[report.slices["window"] == report.slices["window"].max()]
    whole = report.windows.iloc[-1]

    def cells(name, row, rows):
        return [name, rows, int(row["n_labelled"]), h.fmt(row.get(metric)), h.fmt(row.get(f"estimated_{metric}"))]

    rows = [cells("all rows", whole, f"{int(whole['n_predictions'])}")]
    rows += [cells(r["slice"], r, f"{int(r['n_predictions'])} of {int(r['n_read'])} read") for r in newest.to_dict("records")]
    note = f"slices are cut from the newest {SLICE_ROWS} answered rows of each window (exact for windows up to that size)"
    return (
        f"<h4 style='margin:4px 0'>{h.escape(metric)} per slice (newest window)</h4><div style='color:{h.MUTED};font-size:12px'>{note}</div>"
        + h.table(["slice", "rows", "labelled", metric, f"estimated {metric}"], rows)
    )


def health_html(health) -> str:
    if not len(health):
        return f"<h4 style='margin:4px 0'>service health</h4><div style='color:{h.MUTED}'>no requests logged</div>"
    rows = health[HEALTH_COLUMNS].tail(10).assign(end=lambda f: f["end"].dt.strftime("%H:%M:%S"))
    note = " (counts scaled from a sample of the request log)" if health["sampled"].any() else ""
    return f"<h4 style='margin:4px 0'>service health{note}</h4>" + h.table(HEALTH_COLUMNS, rows.itertuples(index=False))


def alert_windows(report) -> list:
    """The ``end`` of each shown window that a recorded threshold alert on the shown metric refers to."""
    if report.alerts is None or not len(report.alerts) or not len(report.windows):
        return []
    alerted = report.alerts[(report.alerts["kind"] == "threshold") & (report.alerts["metric"] == report.metric)]
    fired = [w["end"] for w in alerted["window"] if isinstance(w, dict) and "end" in w]
    return [end for end in report.windows["end"] if any(abs(end.timestamp() - t) < 1e-3 for t in fired)]


# The loop's chain, in order, and the step each lineage event belongs to.
CHAIN = ("alert", "retrain", "gate", "promotion", "swap")
STEP_OF = {
    "alert.fired": "alert",
    "retrain.started": "retrain",
    "retrain.finished": "retrain",
    "retrain.failed": "retrain",
    "promotion.refused": "gate",
    "model_version.created": "promotion",
    "model_version_alias.created": "promotion",
    "deployment.swapped": "swap",
    "watcher.started": "watch",
    "watcher.stopped": "watch",
    "policies.checked": "check",
}
FAILED_EVENTS = {"retrain.failed", "promotion.refused"}
TIMELINE_ROWS = 30


def event_text(event) -> str:
    """One line saying what a lineage event (a row of ``mm.lineage``) records."""
    import pandas as pd

    detail, version = event["detail"] or {}, event["version"]
    run = f" (run {event['run_id'][:8]})" if isinstance(event["run_id"], str) else ""
    if event["event"] == "model_version.created":
        return f"v{version} registered{run}"
    if event["event"] == "model_version_alias.created":
        before = "none" if detail.get("from_version") is None else f"v{detail['from_version']}"
        return f"{detail.get('alias')}: {before} -> v{version}{run}" + (" (forced past a failed gate)" if detail.get("forced") else "")
    if event["event"] == "deployment.swapped":
        return f"serving {detail.get('variant')}: v{detail.get('from_version')} -> v{detail.get('to_version')}"
    if event["event"] == "watcher.started":
        return f"watcher started (pid {detail.get('pid')}, every {detail.get('interval_s', 0):g} s)"
    if event["event"] == "watcher.stopped":
        return f"watcher stopped after {detail.get('ticks', 0)} evaluations"
    if event["event"] == "policies.checked":
        return f"policies checked by {detail.get('via', 'hand')}" + (f" under CI ({detail['ci']})" if detail.get("ci") else "") + f": {detail.get('fired', 0)} alerts"
    if event["event"] == "alert.fired":
        return str(detail.get("message") or detail.get("kind") or "alert")
    job = "job" if pd.isna(event["job_id"]) else f"job {event['job_id']}"
    said = next((str(detail[k]).strip().splitlines()[-1] for k in ("reason", "error", "message") if detail.get(k)), "")
    return f"{job} {event['event'].split('.', 1)[1]}{run}" + (f": {said}" if said else "")


def chain_html(events) -> str:
    """The steps of the newest chain, from the newest alert that started a retraining (else the newest
    alert, else the first event) on: done, failed, or not reached. Alerts during a cool-down start none."""
    fired = events["event"] == "alert.fired"
    acted = fired & events["alert_id"].isin(set(events.loc[events["event"] == "retrain.started", "alert_id"].dropna()))
    alerts = events.index[acted] if acted.any() else events.index[fired]
    newest = events.loc[alerts[-1]:] if len(alerts) else events
    badges = []
    for step in CHAIN:
        mine = newest[newest["event"].map(STEP_OF) == step]
        colour = h.MUTED if mine.empty else (h.BAD if mine["event"].iloc[-1] in FAILED_EVENTS else h.GOOD)
        badges.append(h.badge(step, colour))
    return "<div style='margin:2px 0'>" + " &rarr; ".join(badges) + "</div>"


def timeline_html(events) -> str:
    """The model's lineage as a timeline, oldest first: the newest chain's steps, then each event."""
    title = "<h4 style='margin:4px 0'>lineage (alert &rarr; retrain &rarr; gate &rarr; promotion &rarr; swap)</h4>"
    if events is None or not len(events):
        return title + f"<div style='color:{h.MUTED}'>no lineage events yet</div>"
    events = events.reset_index(drop=True)
    shown = events.tail(TIMELINE_ROWS)
    rows = [
        [h.escape(e["time"].strftime("%Y-%m-%d %H:%M:%S")), h.badge(STEP_OF[e["event"]], h.BAD if e["event"] in FAILED_EVENTS else h.GOOD),
         h.escape(e["event"]), h.escape(event_text(e))]
        for e in shown.to_dict("records")
    ]  # fmt: skip
    earlier = f"<div style='color:{h.MUTED};font-size:11px'>{len(events) - len(shown)} earlier events: see mm.lineage()</div>" if len(events) > len(shown) else ""
    return title + chain_html(events) + earlier + h.table(["when", "step", "event", "what"], rows, raw=True, wrap=[3])


def swap_times(report) -> list:
    """When the serving process swapped versions, within the shown windows (marked on the performance chart)."""
    events = report.events
    if events is None or not len(events) or not len(report.windows):
        return []
    swaps = events.loc[events["event"] == "deployment.swapped", "time"]
    first, last = report.windows["start"].min(), report.windows["end"].max()
    return [t for t in swaps if first <= t <= last]


def window_positions(report, table):
    """For windows cut by count: the number of the prediction each window of ``table`` ends at (else None)."""
    if not str(report.window).isdigit() or not len(report.windows):
        return None
    counts = report.windows["n_predictions"].astype(int)
    ends = counts.cumsum() + max(0, report.n_predictions - int(counts.sum()))
    return table["window"].map(dict(zip(report.windows["window"], ends))).to_numpy()


def performance_png(report) -> bytes | None:
    """The chart of the watched metric per window (None without windows or a metric)."""
    if not len(report.windows) or not report.metric:
        return None
    table = report.series_table(report.slice)
    positions = window_positions(report, table)
    return performance_chart(
        table, report.metric, report.threshold_min, report.threshold_max, alert_windows(report), swap_times(report),
        positions=positions, x_label=f"prediction number (windows of {report.window})" if positions is not None else None,
    )  # fmt: skip


def health_png(report) -> bytes | None:
    """The latency and error-rate chart (None without requests)."""
    return health_chart(report.health) if len(report.health) and report.health["requests"].sum() else None


def histogram_png(report, column: str | None = None) -> bytes | None:
    """Reference against current of ``column`` (default: the most drifted one); None without drift."""
    if report.drift is None or not len(report.drift.table):
        return None
    column = report.drift.table["column"].iloc[0] if column is None else column
    return drift_histogram(report.drift.histograms[column], column)


CHARTS = {"performance": performance_png, "health": health_png, "histogram": histogram_png}


def charts(report, names=tuple(CHARTS)) -> dict[str, bytes]:
    """The dashboard's PNG charts of ``names`` (performance, health, the most drifted column's histogram) that have data."""
    drawn = {name: CHARTS[name](report) for name in names}
    return {name: png for name, png in drawn.items() if png is not None}


def section(title: str) -> str:
    return f"<h3 style='margin:12px 0 4px;font-size:14px;border-bottom:1px solid var(--jp-border-color2, #d0d7de)'>{h.escape(title)}</h3>"


def performance_html(report, images: dict[str, bytes]) -> str:
    """The performance part: the chart (or why there is none), the notes, variants and slices."""
    parts = []
    if "performance" in images:
        parts.append(h.png_img(images["performance"], f"{report.metric} per window" + (f" on {report.slice}" if report.slice else "")))
    elif report.n_predictions == 0:
        parts.append(f"<div style='color:{h.MUTED}'>no predictions logged yet: serve the model and send requests</div>")
    elif not report.metric:
        parts.append(f"<div style='color:{h.MUTED}'>no metric to chart: give --metric NAME</div>")
    return "".join([*parts, notes_html(report), variants_html(report), slices_html(report)])


def monitor_html(report, images: dict[str, bytes] | None = None) -> str:
    """The dashboard as static HTML: the verdict and headline figures, then one section per tab."""
    images = charts(report) if images is None else images
    parts = [header_html(report), section("performance"), performance_html(report, images), section("drift"),
             drift_html(report.drift, "data drift (newest window vs training data)")]  # fmt: skip
    if "histogram" in images:
        parts.append(h.png_img(images["histogram"], "reference vs current"))
    parts += [drift_html(report.prediction_drift, "prediction drift"), section("service health"), health_html(report.health)]
    if "health" in images:
        parts.append(h.png_img(images["health"], "latency and errors"))
    parts += [section("alerts"), alerts_html(report.alerts), section("timeline"), timeline_html(report.events)]
    return page(parts)


# --- the data check --------------------------------------------------------------------------------


def findings_html(report) -> str:
    if not len(report.findings):
        return f"<div style='color:{h.GOOD}'>no findings: the data looks clean</div>"
    rows = [
        [h.badge(r.severity, SEVERITY_COLOURS[r.severity]), h.escape(r.column), h.escape(r.finding), h.escape(r.suggestion)]
        for r in report.findings.itertuples(index=False)
    ]
    return h.table(["severity", "column", "finding", "suggestion"], rows, raw=True)


def baseline_html(report) -> str:
    gap = report.baseline
    if gap is None:
        return f"<div style='color:{h.MUTED}'>does ML help? give a target column to compare a model with the dummy baseline</div>"
    colour = h.GOOD if gap.helps else h.WARN
    folds = h.table(
        ["fold", f"{gap.model} {gap.metric}", f"dummy {gap.metric}"],
        [(i + 1, m, d) for i, (m, d) in enumerate(zip(gap.model_scores, gap.dummy_scores))],
    )
    return f"<h4 style='margin:4px 0'>does ML help?</h4><div style='color:{colour}'>{h.escape(gap.summary())}</div>{folds}"


def profile_html(report) -> str:
    rows = []
    for column, info in report.profile.items():
        if info["kind"] == "numeric":
            shape = f"mean {h.fmt(info['mean'])}, std {h.fmt(info['std'])}, range [{h.fmt(info['min'])}, {h.fmt(info['max'])}]"
        else:
            shape = f"{info['n_unique']} categories"
        role = " (target)" if column == report.target else ""
        rows.append((f"{column}{role}", info["dtype"], info["missing"], shape))
    return "<h4 style='margin:4px 0'>columns</h4>" + h.table(["column", "dtype", "missing", "values"], rows)


def data_header_html(report) -> str:
    head = f"<div style='font-size:14px'><b>data check</b> · {report.n_rows} rows × {report.n_columns} columns"
    if report.target:
        head += f" · target {h.escape(report.target)} ({h.escape(report.task)})"
    return head + "</div>"


def data_report_html(report) -> str:
    parts = [data_header_html(report), findings_html(report), baseline_html(report)]
    if report.target_summary.get("classes"):
        shares = ", ".join(f"{k}: {v:.1%}" for k, v in report.target_summary["classes"].items())
        parts.append(f"<div style='font-size:12px'>class balance: {h.escape(shares)}</div>")
    elif report.target_summary:
        spread = ", ".join(f"{k} {h.fmt(v)}" for k, v in report.target_summary.items())
        parts.append(f"<div style='font-size:12px'>target spread: {h.escape(spread)}</div>")
    parts.append(profile_html(report))
    return page(parts)
