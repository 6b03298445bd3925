"""The model registry's rules: which run is best, the gates a promotion must pass, champion/challenger.

The store keeps names, versions, aliases and their history (``store/registry.py``); this module
decides what may go there. A promotion either passes every gate and is recorded, or raises
``GateError`` naming the failed gate with both figures, and nothing is stored.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any

from . import html as h
from .config import ci_provider, current_user
from .errors import GateError, InvalidInputError, NotFoundError
from .metrics import Catalog
from .store.entities import PRIMARY_METRIC, Run
from .tracking.rescore import rescore

_OPERATORS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.\-]*(?:\[[^\]]+\])?)\s*(>=|<=|==|!=|>|<)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")


def primary_metric(run: Run) -> str | None:
    """The metric the champion/challenger gate compares: the one that ranks runs of the run's task."""
    return PRIMARY_METRIC.get(run.task or "")


@dataclass(frozen=True)
class Condition:
    """A gate on one metric, e.g. ``accuracy >= 0.9``."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def parse_conditions(texts: list[str] | tuple[str, ...] | None) -> list[Condition]:
    """Conditions from ``--require`` strings; each may join several with ``and`` or commas."""
    conditions = []
    for text in texts or []:
        for part in re.split(r"\s+and\s+|,", text):
            if not part.strip():
                continue
            match = _CONDITION.match(part)
            if match is None:
                raise InvalidInputError(f"--require {part.strip()!r} is not METRIC OP NUMBER: write e.g. \"accuracy >= 0.9\".")
            conditions.append(Condition(match[1], match[2], float(match[3])))
    return conditions


@dataclass
class GateCheck:
    """One gate's verdict, with the figures it compared."""

    gate: str
    passed: bool
    detail: str


@dataclass
class Promotion:
    """What a promotion did: the version registered (or reused), the alias moved, the gates passed."""

    name: str
    version: int
    run_id: str
    alias: str | None = None
    previous_version: int | None = None
    new_version: bool = True
    forced: bool = False
    checks: list[GateCheck] = field(default_factory=list)

    def summary(self) -> str:
        what = f"{self.name} v{self.version} ({'new version' if self.new_version else 'existing version'}, run {self.run_id[:8]})"
        if self.alias is None:
            moved = ""
        elif self.previous_version == self.version:
            moved = f"; {self.alias} already pointed at v{self.version}"
        else:
            before = "none" if self.previous_version is None else f"v{self.previous_version}"
            moved = f"; {self.alias}: {before} -> v{self.version}"
        gates = "; ".join(f"{'ok' if c.passed else 'FORCED'} {c.detail}" for c in self.checks)
        forced = f" past {len(self.forced_past)} failed gate{'s' if len(self.forced_past) > 1 else ''} (forced)" if self.forced else ""
        return f"promoted {what}{forced}{moved}" + (f". Gates: {gates}" if gates else "")

    @property
    def forced_past(self) -> list[GateCheck]:
        """The gates that failed and were overridden with ``force``."""
        return [c for c in self.checks if not c.passed]

    def __repr__(self) -> str:
        return f"<Promotion {self.summary()}>"

    def _repr_html_(self) -> str:
        if not self.forced:
            return f"<p>&#9989; {h.escape(self.summary())}</p>"
        past = "".join(f"<li>{h.escape(c.detail)}</li>" for c in self.forced_past)
        return f"<p>{h.badge('forced', h.WARN)} {h.escape(self.summary())}</p><p>Forced past:</p><ul>{past}</ul>"


def best_run(store, experiment: str, by: str | None = None, catalog: Catalog | None = None) -> Run:
    """The experiment's best run by metric ``by`` (default: the primary metric of its runs' task),
    by the store's one rule (``best_run_id``: finished, with a saved model), which the run card uses too.
    A metric defined after some runs were tracked is computed for them first, from their eval snapshots."""
    catalog = catalog or Catalog.of(store)
    if by is not None:
        rescore(store, [by], experiment=experiment, catalog=catalog)
    frame = store.runs_frame(experiment)
    if frame.empty:
        known = ", ".join(store.experiment_names()) or "none yet"
        raise NotFoundError(f"experiment {experiment!r} has no runs (experiments: {known}).")
    frame = frame[frame["status"] == "finished"]
    if by is None:
        tasks = frame["tags.mlops.task"].dropna() if "tags.mlops.task" in frame else []
        task = tasks.mode().iloc[0] if len(tasks) else ("classification" if "metrics.accuracy" in frame else "regression")
        by = PRIMARY_METRIC.get(task, "accuracy")
    if f"metrics.{by}" not in frame:
        metrics = sorted(c.removeprefix("metrics.") for c in frame if c.startswith("metrics."))
        raise InvalidInputError(f"no run of {experiment!r} has metric {by!r}: choose --by among {', '.join(metrics) or 'none (train with --eval)'}.")
    run_id = store.best_run_id(experiment, by, catalog.higher_is_better(by))
    if run_id is None:
        raise NotFoundError(f"no finished run of {experiment!r} with metric {by!r} saved a model: train one with %%mlops_train --eval.")
    return store.get_run(run_id)


def check_requirements(run: Run, conditions: list[Condition], store=None) -> list[GateCheck]:
    """Each condition on the run's metrics; with ``store``, a metric the run lacks is computed first
    from its eval snapshot (a metric defined after it was tracked)."""
    problems = _rescored(store, [run], [c.metric for c in conditions])
    checks = []
    for condition in conditions:
        value = run.metrics.get(condition.metric)
        if value is None:
            why = next((f" ({p})" for p in problems if repr(condition.metric) in p), "")
            checks.append(GateCheck(str(condition), False, f"{condition}: run {run.short_id} has no metric {condition.metric!r}{why}"))
            continue
        passed = _OPERATORS[condition.op](value, condition.threshold)
        checks.append(GateCheck(str(condition), passed, f"{condition}: run {run.short_id} has {condition.metric} {value:.4g}"))
    return checks


def _rescored(store, runs: list[Run], names: list[str]) -> list[str]:
    """Compute ``names`` the runs lack from their eval snapshots (with ``store``); the lines of those that failed."""
    if store is None or not names:
        return []
    problems = rescore(store, names, run_ids=[r.run_id for r in runs])
    for run in runs:
        run.metrics.update(store.get_run(run.run_id).metrics)
    return problems


def _versions(store, name: str) -> list:
    try:
        return store.model_versions(name)
    except NotFoundError:
        return []


def check_champion(candidate: Run, champion: Run, alias: str, champion_version: int, metric: str | None = None, catalog: Catalog | None = None) -> GateCheck:
    """The challenger must not be worse than the version ``alias`` points at, on ``metric`` (default
    the primary one), in that metric's direction (a defined metric's ``better``, from ``catalog``)."""
    metric = metric or primary_metric(candidate) or primary_metric(champion)
    catalog = catalog or Catalog()
    gate = f"champion/challenger vs {alias} v{champion_version}"
    if metric is None:
        return GateCheck(gate, True, f"{gate}: no task recorded, nothing to compare")
    new, old = candidate.metrics.get(metric), champion.metrics.get(metric)
    if new is None and old is None:
        return GateCheck(gate, True, f"{gate}: neither run has {metric}, nothing to compare")
    if new is None:
        return GateCheck(gate, False, f"{gate}: run {candidate.short_id} has no {metric} to compare with the champion's {old:.4g} (train with --eval)")
    if old is None:
        return GateCheck(gate, True, f"{gate}: champion has no {metric}; run {candidate.short_id} has {new:.4g}")
    worse = new < old if catalog.higher_is_better(metric) else new > old
    relation = "worse than" if worse else "not worse than"
    return GateCheck(gate, not worse, f"{gate}: run {candidate.short_id} has {metric} {new:.4g}, {relation} {old:.4g} (run {champion.short_id})")


def promote(
    store,
    run_ref: str,
    name: str,
    alias: str | None = None,
    experiment: str | None = None,
    by: str | None = None,
    require: list[str] | None = None,
    force: bool = False,
    reason: str | None = None,
    compared_with: tuple[int, GateCheck] | None = None,
    via: str = "api",
) -> Promotion:
    """Register run ``run_ref`` (or ``"best"`` of ``experiment`` by ``by``) as a version of ``name``, behind
    the gates; ``by`` is also the metric the champion/challenger gate compares (default: the primary one).

    ``compared_with`` is (the champion version the run was already compared with, that verdict), as a
    retraining job compares on the newest production rows: it stands in for the champion/challenger
    check on the runs' eval metrics, and a champion that has moved since refuses the promotion.
    ``via`` says who promotes (``api``, ``cli``, ``policy``); with the gates passed and the CI service
    it ran under, it is kept in the alias move's lineage event, where the maturity checks read it."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.\-]*", name or ""):
        raise InvalidInputError(f"model name {name!r} is not valid: use letters, digits, '.', '_' or '-', e.g. wine-quality.")
    if alias is not None and not re.fullmatch(r"[A-Za-z][\w\-]*", alias):
        raise InvalidInputError(f"alias {alias!r} is not valid: use letters, digits, '_' or '-', e.g. production.")
    if run_ref == "best":
        if not experiment:
            raise InvalidInputError("promote best needs an experiment: add -e EXPERIMENT.")
        run = best_run(store, experiment, by)
    else:
        run = store.get_run(run_ref)
    if run.model is None:
        raise InvalidInputError(f"run {run.short_id} saved no model: its cell fitted no scikit-learn estimator.")
    if run.status != "finished":
        raise InvalidInputError(f"run {run.short_id} is {run.status}: only a finished run can be promoted.")

    checks = check_requirements(run, parse_conditions(require), store)
    catalog = Catalog.of(store)
    compared = by or primary_metric(run)
    if alias is not None and compared:  # computed before the write transaction, which must not wait on another
        current = next((v for v in _versions(store, name) if alias in v.aliases), None)
        _rescored(store, [run, *([store.get_run(current.run_id)] if current else [])], [compared])
    with store.registry_write(name) as registry:  # gates, version and alias move: one transaction
        champion = registry.alias_target(alias) if alias is not None else None
        if champion is not None and champion.run_id != run.run_id:
            if compared_with is None:
                checks.append(check_champion(run, store.get_run(champion.run_id), alias, champion.version, compared, catalog))
            elif compared_with[0] != champion.version:
                gate = f"champion/challenger vs {alias} v{champion.version}"
                checks.append(GateCheck(gate, False, f"{gate}: compared with v{compared_with[0]}, but {alias} moved to v{champion.version} meanwhile"))
            else:
                checks.append(compared_with[1])
        failed = [c for c in checks if not c.passed]
        if failed and not force:
            raise GateError(f"promotion of run {run.short_id} to {name}{'@' + alias if alias else ''} refused: {failed[0].detail}"
                            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "") + ". Fix the model, or pass --force.")
        existing = registry.version_of(run.run_id, run.model.variable)
        version = existing if existing is not None else registry.add_version(run.run_id, run.model.variable)
        previous = champion.version if champion is not None else None
        if alias is not None and previous != version:
            forced_past = "forced past: " + "; ".join(c.detail for c in failed) if failed else None
            why = "; ".join(filter(None, [reason, forced_past])) or f"promoted run {run.short_id}"
            registry.set_alias(
                alias, version, user=current_user(), reason=why, forced=bool(failed), via=via, ci=ci_provider(), gates=[c.gate for c in checks if c.passed]
            )
    return Promotion(name, version, run.run_id, alias, previous, existing is None, bool(failed), checks)


@dataclass
class Registry:
    """The registry as tables: one row per version (with aliases and metrics), and every alias move."""

    versions: Any  # DataFrame
    history: Any  # DataFrame

    def __repr__(self) -> str:
        if self.versions.empty:
            return "no registered models: promote a run with %mlops_promote"
        return self.versions.to_string(index=False)

    def _repr_html_(self) -> str:
        return "<b>Model versions</b>" + versions_html(self.versions) + "<b>Alias history</b>" + history_html(self.history)


ALIAS_COLOURS = {"production": h.GOOD, "staging": h.WARN}
KEY_METRICS = ("accuracy", "f1_macro", "roc_auc", "rmse", "mae", "r2")  # the metric columns the HTML shows


def versions_html(versions) -> str:
    """The versions table: newest first per model, aliases as badges, the key metrics."""
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


def history_html(history) -> str:
    """Every alias move, newest first: when, which model and alias, from and to which version, who and why."""
    import pandas as pd

    if history.empty:
        return f'<div style="color:{h.MUTED}">no alias has been set yet.</div>'
    rows = [
        [r["time"].strftime("%Y-%m-%d %H:%M:%S"), r["name"], r["alias"], "–" if pd.isna(r["from_version"]) else f"v{int(r['from_version'])}",
         f"v{int(r['to_version'])}", r["user"], r["reason"] or ""]
        for r in history.sort_values("event_id", ascending=False).to_dict("records")
    ]  # fmt: skip
    return h.table(["when", "model", "alias", "from", "to", "who", "why"], rows)


def registry_tables(store, name: str | None = None) -> Registry:
    """Every version of ``name`` (or of all models) with its run's metrics, and the alias history."""
    import pandas as pd

    names = [name] if name is not None else store.model_names()
    rows = []
    for model_name in names:
        for version in store.model_versions(model_name):
            run = store.get_run(version.run_id)
            record = run.model_named(version.variable)
            rows.append(
                {
                    "name": model_name,
                    "version": version.version,
                    "aliases": ", ".join(version.aliases),
                    "run_id": version.run_id,
                    "experiment": run.experiment,
                    "model": record.class_name,
                    "sha256": record.sha256[:12],
                    "created_at": pd.to_datetime(version.created_at, unit="s", utc=True),
                    **{f"metrics.{k}": v for k, v in sorted(run.metrics.items())},
                }
            )
    columns = ["name", "version", "aliases", "run_id", "experiment", "model", "sha256", "created_at"]
    versions = pd.DataFrame(rows, columns=list(dict.fromkeys([*columns, *(k for r in rows for k in r)])))
    history = store.alias_history_frame(name)
    if name is None and not history.empty:
        history = history[history["name"].isin(names)]
    return Registry(versions, history.reset_index(drop=True))
