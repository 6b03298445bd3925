"""The maturity levels and the criteria that show each one, scored from evidence as the ML Test Score
scores: 0 absent, 0.5 done by hand or once, 1 automated and repeated.

Each criterion reads the ``evidence`` dict (``folder`` from ``folder.py``, the rest from
``Store.maturity_evidence``) and returns its score and the evidence it found (run ids, versions,
alert ids, file paths). A level is reached when every criterion of it and of the levels below is met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..tracking.recipe import Recipe

# The levels (Microsoft's MLOps maturity model, as the project's seed states it): name, overview, use case.
LEVELS = (
    (0, "No MLOps", ("ML process highly manual", "poor cooperation", "lack of standards, success depends on an individual's expertise"), "proof of concept (PoC), academic project"),
    (1, "DevOps but no MLOps", ("ML training is most often manual", "software engineers might help with the deployment", "automated tests and releases"), "bringing PoC to production"),
    (2, "Automated Training", ("ML experiment results are centrally tracked", "training code and models are version controlled", "deployment is handled by software engineers"), "maintaining 2-3+ ML models"),
    (3, "Automated Model Deployment", ("releases are managed by an automated CI/CD pipeline", "close cooperation between data and software engineers",
                                       "performance of the deployed model is monitored, A/B tests for model selection are used"), "business-critical ML services"),
    (4, "Full MLOps Automated Operations", ("clearly defined metrics for model monitoring", "automatic retraining triggered when passing a model metric's threshold"),
     "retraining is needed often and is repetitive"),
)  # fmt: skip

Scored = tuple[float, str]


@dataclass(frozen=True)
class Criterion:
    key: str
    level: int
    title: str
    how: str  # the magic or command that meets it
    score: Callable[[dict[str, Any]], Scored]


def _ids(values, n: int = 3) -> str:
    values = list(values)
    shown = ", ".join(str(v)[:8] if isinstance(v, str) and len(v) == 32 else str(v) for v in values[:n])
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """``1 promotion``, ``3 promotions``."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def _once_or_more(count: int, found: str, none: str) -> Scored:
    return (0.0, none) if count == 0 else (0.5 if count == 1 else 1.0, found)


# --- level 1: DevOps --------------------------------------------------------------------------------


def git_repository(e) -> Scored:
    git = e["folder"]["git"]
    if git is None:
        return 0.0, f"{e['folder']['path']} is not in a git repository"
    if git["commits"] == 0:
        return 0.5, f"git repository {git['root']} has no commit yet"
    return 1.0, f"git repository {git['root']}, {_n(git['commits'], 'commit')}"


def tests_exist(e) -> Scored:
    tests = e["folder"]["tests"]
    return (1.0, f"{_n(len(tests), 'test file')}: {_ids(tests)}") if tests else (0.0, "no test_*.py or *_test.py file")


def ci_runs_tests(e) -> Scored:
    configs = e["folder"]["ci"]
    running = [c["path"] for c in configs if c["runs_tests"]]
    if running:
        return 1.0, f"CI configuration {_ids(running)} runs the tests"
    if configs:
        return 0.5, f"CI configuration {_ids(c['path'] for c in configs)} runs no tests"
    return 0.0, "no CI configuration (.github/workflows, .gitlab-ci.yml, ...)"


# --- level 2: automated training --------------------------------------------------------------------


def runs_tracked(e) -> Scored:
    complete = e["runs"]["complete"]
    return _once_or_more(len(complete), f"{_n(e['runs']['count'], 'finished run')}, {len(complete)} with params, metrics, code and data fingerprints: {_ids(complete)}",
                         "no run with params, metrics, code and data fingerprints")  # fmt: skip


def code_versioned(e) -> Scored:
    committed = [r["run_id"] for r in e["runs"]["newest"] if (r["git"] or {}).get("commit")]
    return _once_or_more(len(committed), f"{len(committed)} of the newest {len(e['runs']['newest'])} runs record a git commit: {_ids(committed)}",
                         "no run records a git commit: train inside a git repository")  # fmt: skip


def models_versioned(e) -> Scored:
    versions = e["registry"]["versions"]
    names = _ids(f"{name} v{version}" for name, version, _ in versions)
    return _once_or_more(len(versions), f"{_n(len(versions), 'registered version')}, each linked to its run: {names}",
                         "no model version registered")  # fmt: skip


def runs_replayable(e) -> Scored:
    if e["runs"]["replays"]:
        replays = [r["run_id"] for r in e["runs"]["newest"] if r["parent_run_id"]]
        return 1.0, f"{_n(e['runs']['replays'], 'replay')} of recorded recipes: {_ids(replays)}"
    replayable = [r["run_id"] for r in e["runs"]["newest"] if r["recipe"] and Recipe.from_dict(r["recipe"]).replayable]
    if replayable:
        return 0.5, f"{_n(len(replayable), 'run')} with a replayable recipe ({_ids(replayable)}), none was replayed yet"
    return 0.0, "no run with a replayable recipe"


# --- level 3: automated model deployment -----------------------------------------------------------


def _promotions(e) -> list[dict[str, Any]]:
    return e["events"]["model_version_alias.created"]


def _versions(events) -> str:
    return _ids(f"{p['model']} v{p['version']}" for p in events)


def promotions_gated(e) -> Scored:
    gated = [p for p in _promotions(e) if p["detail"].get("gates") and not p["detail"].get("forced")]
    return _once_or_more(len(gated), f"{_n(len(gated), 'promotion')} passed gates: {_versions(gated)}",
                         "no promotion passed a gate (--require, or a champion to beat)")  # fmt: skip


def promotions_by_pipeline(e) -> Scored:
    by_cli = [p for p in _promotions(e) if p["detail"].get("via") == "cli"]
    under_ci = [p for p in by_cli if p["detail"].get("ci")]
    if under_ci:
        return 1.0, f"{_n(len(under_ci), 'promotion')} by the CLI under CI ({under_ci[0]['detail']['ci']}): {_versions(under_ci)}"
    if by_cli:
        return 0.5, f"{_n(len(by_cli), 'promotion')} by the CLI, none under CI"
    return 0.0, "no promotion made by a pipeline"


def predictions_logged(e) -> Scored:
    serving = e["serving"]
    logging = [m["model"] for m in serving if m["predictions"]]
    if logging:
        return 1.0, f"served and logging predictions: {_ids(logging)}"
    return (0.5, f"deployed without a logged prediction: {_ids(m['model'] for m in serving)}") if serving else (0.0, "no model was served")


def monitored_with_labels(e) -> Scored:
    labelled = {m["model"]: m["labels"] for m in e["serving"] if m["labels"]}
    if any(n > 1 for n in labelled.values()):
        return 1.0, f"labels sent back repeatedly for {_ids(m for m, n in labelled.items() if n > 1)}"
    return (0.5, f"labels sent back once for {_ids(labelled)}") if labelled else (0.0, "no label sent back to /feedback")


def comparison_stored(e) -> Scored:
    compared = [m["model"] for m in e["serving"] if m["shadow_labelled"] or m["split"]]
    if compared:
        return 1.0, f"A/B or shadow answers stored (and labelled) for {_ids(compared)}"
    shadows = [m["model"] for m in e["serving"] if m["shadow"]]
    return (0.5, f"shadow answers stored, none labelled yet: {_ids(shadows)}") if shadows else (0.0, "no A/B split or shadow stored")


# --- level 4: full automated operations -------------------------------------------------------------


def metrics_defined(e) -> Scored:
    defined = set(e["defined_metrics"])
    watched = sorted({p["metric"] for p in e["policies"] if p["metric"] in defined})
    if watched:
        return 1.0, f"policies watch defined metrics: {_ids(watched)}"
    if defined:
        return 0.5, f"{_n(len(defined), 'metric')} defined ({_ids(sorted(defined))}), no policy watches one"
    if e["policies"]:
        return 0.5, f"policies watch built-in metrics only: {_ids(sorted({p['metric'] for p in e['policies']}))}"
    return 0.0, "no metric defined for monitoring"


def policies_scheduled(e) -> Scored:
    thresholds = [p for p in e["policies"] if p["min_value"] is not None or p["max_value"] is not None]
    if not thresholds:
        return 0.0, "no policy with a threshold"
    models = {p["model"] for p in thresholds}
    watched = [w for w in e["events"]["watcher.stopped"] if w["model"] in models and w["detail"].get("ticks", 0) > 1]
    running = [w for w in e["watchers"] if w["model"] in models]
    checked = [c for c in e["events"]["policies.checked"] if c["model"] in models and c["detail"].get("ci")]
    if watched or running or checked:
        how = "a watcher" if watched or running else "CI (mlops-magic monitor check)"
        return 1.0, f"{_n(len(thresholds), 'threshold policy', 'threshold policies')} (id {_ids(p['policy_id'] for p in thresholds)}) evaluated on a schedule by {how}"
    return 0.5, f"{_n(len(thresholds), 'threshold policy', 'threshold policies')} (id {_ids(p['policy_id'] for p in thresholds)}), evaluated by hand only"


def retrained_by_policy(e) -> Scored:
    automatic = [j for j in e["jobs"] if j["status"] == "promoted" and j["alert_id"] is not None]
    if automatic:
        return 1.0, f"{_n(len(automatic), 'retraining')} started by an alert and promoted: job {_ids(j['job_id'] for j in automatic)} (alert {_ids(j['alert_id'] for j in automatic)})"
    if e["jobs"]:
        jobs = _ids(f"job {j['job_id']} {j['status']}" for j in e["jobs"])
        return 0.5, f"{_n(len(e['jobs']), 'retraining job')}, none started by an alert and promoted: {jobs}"
    return 0.0, "no retraining job"


def swap_lost_nothing(e) -> Scored:
    swaps = e["events"]["deployment.swapped"]
    if not swaps:
        return 0.0, "no version was swapped into a serving process"
    newest = swaps[0]
    where = f"{newest['model']} v{newest['detail'].get('from_version')} -> v{newest['detail'].get('to_version')}"
    if newest["failed_near"]:
        return 0.5, f"swap {where}: {newest['failed_near']} of {newest['requests_near']} requests around it failed"
    if not newest["requests_near"]:
        return 0.5, f"swap {where} happened with no traffic around it"
    return 1.0, f"swap {where}: all {newest['requests_near']} requests within 10 s of it answered"


CRITERIA = (
    Criterion("git", 1, "the folder is a git repository with commits", "git init && git add -A && git commit -m 'first commit'", git_repository),
    Criterion("tests", 1, "tests exist", "write tests (tests/test_*.py) that pytest runs", tests_exist),
    Criterion("ci", 1, "a CI configuration runs the tests", "mlops-magic ci init", ci_runs_tests),
    Criterion("tracked", 2, "runs are tracked with params, metrics, code and data fingerprints",
              "%%mlops_train -e EXPERIMENT --data train_df --target y --eval test_df", runs_tracked),
    Criterion("code_versioned", 2, "the code is version controlled (runs record a commit)", "commit your work (git commit), then train", code_versioned),
    Criterion("models_versioned", 2, "models are versioned in the registry, linked to runs", "%mlops_promote RUN_ID --name MODEL", models_versioned),
    Criterion("replayable", 2, "runs are replayable, and replayed", "mlops-magic replay RUN_ID (or mm.replay)", runs_replayable),
    Criterion("gated", 3, "promotions pass automated gates", "%mlops_promote best -e EXPERIMENT --name MODEL --alias production --require \"accuracy >= 0.9\"", promotions_gated),
    Criterion("pipeline", 3, "promotions are made by a CI/CD pipeline", "mlops-magic ci init, then let CI run it", promotions_by_pipeline),
    Criterion("served", 3, "a served version logs its predictions", "%mlops_serve MODEL@production", predictions_logged),
    Criterion("monitored", 3, "deployed performance is monitored with labels", "POST labels to /feedback, then %mlops_monitor MODEL", monitored_with_labels),
    Criterion("compared", 3, "an A/B or shadow comparison is stored", "%mlops_serve MODEL@production --shadow challenger", comparison_stored),
    Criterion("metrics", 4, "clearly defined metrics for model monitoring",
              "%mlops_metric NAME --cost-matrix \"[[0, 1], [5, 0]]\", then %mlops_policy MODEL --metric NAME --max 0.2", metrics_defined),
    Criterion("scheduled", 4, "policies with thresholds are evaluated on a schedule",
              "%mlops_policy MODEL --metric accuracy --min 0.85 --retrain, then %mlops_serve MODEL@production", policies_scheduled),
    Criterion("retrained", 4, "a retraining was triggered by an alert and promoted by policy", "%mlops_policy MODEL ... --retrain --gate \"accuracy >= 0.88\"", retrained_by_policy),
    Criterion("no_loss", 4, "the swap lost no request", "keep serving while the loop promotes: every request around the swap is answered", swap_lost_nothing),
)  # fmt: skip


def level_of(scores: dict[str, float]) -> int:
    """The highest level whose criteria, and those of every level below, all score 1."""
    level = 0
    for number, *_ in LEVELS[1:]:
        if any(scores[c.key] < 1 for c in CRITERIA if c.level == number):
            break
        level = number
    return level
