"""Assemble a ``MonitorReport`` for a served model from the store: windows, drift, health, alerts.

The reference is the training data of the run behind the served version (its bounded sample);
the current data is the newest window of logged inputs. Realised metrics come from SQL aggregates;
probabilities (ROC AUC, estimates) and drift use the bounded per-window sample.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..store.monitoring import Policy
from . import performance
from .drift import drift_frames
from .health import HEALTH_COLUMNS, health_windows
from .policies import check_metric, evaluate
from .report import MonitorReport
from .windows import parse_window

PRIMARY = {"classification": "accuracy", "regression": "rmse"}
_models: dict[str, Any] = {}
_reference_outputs: dict[tuple[str, str], np.ndarray] = {}


def load_version_model(store, run, variable: str):
    """The model ``variable`` of ``run``, loaded once per process (the artifact's sha256 is its key)."""
    record = next(m for m in run.models if m.variable == variable)
    if record.sha256 not in _models:
        _models[record.sha256] = store.artifacts.load_model(record.sha256, record.trusted_types)
    return record, _models[record.sha256]


def reference_features(store, run):
    """The input columns of the run's training sample (the drift reference), or None when it kept none."""
    dataset = run.datasets.get("train")
    if dataset is None or not dataset.sample_sha256:
        return None
    frame = store.artifacts.load_frame(dataset.sample_sha256)
    return frame.drop(columns=dataset.target) if dataset.target in frame.columns else frame


def _task(run, record) -> str | None:
    return run.tags.get("mlops.task") or (record.task if record else None)


def _inputs(sample, features: list[str] | None):
    frame = sample[[c for c in sample.columns if c.startswith("inputs.")]]
    frame = frame.rename(columns=lambda c: c[len("inputs.") :])
    return frame if features is None else frame.reindex(columns=features)


def _window_table(groups, spec, until: float):
    """Windows oldest first: number, start and end (UTC, and as epoch seconds), and their sizes."""
    import pandas as pd

    columns = ["win", "start_s", "end_s", "window", "start", "end", "n_predictions", "n_labelled"]
    if groups is None or not len(groups):
        return pd.DataFrame(columns=columns)
    served = groups[~groups["shadow"].astype(bool)]
    windows = (
        served.assign(n_labelled=served["n"].where(served["labelled"], 0))
        .groupby("win")
        .agg(n_predictions=("n", "sum"), n_labelled=("n_labelled", "sum"), first=("first", "min"), last=("last", "max"))
        .sort_index(ascending=False)
        .reset_index()
    )
    if spec.seconds is not None:
        ends = until - windows["win"] * spec.seconds
        starts = ends - spec.seconds
    else:
        ends = windows["last"]
        starts = windows["last"].shift(1).fillna(windows["first"] - 1e-3)
    table = pd.DataFrame(
        {
            "win": windows["win"],
            "start_s": starts.astype(float),
            "end_s": ends.astype(float),
            "window": range(len(windows)),
            "start": pd.to_datetime(starts.astype(float), unit="s", utc=True),
            "end": pd.to_datetime(ends.astype(float), unit="s", utc=True),
            "n_predictions": windows["n_predictions"].astype(int),
            "n_labelled": windows["n_labelled"].astype(int),
        }
    )
    return table[columns]


def _realised(groups, task: str, keys: list[str]):
    """Realised metrics of the labelled rows grouped by ``keys`` (``win``, and version/variant/shadow)."""
    import pandas as pd

    labelled = groups[groups["labelled"]]
    if keys == ["win"]:
        labelled = labelled[~labelled["shadow"]]
    rows = []
    for key, group in labelled.groupby(keys, dropna=False, sort=False):
        if task == "regression":
            totals = group[["n", "sum_error2", "sum_abs_error", "sum_label", "sum_label2"]].sum()
            figures = performance.regression_metrics(*totals)
        else:
            figures = performance.classification_metrics(group)
        rows.append({**dict(zip(keys, key)), **figures})
    names = performance.REGRESSION_METRICS if task == "regression" else performance.CLASSIFICATION_METRICS[:4]
    return pd.DataFrame(rows, columns=[*keys, *names])


def _model_figures(store, name, sample, features, task) -> dict[int, dict[str, float]]:
    """Per window: ROC AUC on the labelled sample rows, and CBPE estimates on all sample rows."""
    figures: dict[int, dict[str, float]] = {}
    if task != "classification" or not len(sample):
        return figures
    per_row = []
    for version, rows in sample.groupby("version"):
        found = store.model_version(name, version=int(version))
        run = store.get_run(found.run_id)
        _, model = load_version_model(store, run, found.variable)
        if not hasattr(model, "predict_proba"):
            return figures
        classes = list(model.classes_)
        try:
            proba = model.predict_proba(_inputs(rows, features))
        except ValueError:  # logged inputs the model cannot score (e.g. missing values): no estimates
            return figures
        position = {c: i for i, c in enumerate(classes)}
        predicted = np.array([position.get(o, -1) for o in rows["output"]])
        predicted = np.where(predicted >= 0, predicted, proba.argmax(axis=1))
        calibration = _calibration(store, run, model, classes, features)
        per_row.append((rows, proba, predicted, classes, calibration))
    for win in sorted(sample["win"].unique()):
        estimates, aucs = [], []
        for rows, proba, predicted, classes, calibration in per_row:
            inside = (rows["win"] == win).to_numpy()
            if not inside.any():
                continue
            estimates.append((inside.sum(), performance.estimate_metrics(proba[inside], predicted[inside], calibration)))
            labelled = inside & rows["label"].notna().to_numpy()
            if labelled.sum() > 1:
                aucs.append(performance.roc_auc(list(rows["label"][labelled]), proba[labelled], classes))
        total = sum(n for n, _ in estimates)
        result = {
            f"estimated_{m}": sum(n * e.get(m, math.nan) for n, e in estimates) / total for m in performance.ESTIMATED_METRICS
        }
        result["roc_auc"] = float(np.mean(aucs)) if aucs else math.nan
        figures[int(win)] = result
    return figures


def _calibration(store, run, model, classes, features):
    """Isotonic confidence calibration on the run's eval sample (needs labels), else None."""
    dataset = run.datasets.get("eval")
    if dataset is None or not dataset.sample_sha256 or not dataset.target:
        return None
    frame = store.artifacts.load_frame(dataset.sample_sha256)
    if dataset.target not in frame.columns or len(frame) < 50:
        return None
    X = frame.drop(columns=dataset.target)
    X = X if features is None else X.reindex(columns=features)
    proba = model.predict_proba(X)
    predicted = proba.argmax(axis=1)
    correct = np.asarray(classes, dtype=object)[predicted] == frame[dataset.target].to_numpy(dtype=object)
    return performance.calibrate_confidence(proba[np.arange(len(proba)), predicted], correct)


def _prediction_drift(store, run, variable, reference, outputs, task):
    import pandas as pd

    dataset = run.datasets["train"]
    record, model = load_version_model(store, run, variable)
    key = (record.sha256, dataset.sample_sha256)
    if key not in _reference_outputs:
        _reference_outputs[key] = np.asarray(model.predict(reference))
    categorical = [] if task == "regression" else ["prediction"]
    return drift_frames(
        pd.DataFrame({"prediction": _reference_outputs[key]}), pd.DataFrame({"prediction": list(outputs)}), categorical=categorical
    )


def _observed(store, name, run, variable, task, groups, table, reference, drift_options):
    """What the logged predictions show: metrics per window and per variant, drift, service health."""
    import pandas as pd

    features = list(reference.columns) if reference is not None else None
    sample = store.prediction_sample(name, list(zip(table["win"], table["start_s"], table["end_s"])))
    table = table.merge(_realised(groups, task, ["win"]), on="win", how="left")
    figures = _model_figures(store, name, sample, features, task)
    if figures:
        table = table.drop(columns="roc_auc", errors="ignore").merge(pd.DataFrame([{"win": w, **f} for w, f in figures.items()]), on="win", how="left")
    by_variant = _realised(groups, task, ["win", "version", "variant", "shadow"]).merge(table[["win", "window", "end"]], on="win")
    by_variant = by_variant.drop(columns="win").sort_values(["window", "version"]).reset_index(drop=True)
    drift = prediction_drift = None
    if reference is not None:
        current = sample[sample["win"] == sample["win"].min()]
        drift = drift_frames(reference, _inputs(current, features), **drift_options)
        prediction_drift = _prediction_drift(store, run, variable, reference, current["output"], task)
    bounds = list(zip(table["window"], table["start_s"], table["end_s"]))
    requests, step = store.request_rows(name, since=bounds[0][1], until=bounds[-1][2])
    return table, by_variant, drift, prediction_drift, health_windows(requests, bounds, step)


def monitor_model(
    store,
    name: str,
    window: str | int = "200",
    metric: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    max_windows: int = 50,
    until: float | None = None,
    record: bool = True,
    save_policy: bool = True,
    **drift_options,
) -> MonitorReport:
    """How ``name`` is doing over its newest windows (ending at ``until``, default now).

    With ``metric`` and a bound, the policy is stored (unless not ``save_policy``) and drawn; with
    ``record``, the alerts that the stored policies (and drift) raise are recorded.
    """
    import pandas as pd

    spec = parse_window(window)
    until = time.time() if until is None else until
    versions = store.model_versions(name)  # NotFoundError names the fix
    shown = None
    if metric is not None and (min_value is not None or max_value is not None):
        check_metric(metric)
        shown = Policy(None, name, metric, min_value, max_value, spec.text, time.time())
        if save_policy:
            shown = store.set_policy(name, metric, min_value, max_value, spec.text)
    elif metric is not None:
        check_metric(metric)
    policies = store.policies(name)
    if shown is None:
        shown = next((p for p in policies if p.metric == metric), None) if metric else (policies[0] if policies else None)
    served = store.newest_version(name, until)
    found = store.model_version(name, version=served if served is not None else versions[-1].version)
    run = store.get_run(found.run_id)
    model_record = next((m for m in run.models if m.variable == found.variable), None)
    task = _task(run, model_record) or "classification"
    groups = store.prediction_windows(name, spec.count, spec.seconds, max_windows, until, task=task)["groups"] if served is not None else None
    table = _window_table(groups, spec, until)
    by_variant, drift, prediction_drift = pd.DataFrame(), None, None
    health = pd.DataFrame(columns=[*HEALTH_COLUMNS, "sampled"])
    if len(table):
        reference = reference_features(store, run)
        table, by_variant, drift, prediction_drift, health = _observed(store, name, run, found.variable, task, groups, table, reference, drift_options)
    report = MonitorReport(
        model=name,
        version=found.version if len(table) else None,
        task=task,
        window=spec.text,
        metric=shown.metric if shown else (metric or PRIMARY.get(task)),
        threshold_min=shown.min_value if shown else None,
        threshold_max=shown.max_value if shown else None,
        windows=table.drop(columns=["win", "start_s", "end_s"]),
        by_variant=by_variant,
        health=health,
        drift=drift,
        prediction_drift=prediction_drift,
        alerts=None,
        n_predictions=store.count_predictions(name),
        n_labelled=int(table["n_labelled"].sum()) if len(table) else 0,
    )
    if record:
        report.fired = evaluate(report, policies)
        report.new_alerts = store.add_alerts(report.fired)
    report.alerts = store.alerts_frame(name, limit=100)
    return report
