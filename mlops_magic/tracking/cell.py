"""``%%mlops_train``: run a cell exactly as without the magic, and record it as a run.

Arguments are checked before the cell runs (a missing variable or target column is an error and
nothing is written); what the cell produced is collected after it, guarded so that a tracking
fault never breaks the cell.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from .card import RunCardData, card_data
from .estimators import changed_params, estimators_in
from .execution import fit_arguments, fit_receivers, names_assigned, run_body
from .metrics import metrics_in
from .provenance import cell_provenance
from .recipe import build_recipe
from .recorder import DataPair, RunRecorder
from .tracker import Tracker


def _names(option: str, spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",")]
    if not 1 <= len(names) <= 2 or not all(n.isidentifier() for n in names):
        raise InvalidInputError(f"{option} {spec!r} is not a variable name: give a DataFrame (with --target) or X,y variables.")
    return names


def check_data_option(option: str, spec: str | None, target: str | None, namespace: dict, assigned: list[str]) -> None:
    """Before the cell: every named variable exists (or the cell binds it), the target column too."""
    if spec is None:
        return
    names = _names(option, spec)
    for name in names:
        if name not in namespace and name not in assigned:
            raise InvalidInputError(f"{option}: no variable {name!r} in the notebook; define it before this cell or fix the name.")
    if len(names) == 1 and target is not None and names[0] in namespace:
        _split_target(option, names[0], namespace[names[0]], target)


def _split_target(option: str, name: str, frame: Any, target: str):
    columns = getattr(frame, "columns", None)
    if columns is None:
        raise InvalidInputError(f"{option}: {name!r} is a {type(frame).__name__}, not a DataFrame, so --target cannot apply; give X,y instead.")
    if target not in columns:
        raise InvalidInputError(f"--target {target!r} is not a column of {name!r} (columns: {', '.join(map(str, list(columns)[:10]))}).")
    return frame.drop(columns=[target]), frame[target]


def resolve_data(option: str, spec: str | None, target: str | None, namespace: dict) -> DataPair | None:
    """The (X, y) that ``--data``/``--eval`` name, read from the namespace after the cell ran."""
    if spec is None:
        return None
    names = _names(option, spec)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise InvalidInputError(f"{option}: the cell did not define {missing[0]!r}; fix the name.")
    if len(names) == 2:
        return DataPair(namespace[names[0]], namespace[names[1]], variable=names[0])
    value = namespace[names[0]]
    if target is None:
        return DataPair(value, None, variable=names[0])
    X, y = _split_target(option, names[0], value, target)
    return DataPair(X, y, variable=names[0], target=target)


def data_passed_to_fit(source: str, namespace: dict) -> DataPair | None:
    """Without ``--data``: the variables passed to the cell's last ``.fit(X, y)`` call."""
    for x_name, y_name in reversed(fit_arguments(source)):
        if x_name in namespace:
            return DataPair(namespace[x_name], namespace.get(y_name) if y_name else None, variable=x_name)
    return None


def track_cell(
    shell,
    cell: str,
    tracker: Tracker,
    *,
    experiment: str = "default",
    name: str | None = None,
    data: str | None = None,
    target: str | None = None,
    eval: str | None = None,
    tags: dict[str, str] | None = None,
    card: bool = True,
    parent_run_id: str | None = None,
) -> tuple[Any, RunCardData | None]:
    """Run ``cell`` in the user namespace and record it, with its recipe; return (its value, the run
    card data if ``card``). ``parent_run_id`` marks the run as a replay of that one."""
    __tracebackhide__ = True
    namespace = shell.user_ns
    source = shell.transform_cell(cell)
    assigned = names_assigned(source)
    check_data_option("--data", data, target, namespace, assigned)
    check_data_option("--eval", eval, target, namespace, assigned)
    store = tracker.get_store()  # a store that cannot be opened is an error before the cell runs
    messages = tracker.flush()  # earlier runs are written before this one is compared with them

    recorder = RunRecorder(tracker, experiment, name, dict(tags or {}), source=cell)
    provenance = cell_provenance(shell, cell, source)
    history = list(namespace.get("In", []))
    options = {"experiment": experiment, "name": name, "data": data, "target": target, "eval": eval, "tags": dict(tags or {})}
    recipe = build_recipe(history, provenance["execution_count"] or len(history), cell, source, options)
    with recorder.active():
        try:
            value = run_body(shell, cell, provenance["execution_count"] or shell.execution_count)
        except BaseException as error:
            recorder.finish(error=error, provenance=provenance, parent_run_id=parent_run_id)
            raise

    fitted, unfitted = estimators_in(namespace, assigned + [n for n in fit_receivers(source) if n not in assigned])
    for variable, model in fitted:
        recorder.track_model(variable, model)
    for variable in unfitted:
        recorder.warnings.append(f"{variable!r} is a scikit-learn estimator the cell did not fit.")
    if provenance.get("out_of_order"):
        recorder.warnings.append("cells ran out of order: an upstream cell sits below this one in the notebook.")
    for metric, number in metrics_in(namespace, assigned).items():
        recorder.metrics.setdefault(metric, number)
    train = resolve_data("--data", data, target, namespace) if data else data_passed_to_fit(source, namespace)
    evaluation = resolve_data("--eval", eval, target, namespace)
    run = recorder.finish(train=train, evaluation=evaluation, provenance=provenance, recipe=recipe, parent_run_id=parent_run_id)
    if not card:
        return value, None
    key_params = {**changed_params(fitted[-1][1]), **{k: v for k, v in run.params.items() if k.startswith("best.")}} if fitted else {}
    return value, card_data(store, run, messages, key_params)

