"""The ML Test Score (Breck et al., 2017): 28 tests in four sections, each scored 0, 0.5 (by hand) or
1 (automated); a section's score is its sum, the final score the minimum of the four.

A test is mapped to the evidence that shows it where the store or the folder holds any; the rest are
listed as not observable (scored 0: no record says they are done).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SECTIONS = ("Data", "Model", "Infrastructure", "Monitoring")

# What the final score means, by its upper bound (the paper's table).
MEANING = (
    (0.0, "more of a research project than a productionized system"),
    (1.0, "not totally untested, but there may be serious holes in reliability"),
    (2.0, "a first pass at basic productionization; more investment may be needed"),
    (3.0, "reasonably tested; more of the tests and procedures may be automated"),
    (5.0, "strong automated testing and monitoring, appropriate for mission-critical systems"),
    (float("inf"), "exceptional levels of automated testing and monitoring"),
)

Evidence = dict[str, Any]
Scores = dict[str, float]


def _from(criterion: str) -> Callable[[Evidence, Scores], float]:
    return lambda e, scores: scores[criterion]


def _baseline_beaten(e: Evidence, scores: Scores) -> float:
    """A registered version's run beats its dummy baseline on the baseline's metric."""
    metrics: dict[str, dict[str, float]] = {}
    for run_id, key, value in e["runs"]["registered_metrics"]:
        metrics.setdefault(run_id, {})[key] = value
    lower_is_better = {"rmse", "mae"}
    for values in metrics.values():
        for key, baseline in values.items():
            metric = key.removeprefix("baseline_")
            if key.startswith("baseline_") and metric in values:
                if (values[metric] < baseline) if metric in lower_is_better else (values[metric] > baseline):
                    return 1.0
    return 0.0


def _slices_watched(e: Evidence, scores: Scores) -> float:
    on_slices = [p for p in e["policies"] if p.get("slice")]
    return 1.0 if on_slices and scores["scheduled"] == 1 else 0.5 if on_slices else 0.0


def _tuned(e: Evidence, scores: Scores) -> float:
    return 1.0 if e["runs"]["searches"] else 0.5 if len(e["runs"]["complete"]) > 1 else 0.0


def _schema_checked(e: Evidence, scores: Scores) -> float:
    """Serving checks every request against the training data's columns and types."""
    return 1.0 if scores["served"] == 1 else 0.5 if scores["tracked"] else 0.0


def _drift_watched(e: Evidence, scores: Scores) -> float:
    drift_policies = [p for p in e["policies"] if p["trigger"] == "drift"]
    return 1.0 if drift_policies and scores["scheduled"] == 1 else 0.5 if drift_policies or e["alerts"].get("drift") else 0.0


def _staleness_known(e: Evidence, scores: Scores) -> float:
    """A retraining compared the champion with a fresh challenger on the newest data."""
    finished = [j for j in e["jobs"] if j["status"] in ("promoted", "refused")]
    return 1.0 if any(j["alert_id"] is not None for j in finished) else 0.5 if finished else 0.0


def _offline_online(e: Evidence, scores: Scores) -> float:
    """Live labelled metrics sit beside the eval metrics of the same version."""
    return scores["monitored"] if scores["models_versioned"] else 0.0


def _pipeline_tested(e: Evidence, scores: Scores) -> float:
    configs = e["folder"]["ci"]
    return 1.0 if any(c["runs_pipeline"] for c in configs) else 0.5 if scores["pipeline"] else 0.0


def _rollback(e: Evidence, scores: Scores) -> float:
    if e["registry"]["rollbacks"]:
        return 1.0
    return 0.5 if len(e["events"]["model_version_alias.created"]) > 1 else 0.0  # an earlier version to go back to


def _latency(e: Evidence, scores: Scores) -> float:
    latency_policies = [p for p in e["policies"] if "latency" in p["metric"] or "error" in p["metric"]]
    return 1.0 if latency_policies and scores["scheduled"] == 1 else 0.5 if scores["served"] == 1 else 0.0


def _quality_watched(e: Evidence, scores: Scores) -> float:
    return 1.0 if scores["scheduled"] == 1 else 0.5 if scores["monitored"] else 0.0


def _staleness_bounded(e: Evidence, scores: Scores) -> float:
    retraining = [p for p in e["policies"] if p["retrain"]]
    return 1.0 if retraining and scores["scheduled"] == 1 else 0.5 if e["jobs"] else 0.0


# (section, test, how it is observed or None, the evidence read)
TESTS: tuple[tuple[str, str, Callable[[Evidence, Scores], float] | None, str], ...] = (
    ("Data", "Feature expectations are captured in a schema", _schema_checked, "column types recorded with each run; serving checks requests against them"),
    ("Data", "All features are beneficial", None, ""),
    ("Data", "No feature's cost is too much", None, ""),
    ("Data", "Features adhere to meta-level requirements", None, ""),
    ("Data", "The data pipeline has appropriate privacy controls", None, ""),
    ("Data", "New features can be added quickly", None, ""),
    ("Data", "All input feature code is tested", _from("ci"), "tests run by CI"),
    ("Model", "Model specs are reviewed and submitted", _from("code_versioned"), "runs record the git commit of their code"),
    ("Model", "Offline and online metrics correlate", _offline_online, "eval metrics of a version beside its live labelled metrics"),
    ("Model", "All hyperparameters have been tuned", _tuned, "a search recorded (best_cv_score), or several runs compared"),
    ("Model", "The impact of model staleness is known", _staleness_known, "a retraining compared champion and challenger on the newest labelled window"),
    ("Model", "A simpler model is not better", _baseline_beaten, "a registered version beats its dummy baseline"),
    ("Model", "Model quality is sufficient on important data slices", _slices_watched, "a policy on a slice of the inputs, on a schedule"),
    ("Model", "The model is tested for considerations of inclusion", None, ""),
    ("Infrastructure", "Training is reproducible", _from("replayable"), "a recipe replayed as a child run"),
    ("Infrastructure", "Model specs are unit tested", None, ""),
    ("Infrastructure", "The ML pipeline is integration tested", _pipeline_tested, "CI runs the pipeline that replays, gates and promotes"),
    ("Infrastructure", "Model quality is validated before attempting to serve it", _from("gated"), "promotions pass gates"),
    ("Infrastructure", "The model allows debugging by observing the step-by-step computation", None, ""),
    ("Infrastructure", "Models are tested via a canary process before they enter production", _from("compared"), "A/B split or shadow answers stored"),
    ("Infrastructure", "Serving models can be rolled back to a previous version", _rollback, "alias history: an alias moved back, or an earlier version to move back to"),
    ("Monitoring", "Dependency changes result in notification", None, ""),
    ("Monitoring", "Data invariants hold in training and serving inputs", _schema_checked, "serving checks every request against the training schema"),
    ("Monitoring", "Training and serving features compute the same values", _drift_watched, "drift of live inputs against the training data, by a policy"),
    ("Monitoring", "Models are not too stale", _staleness_bounded, "a retraining policy, evaluated on a schedule"),
    ("Monitoring", "The model is numerically stable", None, ""),
    ("Monitoring", "The model has not experienced regressions in training speed, serving latency, throughput, or RAM usage", _latency,
     "serving latency and errors recorded per request; a policy on them"),
    ("Monitoring", "The model has not experienced a regression in prediction quality on served data", _quality_watched, "a threshold policy on live metrics, on a schedule"),
)  # fmt: skip


def meaning(final: float) -> str:
    return next(text for bound, text in MEANING if final <= bound)


def score_tests(evidence: Evidence, scores: Scores) -> list[dict[str, Any]]:
    """One row per test: section, test, score, observed (False: nothing in a record can show it), evidence."""
    return [
        {"section": section, "test": test, "score": rule(evidence, scores) if rule else 0.0, "observed": rule is not None, "evidence": reads or "not observable"}
        for section, test, rule, reads in TESTS
    ]
