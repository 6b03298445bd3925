"""The one door: every user-facing operation of mlops_magic is a function here.

The magics and the command line parse arguments, call one of these, and display the result.
Heavy libraries (pandas, scikit-learn, skops) are imported inside the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError
from .loop.flags import DEFAULT_COOLDOWN
from .monitoring.windows import DEFAULT_WINDOW
from .serving import DEFAULT_WORKERS
from .session import Session

if TYPE_CHECKING:  # the store is imported on first use: ``%load_ext`` must not pay for SQLAlchemy
    from .store import Store
    from .store.entities import Run

_default_session = Session()
_current_session = _default_session


# --- the session and the store ---------------------------------------------------------------


def current_session() -> Session:
    """The session every function here works in: the extension's while it is loaded, else the default."""
    return _current_session


def use_session(session: Session | None) -> Session:
    """Make ``session`` (None: the default one) the current session; return the one it replaces."""
    global _current_session
    previous, _current_session = _current_session, session or _default_session
    return previous


def set_store(location: str, *, artifact_root: str | None = None) -> Store:
    """Use the store at ``location`` (a SQLAlchemy URL, or a folder for ``store.db``) from now on."""
    _current_session.choose_store(location, artifact_root)
    return get_store()


def get_store() -> Store:
    """The store in use: the one chosen by ``set_store``, else ``MLOPS_MAGIC_STORE``, else ``./.mlops``.

    Runs still being written in the background are written first, so every read sees them.
    """
    return _current_session.store()


# --- runs --------------------------------------------------------------------------------------


def runs(
    experiment: str | None = None,
    *,
    sort: str | None = None,
    ascending: bool | None = None,
    limit: int | None = None,
    where: str | None = None,
):
    """The runs (of ``experiment``) as a DataFrame, one row a run, MLflow's column names.

    ``sort`` and ``where`` may name metrics and params by their short names (``accuracy``,
    ``"accuracy > 0.9 and C == '0.5'"``); a metric sorts best first by default.
    """
    from .metrics import Catalog
    from .tracking.query import select_runs
    from .tracking.rescore import rescore

    store = get_store()
    catalog = Catalog.of(store)
    if catalog.defined:  # metrics defined after some runs were tracked: computed from their eval snapshots
        rescore(store, list(catalog.defined), experiment=experiment, catalog=catalog)
    return select_runs(store.runs_frame(experiment), sort=sort, ascending=ascending, limit=limit, where=where, catalog=catalog)


def get_run(run_id: str) -> Run:
    """One run, by its id or a unique prefix of it (at least 4 characters)."""
    return get_store().get_run(run_id)


def load_model(ref: str):
    """A stored model, its sha256 checked before loading.

    ``ref`` is a run id (its main model), ``name@alias``, ``name/VERSION`` or ``name`` (latest).
    """
    store = get_store()
    run, variable = resolve_model_ref(ref)
    record = run.model_named(variable)
    return store.artifacts.load_model(record.sha256, record.trusted_types)


def resolve_model_ref(ref: str) -> tuple[Run, str]:
    """The run and model variable that ``ref`` (run id, ``name@alias``, ``name/N``, ``name``) names."""
    store = get_store()
    ref = ref.strip()
    if "@" in ref or "/" in ref or ref in store.model_names():
        from .refs import parse_model_ref

        name, version, alias = parse_model_ref(ref)
        found = store.model_version(name, version=version, alias=alias)
        return store.get_run(found.run_id), found.variable
    run = store.get_run(ref)
    if run.model is None:
        raise InvalidInputError(f"run {run.short_id} saved no model: its cell fitted no scikit-learn estimator.")
    return run, run.model.variable


# --- tracking ----------------------------------------------------------------------------------


def run(experiment: str = "default", *, name: str | None = None, tags: dict[str, str] | None = None, **data: Any):
    """A context manager that records the code inside it as a run (for code outside magics).

    ``data=``/``target=``/``eval=`` as in ``%%mlops_train``; inside, ``log_metric``/``log_param``
    add to it, and ``active.track_model(model)`` saves a fitted estimator.
    """
    from .tracking.manual_run import ManualRun

    return ManualRun(_current_session.tracker, experiment=experiment, name=name, tags=tags or {}, **data)


def log_metric(key: str, value: float) -> None:
    """Add a metric to the run being recorded (a ``%%mlops_train`` cell or an ``mm.run()`` block)."""
    _current_session.tracker.active().log_metric(key, value)


def log_param(key: str, value: Any) -> None:
    """Add a parameter to the run being recorded."""
    _current_session.tracker.active().log_param(key, value)


def set_tag(key: str, value: str) -> None:
    """Add a tag to the run being recorded."""
    _current_session.tracker.active().set_tag(key, value)


def train_cell(shell, cell: str, **options: Any):
    """Run a notebook cell as ``%%mlops_train`` does; return (the cell's value, the run card data)."""
    __tracebackhide__ = True
    from .tracking.cell import track_cell

    return track_cell(shell, cell, _current_session.tracker, **options)


def replay(ref: str, *, data=None, eval=None):
    """Re-execute a run's recipe in a fresh process: a new run whose ``parent_run_id`` is that run.

    ``ref`` is a run id, or a model reference (``name@alias``, ``name/N``) standing for its version's run.
    ``data``/``eval`` (DataFrames laid out as the run's own, target column included) replace the
    training/eval snapshots; without them the run trains again on exactly the data it saw.
    """
    from .tracking.replay import replay_run

    store = get_store()
    run_id = resolve_model_ref(ref)[0].run_id if "@" in ref or "/" in ref else ref
    return store.get_run(replay_run(store, run_id, data=data, eval=eval))


def compare(*run_ids: str):
    """Runs side by side: params and metrics that differ, the code diff, data fingerprints."""
    from .tracking.comparison import compare_runs

    store = get_store()
    return compare_runs([store.get_run(r) for r in run_ids])


# --- metrics -------------------------------------------------------------------------------------


def define_metric(
    name: str,
    *,
    sklearn: str | None = None,
    options: dict[str, Any] | None = None,
    cost_matrix: list[list[float]] | None = None,
    gain_matrix: list[list[float]] | None = None,
    labels: list[Any] | None = None,
    function=None,
    better: str | None = None,
):
    """Define metric ``name`` once for the store: a scikit-learn metric with ``options``
    (``sklearn="recall", options={"pos_label": 1}``), a cost or gain matrix (rows the true class,
    columns the answer, over ``labels``: default 0..k-1), or a function of (y_true, y_pred[, y_proba][, X])
    whose source is stored. It is then recorded on ``--eval``, usable in ``sort``/``where``/``by``/``require``,
    monitored, gated on and retrained on like a built-in one, in every process. Returns the listing."""
    from .metrics.define import definition
    from .metrics.listing import listing

    store = get_store()
    found = definition(name, sklearn=sklearn, options=options, cost_matrix=cost_matrix, gain_matrix=gain_matrix, labels=labels, function=function, better=better)
    store.define_metric(found)
    return listing(store, changed=name)


def metric(name: str | None = None, *, better: str = "higher"):
    """A decorator defining a function metric: ``@mm.metric("fraud_cost", better="lower")`` over
    ``def fraud_cost(y_true, y_pred): ...``; its source (and the imports it reads) is stored."""

    def decorate(function):
        define_metric(name or function.__name__, function=function, better=better)
        return function

    return decorate


def defined_metrics():
    """The store's defined metrics: ``.frame`` (name, kind, better, definition, user, time).
    (Not ``mm.metrics``: that name is the ``mlops_magic.metrics`` package once it is imported.)"""
    from .metrics.listing import listing

    return listing(get_store())


def drop_metric(name: str):
    """Remove the definition of ``name`` (values already recorded with runs stay)."""
    from .errors import NotFoundError
    from .metrics.listing import listing

    store = get_store()
    if not store.drop_metric(name):
        raise NotFoundError(f"no defined metric {name!r}: see mm.defined_metrics().")
    return listing(store, changed=name, dropped=True)


# --- registry and serving ----------------------------------------------------------------------


def promote(
    run: str = "best",
    *,
    name: str | None = None,
    alias: str | None = None,
    experiment: str | None = None,
    by: str | None = None,
    require: list[str] | str | None = None,
    force: bool = False,
    via: str = "api",
):
    """Register a run's model (or the ``"best"`` run of ``experiment`` by metric ``by``) as a version of ``name``.

    ``require`` gates on the run's metrics (``"accuracy >= 0.9"``). Moving ``alias`` also needs the
    run not to be worse than the version the alias points at (champion/challenger), unless ``force``.
    A refused promotion raises ``GateError`` naming the gate with both figures; nothing is stored.
    ``via`` (``api``, ``cli``) is recorded with the alias move, for the maturity checks.
    """
    from .registry import promote as promote_run

    if not name:
        raise InvalidInputError("promote needs a model name: add --name NAME, e.g. --name wine-quality.")
    conditions = [require] if isinstance(require, str) else require
    return promote_run(get_store(), run, name, alias=alias, experiment=experiment, by=by, require=conditions, force=force, via=via)


def models(name: str | None = None):
    """The registry: ``.versions`` (one row a version: aliases, run, metrics) and ``.history`` (alias moves)."""
    from .registry import registry_tables

    return registry_tables(get_store(), name)


def serve(
    ref: str, *, port: int | None = None, host: str = "127.0.0.1", split: str | None = None, shadow: str | None = None, workers: int = DEFAULT_WORKERS,
    token: str | None = None,
):
    """Start a serving process for ``ref`` and return once it answers; it keeps running after the kernel.

    ``ref`` is ``name@alias`` (followed when the alias moves), ``name/N``, or ``name`` (its latest
    version, or the variants of ``split="production=90,staging=10"``); ``shadow`` names a variant
    that scores the same requests without answering; ``workers`` processes share the port (default 2
    with 2+ cores, else 1). With ``token`` (else ``MLOPS_MAGIC_TOKEN``) every request but the health checks
    needs ``Authorization: Bearer <token>``; a ``host`` beyond loopback needs one.
    """
    from .serving import manager
    from .serving.router import parse_target

    store = get_store()
    ref = ref.strip()
    if "@" not in ref and "/" not in ref and not split:
        ref = f"{ref}/{store.model_version(ref).version}"
    target = parse_target(ref, split, shadow)
    for variant in [*target.variants, *([target.shadow] if target.shadow else [])]:
        store.model_version(target.name, version=variant.version, alias=variant.alias)
    if workers < 1:
        raise InvalidInputError(f"workers={workers}: serve with at least 1 worker process.")
    return manager.start(store, target, host=host, port=port, workers=workers, token=token)


def export(ref: str, folder: str, *, format: str = "mlflow", allow_custom: bool = False):
    """Write version ``ref`` (``name@alias``, ``name/N``, ``name``) into the new ``folder`` for another server:
    ``mlflow`` (an MLflow Model), ``kserve`` (one ``model.joblib``) or ``mlserver`` (that and ``model-settings.json``).

    Each is a pickle (loading it runs code); a model of types beyond scikit-learn/numpy/scipy/pandas is
    refused unless ``allow_custom``.
    """
    from .export import export_version

    return export_version(get_store(), ref, format, folder, allow_custom=allow_custom)


def serve_or_stop(ref: str | None, *, stop_name: str | None = None, **serve_options: Any):
    """What ``%mlops_serve`` and ``mlops-magic serve`` do: serve ``ref``, or stop model ``stop_name`` (exactly one)."""
    if (ref is None) == (stop_name is None):
        raise InvalidInputError("give a model to serve (e.g. wine-quality@production) or --stop NAME, not both.")
    return stop(stop_name) if stop_name else serve(ref, **serve_options)


def stop(name: str):
    """Stop the serving process of model ``name`` gracefully (every logged prediction is written first)."""
    from .serving import manager

    return manager.stop(get_store(), name)


def deployments(name: str | None = None):
    """Every deployment (or that of model ``name``) with its live status, versions and request count."""
    from .serving import manager

    return manager.statuses(get_store(), name)


def served(name: str):
    """What the newest serving process of model ``name`` served (requests, errors, latency, versions), from the request log."""
    from .serving.served import served

    return served(get_store(), name)


def predictions(name: str, *, since: float | None = None, include_shadow: bool = True):
    """The prediction log of model ``name`` as a DataFrame with its feedback labels (shadow rows too)."""
    return get_store().predictions_frame(name, since=since, include_shadow=include_shadow)


def set_retention(name: str, keep: str | int | None) -> dict[str, Any]:
    """Bound the prediction log of model ``name``: keep the raw rows of the last ``keep`` (a
    duration, ``"30d"``) or its newest ``keep`` predictions (a number), ``None`` to keep everything.
    Older rows are deleted now and as serving writes more; the per-minute aggregates stay, so the
    time windows still show them (count windows, samples and drift read the kept rows).
    Returns the setting and the rows deleted now."""
    from .monitoring.windows import parse_retention

    spec = parse_retention(keep)
    store = get_store()
    store.model_versions(name)  # NotFoundError names the fix
    deleted = store.set_retention(name, spec.text if spec else None, spec.seconds if spec else None, spec.count if spec else None)
    return {"model": name, **store.retention(name), "deleted": deleted}


# --- monitoring --------------------------------------------------------------------------------


def monitor(
    name: str,
    *,
    window: str | int = DEFAULT_WINDOW,
    metric: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    max_windows: int = 50,
    record: bool = True,
    slices: list[str] | str | None = None,
    **drift_options: Any,
):
    """How the served model ``name`` is doing, as a ``MonitorReport``: performance per window
    (realised from feedback, estimated where labels are missing), drift of the newest window against
    the training data, service health, and alerts.

    ``window`` is a number of predictions (``200``) or a duration (``"1h"``). ``metric`` with
    ``min_value``/``max_value`` stores that policy; with ``record`` the alerts raised are recorded.
    ``slices`` (pandas queries over the logged inputs, e.g. ``"region == 'north'"``) are shown beside
    the whole (``report.slices``); with a threshold, the policy watches the one slice given.
    ``drift_options`` go to ``drift`` (``alpha``, ``correction``).
    """
    from .monitoring.monitor import monitor_model

    slices = [slices] if isinstance(slices, str) else slices
    return monitor_model(get_store(), name, window, metric, min_value, max_value, max_windows, record=record, slices=slices, **drift_options)


def drift(reference, current, *, columns: list[str] | None = None, categorical: list[str] | None = None, alpha: float = 0.05, correction: str = "bonferroni"):
    """Data drift of ``current`` against ``reference``, column by column: a ``DriftReport``.

    KS (small samples) or normalised Wasserstein (large) for numeric columns, chi-square for
    categorical ones, PSI and Jensen-Shannon for all; p-values corrected for the number of tests.
    Two DataFrames are compared exactly. Data too large to hold is streamed: ``reference`` may be a
    ``DriftSketch`` (``drift_sketch``), and either side a parquet file or folder, or a function
    returning an iterable of DataFrames (chunks); then the reference is compared as a sketch.
    """
    from .monitoring.drift import drift_frames
    from .monitoring.sketch import DriftSketch, drift_sketched, sketch_reference, streams

    if streams(reference) or streams(current):
        sketch = reference if isinstance(reference, DriftSketch) else sketch_reference(reference, columns, categorical)
        return drift_sketched(sketch, current, columns=columns, alpha=alpha, correction=correction)
    return drift_frames(reference, current, columns=columns, categorical=categorical, alpha=alpha, correction=correction)


def drift_sketch(reference, *, columns: list[str] | None = None, categorical: list[str] | None = None):
    """The reference of ``drift`` as a ``DriftSketch`` (``.save(path)``, ``DriftSketch.load(path)``),
    read in chunks: a DataFrame, a parquet file or folder, or a function returning an iterable of
    DataFrames (called twice). Counts are exact; see ``monitoring/sketch.py`` for what is not."""
    from .monitoring.sketch import sketch_reference

    return sketch_reference(reference, columns, categorical)


def check_data(frame, *, target: str | None = None, task: str | None = None, cv: int = 5, baseline: bool = True):
    """The data check before training: findings with severity and suggestion, and (with ``target``)
    whether a cross-validated simple model beats the dummy baseline."""
    from .monitoring.datacheck import check_data as check

    return check(frame, target=target, task=task, cv=cv, baseline=baseline)


def set_policy(
    name: str,
    metric: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    window: str | int = DEFAULT_WINDOW,
    retrain: bool = False,
    gate: str | None = None,
    min_improvement: float = 0.0,
    cooldown: str | float = DEFAULT_COOLDOWN,
    min_labelled: int = 0,
    alias: str | None = None,
    production_rows: str = "all",
    slice: str | None = None,
):
    """Store a policy: alert when ``metric`` of ``name`` leaves [min_value, max_value] over ``window``
    (over the rows of ``slice``, a pandas query over the logged inputs, if given)
    (``metric="drift"``: when the newest window drifts), and with ``retrain`` act on it.

    With ``retrain`` the watcher (``watch``, or the one ``serve`` starts) retrains the champion on its
    training data plus the labelled production rows (``production_rows``: all, recent:N or none; the
    newest window held out), once the window holds ``min_labelled`` labelled predictions and no job
    ran within ``cooldown``; the challenger is promoted to ``alias`` (default production) only if it
    passes ``gate`` (e.g. ``"accuracy >= 0.88"``) and beats the champion by ``min_improvement`` on the
    held-out window. Returns the stored ``Policy``.
    """
    from .loop.actions import DRIFT, action_fields
    from .metrics import Catalog
    from .monitoring.policies import check_metric
    from .monitoring.slices import check_slice
    from .monitoring.windows import parse_window

    store = get_store()
    store.model_versions(name)
    actions = action_fields(metric, retrain, gate, min_improvement, cooldown, min_labelled, alias, production_rows)
    metric = metric if metric == DRIFT else check_metric(metric, Catalog.of(store))
    if slice is not None:
        train = store.get_run(store.model_version(name).run_id).datasets.get("train")
        slice = check_slice(slice, [c for c in train.columns if c != train.target] if train is not None else None)
    policy = store.set_policy(name, metric, min_value, max_value, parse_window(window).text, slice=slice, **actions)
    if policy.retrain:
        _watch_if_served(store, name)
    return policy


def _watch_if_served(store, name: str) -> None:
    """A model already served gets its watcher with its first policy that acts (``serve`` starts it otherwise)."""
    from .serving import manager

    if any(s.status == "running" and not (s.watcher or {}).get("alive") for s in manager.statuses(store, name)):
        manager.start_watcher(store, name)


def retrain(name: str, *, timeout: float | None = None):
    """One retraining job of ``name`` now, exactly as its retraining policy runs it (the defaults of
    ``set_policy`` without one), in its own process; waits for it and returns the ``Job``.

    At most one job runs per model; the cool-down does not hold back a job asked for by hand.
    """
    from .errors import ConflictError
    from .loop import jobs
    from .loop.watch import action_policies

    store = get_store()
    store.model_versions(name)
    policy = next(iter(action_policies(store, name)), None)
    job_id = store.start_job(name, policy.policy_id if policy else None, None, cooldown_s=0)
    if job_id is None:
        raise ConflictError(f"a retraining job of {name} is running: wait for it to end before starting another.")
    limit = timeout or jobs.JOB_TIMEOUT_S
    jobs.launch(store, job_id, name, limit)
    return jobs.wait(store, job_id, limit)


def watch(name: str | None = None, *, interval: str | float = "5s", once: bool = False, job_timeout: float | None = None):
    """Watch the retraining policies of ``name`` (default: every model with one) here, holding its
    watcher lock: every ``interval`` until interrupted, or ``once`` (waiting for the job it started).
    Returns the ``Tick`` of each model (the last ones; none if interrupted before the first)."""
    from .loop import jobs
    from .loop.watch import watching

    store = get_store()
    models = [name] if name else sorted({p.model for p in store.policies() if p.retrain})
    if not models:
        raise InvalidInputError("no model has a policy with an action: add one with mm.set_policy(name, metric, ..., retrain=True).")
    limit = job_timeout or jobs.JOB_TIMEOUT_S
    last: dict[str, Any] = {}
    try:
        for ticked in watching(store, models, interval, once, limit):
            last[ticked.model] = ticked
            if once:
                for job_id in ticked.job_ids:
                    jobs.wait(store, job_id, limit)
    except KeyboardInterrupt:
        pass
    return last.get(models[0]) if name else list(last.values())


def alerts(name: str | None = None, *, limit: int | None = None):
    """Recorded alerts (of model ``name``), newest first, as a DataFrame."""
    return get_store().alerts_frame(name, limit=limit)


def backtest(
    name: str, metric: str, *, min_value: float | None = None, max_value: float | None = None, window: str | int = DEFAULT_WINDOW, max_windows: int = 50,
    slice: str | None = None,
):  # fmt: skip
    """Replay the past windows (of ``slice``'s rows, if given): how many alerts would this policy have fired? Stores nothing."""
    from .monitoring.monitor import monitor_model
    from .monitoring.policies import backtest as replay
    from .store import Policy

    if min_value is None and max_value is None:
        raise InvalidInputError(f"a backtest of {metric!r} needs a threshold: give --min or --max (min_value=/max_value=).")
    report = monitor_model(get_store(), name, window, metric, min_value, max_value, max_windows, record=False, save_policy=False, slices=[slice] if slice else None)
    return replay(report, Policy(None, name, metric, min_value, max_value, report.window, 0.0, slice=report.slice))


def check_policies(name: str, *, via: str | None = None):
    """Evaluate every policy of ``name`` once, each on its own window (and drift), recording alerts:
    the reports, one per policy window (the default window when there is no policy). With ``via``
    (``cli``), the check itself is recorded as a ``policies.checked`` event, with the CI service it ran under."""
    from .config import ci_provider

    store = get_store()
    windows = sorted({p.window for p in store.policies(name)}) or [DEFAULT_WINDOW]
    reports = [monitor(name, window=w) for w in windows]
    if via is not None:
        fired = sum(len(r.fired) for r in reports)
        store.record_event("policies.checked", name, detail={"via": via, "ci": ci_provider(), "fired": fired, "policies": len(store.policies(name))})
    return reports


# --- lineage and webhooks --------------------------------------------------------------------------


def lineage(name: str):
    """Every recorded step of model ``name``, oldest first, as a DataFrame: time, event, model, version,
    run_id, alert_id, policy_id, job_id, detail (versions, alias moves, alerts, retraining, gates, swaps)."""
    from .loop.lineage import lineage as lineage_frame

    return lineage_frame(get_store(), name)


def add_webhook(url: str, *, events: list[str] | None = None, secret: str | None = None):
    """POST every lineage event recorded from now on (or those of ``events``) to ``url`` as JSON, in
    MLflow's webhook shape, signed with HMAC-SHA256 when ``secret`` is given. Delivered by the
    watcher's sender (or ``deliver_webhooks``), retried with backoff."""
    from .loop.webhooks import check_webhook

    return get_store().add_webhook(url, check_webhook(url, events), secret)


def webhooks():
    """The webhooks as a DataFrame (secrets never shown), with their delivered, pending and failed counts."""
    from .loop.webhooks import webhooks_frame

    return webhooks_frame(get_store())


def deliver_webhooks(*, timeout: float = 5.0):
    """Deliver the webhook events due now, once (each POST waits at most ``timeout`` seconds)."""
    from .loop.webhooks import deliver_pending

    return deliver_pending(get_store(), timeout=timeout)


# --- maturity and the pipeline ---------------------------------------------------------------------


def maturity(path: str = "."):
    """Which MLOps maturity level (0-4) the work has reached, read from the store and the folder ``path``
    (git, tests, CI), never asked: a ``MaturityReport`` with ``.level``, ``.checks`` (one row per
    criterion, with its evidence and how to meet it), ``.next_step`` and ``.test_score``."""
    from .assessment import assess

    return assess(get_store(), path)


def answer_maturity(question: str, answer: str) -> None:
    """Store the answer (yes, partly, no) to a question about people and process that no record shows;
    answers are shown beside the evidence and never raise the level."""
    from .assessment.questions import QUESTIONS
    from .store.maturity import ANSWERS

    if question not in QUESTIONS:
        raise InvalidInputError(f"no maturity question {question!r}: choose among {', '.join(QUESTIONS)}.")
    if answer not in ANSWERS:
        raise InvalidInputError(f"answer {answer!r} to {question!r} is not one of {', '.join(ANSWERS)}.")
    from .config import current_user

    get_store().set_maturity_answer(question, answer, current_user())


def ci_init(
    path: str = ".",
    *,
    model: str | None = None,
    experiment: str | None = None,
    provider: str = "github",
    require: str = "",
    min_level: int = 3,
    tests: str | None = None,
    script: str | None = None,
    force: bool = False,
):
    """Write the release pipeline into the repository at ``path``: ``ci/pipeline.sh`` (tests, training
    by replaying ``model@production``'s recipe or running ``script``, the gated promotion, the monitor
    check, the maturity check at ``min_level``) and the ``provider``'s workflow (github, gitlab; or
    script: the script alone). ``model`` and ``experiment`` default to the store's only ones."""
    from .pipeline import DEFAULT_TESTS, write_pipeline

    store = get_store()
    model = model or _only(store.model_names(), "model", "--model NAME")
    experiment = experiment or _only(store.experiment_names(), "experiment", "--experiment EXPERIMENT")
    return write_pipeline(path, model, experiment, provider, require=require, min_level=min_level, tests=tests or DEFAULT_TESTS, script=script, force=force)


def _only(names: list[str], what: str, flag: str) -> str:
    if len(names) == 1:
        return names[0]
    found = f"the store has {len(names)} ({', '.join(names[:5])})" if names else "the store has none yet"
    raise InvalidInputError(f"which {what} does the pipeline release? {found}: add {flag}.")
