"""Assemble a ``MonitorReport`` for a served model from the store: windows, drift, health, alerts.

The reference is the training data of the run behind the served version (its bounded sample);
the current data is the newest window of logged inputs. Realised metrics and the confidence-based
estimates come from SQL aggregates over each window's rows; ROC AUC (which needs every class's
probability) and drift use a bounded sample of each window's rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..metrics import Catalog, Confusion
from ..metrics.catalog import BUILTIN
from ..store.aggregates import BUCKET_S
from ..store.entities import PRIMARY_METRIC
from ..store.monitoring import Policy
from . import performance
from .drift import drift_frames
from .health import HEALTH_COLUMNS, health_windows
from .policies import POLICY_METRICS, check_metric, evaluate, on_window
from .report import MonitorReport
from .slices import SLICE_ROWS, check_slice, slice_table
from .windows import DEFAULT_WINDOW, parse_window

VARIANT_KEYS = ["win", "version", "variant", "shadow"]
NO_VARIANT = ""  # stands for "no A/B variant" while grouping (pandas groups drop None keys)
_models: dict[str, Any] = {}
_scorers: dict[tuple[str, str | None], Any] = {}
_reference_outputs: dict[tuple[str, str], np.ndarray] = {}


def load_version_model(store, run, variable: str):
    """The model ``variable`` of ``run``, loaded once per process (the artifact's sha256 is its key)."""
    record = run.model_named(variable)
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


def _input_columns(run) -> list[str] | None:
    """The model's input columns (its training data's, the target left out), or None when unknown."""
    train = run.datasets.get("train")
    return [c for c in train.columns if c != train.target] if train is not None else None


def _inputs(sample, features: list[str] | None):
    frame = sample[[c for c in sample.columns if c.startswith("inputs.")]]
    frame = frame.rename(columns=lambda c: c[len("inputs.") :])
    return frame if features is None else frame.reindex(columns=features)


def _window_table(groups, spec, until: float):
    """Windows oldest first: number, start and end (UTC, and as epoch seconds), and their sizes
    (answered predictions only: shadow rows are scored beside them)."""
    import pandas as pd

    columns = ["win", "start_s", "end_s", "newest_id", "window", "start", "end", "n_predictions", "n_labelled"]
    if groups is None or not len(groups):
        return pd.DataFrame(columns=columns)
    served = groups[~groups["shadow"]]
    windows = (
        served.assign(n_labelled=served["n"].where(served["labelled"], 0))
        .groupby("win")
        .agg(n_predictions=("n", "sum"), n_labelled=("n_labelled", "sum"), first=("first", "min"), last=("last", "max"), newest_id=("newest_id", "first"))
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
            "newest_id": windows["newest_id"] if spec.count is not None else None,
            "window": range(len(windows)),
            "start": pd.to_datetime(starts.astype(float), unit="s", utc=True),
            "end": pd.to_datetime(ends.astype(float), unit="s", utc=True),
            "n_predictions": windows["n_predictions"].astype(int),
            "n_labelled": windows["n_labelled"].astype(int),
        }
    )
    return table[columns]


@dataclass
class _Wanted:
    """The metrics a report computes beyond the built-ins: those that decompose over confusion
    counts (from the aggregates, realised and estimated) and the others (on each window's sample),
    with the line of each one that could not be computed."""

    counts: list
    rows: list
    problems: dict[str, str]

    @classmethod
    def of(cls, catalog: Catalog, task: str, names) -> _Wanted:
        chosen = {m.name: m for m in catalog.for_task(task)}
        chosen.update({n: m for n in names if n and n not in POLICY_METRICS and (m := catalog.get(n)) is not None and m.applies_to(task)})
        counts = [m for m in chosen.values() if m.counts and task != "regression"]
        return cls(counts, [m for m in chosen.values() if m not in counts], {})


@dataclass
class _Scored:
    """What scores rows: each version's ``_Scorer``, the classes of all of them."""

    scorers: dict[int, Any]
    classes: list[Any]


def _realised(groups, task: str, keys: list[str], wanted: _Wanted | None = None):
    """Realised metrics of the labelled rows grouped by ``keys`` (``win`` alone: answered rows only)."""
    import pandas as pd

    labelled = groups[groups["labelled"]]
    if keys == ["win"]:
        labelled = labelled[~labelled["shadow"]]
    if task != "regression":  # one (output, label) count per key: the confidence bins summed away
        labelled = labelled.groupby([*keys, "output", "label"], sort=False)["n"].sum().reset_index()
    rows = []
    for key, group in labelled.groupby(keys, sort=False):
        if task == "regression":
            totals = group[["n", "sum_error2", "sum_abs_error", "sum_label", "sum_label2"]].sum()
            figures = performance.regression_metrics(*totals)
        else:
            figures = performance.classification_metrics(group, wanted.counts if wanted else (), wanted.problems if wanted else None)
        rows.append({**dict(zip(keys, key)), **figures})
    names = performance.REGRESSION_METRICS if task == "regression" else performance.CLASSIFICATION_METRICS[:4]
    extra = [m.name for m in wanted.counts] if wanted and task != "regression" else []
    return pd.DataFrame(rows, columns=[*keys, *names, *extra])


@dataclass
class _Scorer:
    """A served version's model, its input columns and its ``ConfidenceModel`` (cached per artifact)."""

    model: Any
    features: list[str] | None
    confidence: performance.ConfidenceModel


def _scorer(store, name: str, version: int) -> _Scorer | None:
    """The scorer of ``name`` version ``version``, or None when its model gives no probabilities."""
    found = store.model_version(name, version=int(version))
    run = store.get_run(found.run_id)
    record, model = load_version_model(store, run, found.variable)
    if not hasattr(model, "predict_proba"):
        return None
    dataset = run.datasets.get("eval")
    key = (record.sha256, dataset.sample_sha256 if dataset is not None else None)
    if key not in _scorers:
        features = _input_columns(run)
        _scorers[key] = _Scorer(model, features, _confidence_model(store, dataset, model, features))
    return _scorers[key]


def _confidence_model(store, dataset, model, features) -> performance.ConfidenceModel:
    """Calibrated on the run's labelled eval sample (50 rows at least), else the raw confidence."""
    classes = list(model.classes_)
    if dataset is None or not dataset.sample_sha256 or not dataset.target:
        return performance.ConfidenceModel(classes)
    frame = store.artifacts.load_frame(dataset.sample_sha256)
    if dataset.target not in frame.columns or len(frame) < 50:
        return performance.ConfidenceModel(classes)
    X = frame.drop(columns=dataset.target)
    proba = model.predict_proba(X if features is None else X.reindex(columns=features))
    return performance.ConfidenceModel.fit(classes, proba, frame[dataset.target].to_numpy(dtype=object))


def _sample_probabilities(sample, scorers) -> dict[int, Any]:
    """Per version: its sample rows' class probabilities (rows it cannot score are left out)."""
    found = {}
    for version, rows in sample.groupby("version"):
        scorer = scorers.get(int(version))
        if scorer is None:
            continue
        try:
            found[int(version)] = (rows.index, scorer.model.predict_proba(_inputs(rows, scorer.features)))
        except ValueError:  # logged inputs the model cannot score (e.g. missing values)
            continue
    return found


def _estimates(groups, sample, scorers, probabilities, classes) -> dict[tuple, performance.ExpectedConfusion]:
    """Expected confusion per (win, version, variant, shadow) from the confidence histogram of each
    window's rows; rows logged without a confidence (before the serving process logged it) count as
    the sampled rows like them do, scaled to their number."""
    sampled = {key: rows for key, rows in sample.groupby(["win", "version", "variant"], sort=False)}
    found = {}
    for key, rows in groups.groupby(VARIANT_KEYS, sort=False):
        scorer = scorers.get(int(key[1]))
        if scorer is None:
            continue  # no probabilities from this version: the others are still estimated
        expected = found[key] = performance.ExpectedConfusion(classes)
        logged = rows[rows["bin"].notna()]
        n = logged["n"].to_numpy(dtype=float)
        expected.add(scorer.confidence, logged["output"], n, logged["sum_confidence"].to_numpy(dtype=float) / np.maximum(n, 1))
        missing = float(rows.loc[rows["bin"].isna(), "n"].sum())
        like = sampled.get(key[:3]) if not key[3] else None  # the sample holds answered rows only
        if missing and like is not None and int(key[1]) in probabilities:
            index, proba = probabilities[int(key[1])]
            like = like[like["confidence"].isna() & like.index.isin(index)]
            if len(like):
                answered = scorer.confidence.positions(like["output"])
                at = index.get_indexer(like.index)
                confidence = np.where(answered >= 0, proba[at, np.maximum(answered, 0)], proba[at].max(axis=1))
                expected.add(scorer.confidence, like["output"], np.full(len(like), missing / len(like)), confidence)
    return found


def _roc_aucs(sample, scorers, probabilities) -> dict[int, float]:
    """ROC AUC per window on its labelled sample rows (the mean over versions when several answered)."""
    found = {}
    for win, rows in sample[sample["label"].notna()].groupby("win"):
        aucs = []
        for version, (index, proba) in probabilities.items():
            inside = rows[rows["version"] == version]
            if len(inside) > 1:
                aucs.append(performance.roc_auc(list(inside["label"]), proba[index.get_indexer(inside.index)], scorers[version].confidence.classes))
        found[int(win)] = float(np.mean(aucs)) if aucs else math.nan
    return found


def _model_figures(store, name, groups, sample, wanted: _Wanted):
    """The figures that need the models: per window the CBPE estimates of the answered rows and ROC
    AUC, and per (win, version, variant, shadow) the estimates. A version whose model gives no
    probabilities contributes none; the others still do."""
    import pandas as pd

    scorers = {int(v): s for v in groups["version"].unique() if (s := _scorer(store, name, v)) is not None}
    classes = sorted({c for s in scorers.values() for c in s.confidence.classes}, key=repr)
    probabilities = _sample_probabilities(sample, scorers)
    estimates = _estimates(groups, sample, scorers, probabilities, classes)
    by_variant = pd.DataFrame([{**dict(zip(VARIANT_KEYS, key)), **expected.metrics(wanted.counts, wanted.problems)} for key, expected in estimates.items()])
    answered: dict[int, performance.ExpectedConfusion] = {}
    for key, expected in estimates.items():
        if not key[3]:
            win = int(key[0])
            answered[win] = answered[win].merge(expected) if win in answered else expected
    windows = {win: expected.metrics(wanted.counts, wanted.problems) for win, expected in answered.items()}
    for win, auc in _roc_aucs(sample, scorers, probabilities).items():
        windows.setdefault(win, {})["roc_auc"] = auc
    return pd.DataFrame([{"win": w, **f} for w, f in windows.items()]), by_variant, _Scored(scorers, classes)


def _proba_matrix(rows, scored: _Scored):
    """The class probabilities of ``rows`` (columns in ``scored.classes`` order), or None when a row's
    version gives none or its logged inputs cannot be scored."""
    if not scored.classes or not len(rows):
        return None
    matrix = np.zeros((len(rows), len(scored.classes)))
    found = _sample_probabilities(rows.reset_index(drop=True), scored.scorers)
    if sum(len(index) for index, _ in found.values()) < len(rows):
        return None
    for version, (index, proba) in found.items():
        at = [scored.classes.index(c) for c in scored.scorers[version].confidence.classes]
        matrix[np.ix_(index.to_numpy(), at)] = proba
    return matrix


def _row_figures(rows, wanted: _Wanted, scored: _Scored, features) -> dict[str, float]:
    """The metrics of ``wanted.rows`` on the labelled ``rows`` (NaN where there are none)."""
    labelled = rows[rows["label"].notna()]
    if not wanted.rows or not len(labelled):
        return {m.name: math.nan for m in wanted.rows}
    needs_proba = any("y_proba" in m.needs for m in wanted.rows)
    proba = _proba_matrix(labelled, scored) if needs_proba else None
    values, problems = Catalog.score(wanted.rows, list(labelled["label"]), list(labelled["output"]), proba, scored.classes, _inputs(labelled, features).reset_index(drop=True))
    for metric, line in problems.items():
        wanted.problems.setdefault(metric, line)
    return {m.name: values.get(m.name, math.nan) for m in wanted.rows}


def _sampled(sample, wanted: _Wanted, scored: _Scored, features):
    """Per window: the metrics that need rows, on its sample's labelled rows, and ``n_sample`` (how many)."""
    import pandas as pd

    found = [
        {"win": win, "n_sample": int(rows["label"].notna().sum()), **_row_figures(rows, wanted, scored, features)}
        for win, rows in sample.groupby("win")
    ]
    return pd.DataFrame(found, columns=["win", "n_sample", *(m.name for m in wanted.rows)])


def _set_figures(rows, task: str, wanted: _Wanted, scored: _Scored, features) -> dict[str, float]:
    """Every metric of a set of answered rows (a slice of a window): realised on its labelled rows,
    estimated (classifiers) from the confidences of all of them, and those that need rows."""
    labelled = rows[rows["label"].notna()]
    figures: dict[str, float] = {}
    if task == "regression":
        if len(labelled):
            figures.update({m: BUILTIN[m].of_rows(list(labelled["label"]), list(labelled["output"])) for m in performance.REGRESSION_METRICS})
    else:
        if len(labelled):
            confusion = Confusion.from_pairs(labelled["label"], labelled["output"], np.ones(len(labelled)))
            figures.update(confusion.macro())
            figures.update({m.name: performance.of_counts(m, confusion, wanted.problems) for m in wanted.counts})
        expected = performance.ExpectedConfusion(scored.classes)
        for version, part in rows[rows["confidence"].notna()].groupby("version"):
            scorer = scored.scorers.get(int(version))
            if scorer is not None:
                expected.add(scorer.confidence, part["output"], np.ones(len(part)), part["confidence"].to_numpy(dtype=float))
        if expected.confusion.total > 0:
            figures.update(expected.metrics(wanted.counts, wanted.problems))
    figures.update(_row_figures(rows, wanted, scored, features))
    return figures


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


def _by_variant(groups, task, estimates, table, wanted: _Wanted):
    """Per window, version, A/B variant and shadow: rows, labelled rows, realised and estimated metrics."""
    sizes = (
        groups.assign(n_labelled=groups["n"].where(groups["labelled"], 0))
        .groupby(VARIANT_KEYS, sort=False)
        .agg(n_predictions=("n", "sum"), n_labelled=("n_labelled", "sum"))
        .reset_index()
    )
    frame = sizes.merge(_realised(groups, task, VARIANT_KEYS, wanted), on=VARIANT_KEYS, how="left")
    if len(estimates):
        frame = frame.merge(estimates, on=VARIANT_KEYS, how="left")
    frame = frame.merge(table[["win", "window", "end"]], on="win")
    frame["variant"] = frame["variant"].replace(NO_VARIANT, None)
    return frame.drop(columns="win").sort_values(["window", "shadow", "version"]).reset_index(drop=True)


def _observed(store, name, run, variable, task, groups, table, reference, drift_options, wanted: _Wanted, slices: list[str]):
    """What the logged predictions show: metrics per window, per variant and per slice, drift, service health."""
    import pandas as pd

    features = list(reference.columns) if reference is not None else None
    bounds = list(zip(table["win"], table["start_s"], table["end_s"], table["newest_id"], table["n_predictions"]))
    sample = store.window_sample(name, bounds)
    sample["variant"] = sample["variant"].fillna(NO_VARIANT)
    table = table.merge(_realised(groups, task, ["win"], wanted), on="win", how="left")
    estimates, scored = pd.DataFrame(), _Scored({}, [])
    if task == "classification":
        figures, estimates, scored = _model_figures(store, name, groups, sample, wanted)
        if len(figures):
            table = table.drop(columns="roc_auc", errors="ignore").merge(figures, on="win", how="left")
    if wanted.rows:
        table = table.merge(_sampled(sample, wanted, scored, features), on="win", how="left")
    sliced = None
    if slices:
        rows = store.window_sample(name, bounds, per_window=SLICE_ROWS, newest=SLICE_ROWS)
        sliced = slice_table(rows, _inputs(rows, None), table, slices, lambda part: _set_figures(part, task, wanted, scored, features), wanted.problems)
    by_variant = _by_variant(groups, task, estimates, table, wanted)
    drift = prediction_drift = None
    if reference is not None:
        current = sample[sample["win"] == sample["win"].min()]
        drift = drift_frames(reference, _inputs(current, features), **drift_options)
        prediction_drift = _prediction_drift(store, run, variable, reference, current["output"], task)
    spans = list(zip(table["window"], table["start_s"], table["end_s"]))
    requests, step = store.request_rows(name, since=spans[0][1], until=spans[-1][2])
    return table, by_variant, drift, prediction_drift, health_windows(requests, spans, step), sliced


def monitor_model(
    store,
    name: str,
    window: str | int = DEFAULT_WINDOW,
    metric: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    max_windows: int = 50,
    until: float | None = None,
    record: bool = True,
    save_policy: bool = True,
    slices: list[str] | None = None,
    **drift_options,
) -> MonitorReport:
    """How ``name`` is doing over its newest windows (ending at ``until``, default now).

    With ``metric`` and a bound, the policy is stored (unless not ``save_policy``; on the one slice
    given, if any) and drawn; with ``record``, the alerts that the policies stored for this window
    (and drift) raise are recorded. ``slices`` (pandas queries over the logged inputs) are shown
    beside the whole, with the slices of this window's policies.
    """
    import pandas as pd

    spec = parse_window(window)
    if until is None:
        until = time.time()
        if spec.seconds is not None and spec.seconds % BUCKET_S == 0:  # windows of whole minutes end at the next whole minute:
            until = math.ceil(until / BUCKET_S) * BUCKET_S  # no edge cuts a minute, so none is read as rows
    versions = store.model_versions(name)  # NotFoundError names the fix
    served = store.newest_version(name, until)
    found = store.model_version(name, version=served if served is not None else versions[-1].version)
    run = store.get_run(found.run_id)
    task = run.task or "classification"
    catalog = Catalog.of(store)
    slices = [check_slice(s, _input_columns(run)) for s in slices or []]
    if metric is not None:
        check_metric(metric, catalog)
    shown = None
    if metric is not None and (min_value is not None or max_value is not None):
        if len(slices) > 1:
            raise InvalidInputError("a policy watches one slice: give one --slice with --min/--max (several slices can be shown without a threshold).")
        chosen = slices[0] if slices else None
        shown = Policy(None, name, metric, min_value, max_value, spec.text, time.time(), slice=chosen)
        if save_policy:
            shown = store.set_policy(name, metric, min_value, max_value, spec.text, slice=chosen)
    policies = store.policies(name)
    own = on_window(policies, spec.text)
    if shown is None:
        asked = slices[0] if len(slices) == 1 else None
        shown = next((p for p in own if p.metric == metric and p.slice == asked), None) if metric else (own[0] if own else None)
    slices = list(dict.fromkeys([*slices, *(p.slice for p in own if p.slice)]))
    wanted = _Wanted.of(catalog, task, [metric, *(p.metric for p in own)])
    groups = store.prediction_windows(name, spec.count, spec.seconds, max_windows, until, task=task) if served is not None else None
    if groups is not None:
        groups["variant"] = groups["variant"].fillna(NO_VARIANT)
    table = _window_table(groups, spec, until)
    by_variant, drift, prediction_drift, sliced = pd.DataFrame(), None, None, None
    health = pd.DataFrame(columns=[*HEALTH_COLUMNS, "sampled"])
    if len(table):
        reference = reference_features(store, run)
        table, by_variant, drift, prediction_drift, health, sliced = _observed(
            store, name, run, found.variable, task, groups, table, reference, drift_options, wanted, slices
        )
    report = MonitorReport(
        model=name,
        version=found.version if len(table) else None,
        task=task,
        window=spec.text,
        metric=shown.metric if shown else (metric or PRIMARY_METRIC.get(task)),
        threshold_min=shown.min_value if shown else None,
        threshold_max=shown.max_value if shown else None,
        windows=table.drop(columns=["win", "start_s", "end_s", "newest_id"]),
        by_variant=by_variant,
        health=health,
        drift=drift,
        prediction_drift=prediction_drift,
        alerts=None,
        n_predictions=store.count_predictions(name),
        n_labelled=int(table["n_labelled"].sum()) if len(table) else 0,
        slice=shown.slice if shown else None,
        slices=sliced if sliced is not None else pd.DataFrame(columns=["slice", "window", "start", "end", "n_read", "n_predictions", "n_labelled"]),
        problems=list(wanted.problems.values()),
        sampled=[m.name for m in wanted.rows],
    )
    if record:
        report.fired = evaluate(report, policies)
        report.new_alerts = store.add_alerts(report.fired)
    report.alerts = store.alerts_frame(name, limit=100)
    report.events = store.events_frame(name)
    return report
