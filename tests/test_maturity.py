"""Maturity from evidence: the tour climbs levels 0 to 4 on real parts; on its level-4 store, each
criterion's evidence taken away drops the level to the one below it; the ML Test Score; the CLI, the
magic, the widget and the stored answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from IPython.core.error import UsageError

import mlops_magic as mm
from mlops_magic.assessment import assess_evidence, evidence_of
from mlops_magic.assessment.criteria import CRITERIA
from mlops_magic.errors import InvalidInputError
from mlops_magic.store import Store
from mlops_magic.widgets.maturity import MaturityDashboard


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "mlops_magic.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def climbed(tmp_path_factory):
    """The README's main command, run once: ``mlops-magic tour --dir DIR``; (output, folder, store)."""
    folder = tmp_path_factory.mktemp("tour") / "project"
    tour = cli("tour", "--dir", str(folder), cwd=folder.parent)
    assert tour.returncode == 0, tour.stdout[-3000:] + tour.stderr
    store = Store(str(folder / ".mlops"))
    yield tour.stdout, folder, store
    store.close()


def test_the_tour_climbs_from_0_to_4_and_writes_its_report(climbed):
    out, folder, store = climbed
    assert [int(n) for n in re.findall(r"=> maturity level (\d)", out)] == [0, 1, 2, 3, 4]
    assert len(re.findall(r"^  %%mlops_train \S+ +accuracy=", out, re.M)) == 3 and "champion/challenger gate, as it should" in out
    assert re.search(r"MLOps maturity level 3 .*", out)  # printed by the pipeline's own `maturity --min-level 3`
    assert re.search(r"production: v1 -> v3\. Gates: ok accuracy >= 0\.9", out)  # the pipeline's gated promotion
    answered = re.search(r"(\d+) requests answered during the loop, (\d+) failed", out)
    assert int(answered.group(1)) > 50 and answered.group(2) == "0"
    logged = re.search(r"stopped wine-tour: (\d+) predictions logged, and (\d+) shadow answers", out)
    assert int(logged.group(1)) == store.count_predictions("wine-tour") == int(answered.group(1)) + 120 + 200  # + labelled batches
    assert 0 < int(logged.group(2)) <= int(logged.group(1))
    assert [job.status for job in store.jobs("wine-tour")] == ["promoted"]
    assert store.model_version("wine-tour", alias="production").version == 4  # v1, the challenger v2, the pipeline's v3, the loop's v4
    log = subprocess.run(["git", "log", "--oneline"], cwd=folder, capture_output=True, text=True).stdout
    assert "a test and its release pipeline" in log and (folder / "ci" / "pipeline.sh").exists()
    report = (folder / "tour-report.html").read_text()
    for section in ("runs", "registry", "monitor", "maturity"):
        assert f"<section id='{section}'>" in report
    assert "MLOps maturity: level 4" in report and "lineage (alert" in report and "<img" in report
    assert "Maturity levels climbed: 0 &rarr; 1 &rarr; 2 &rarr; 3 &rarr; 4" in report
    deployments = cli("--store", str(folder / ".mlops"), "deployments")
    assert "wine-tour stopped" in deployments.stdout


def test_the_cli_exits_1_below_min_level_for_ci(climbed, tmp_path):
    _, folder, _ = climbed
    store = ["--store", str(folder / ".mlops")]
    assert cli(*store, "maturity", str(folder), "--min-level", "4").returncode == 0
    report = json.loads(cli(*store, "maturity", str(folder), "--json").stdout)
    assert report["level"] == 4 and len(report["checks"]) == len(CRITERIA) and report["test_score"]["final"] == 2
    empty = cli("--store", str(tmp_path / "s"), "maturity", str(tmp_path), "--min-level", "1")
    assert empty.returncode == 1 and empty.stderr.count("\n") == 1 and "level 0 is below --min-level 1" in empty.stderr
    assert "git init" in empty.stderr  # the next step, with the command that takes it
    assert cli("--store", str(tmp_path / "s"), "maturity", str(tmp_path), "--min-level", "0").returncode == 0


# Each criterion's evidence, taken away from the level-4 store's.
REMOVE = {
    "git": lambda e: e["folder"].update(git=None),
    "tests": lambda e: e["folder"].update(tests=[]),
    "ci": lambda e: e["folder"].update(ci=[]),
    "tracked": lambda e: e["runs"].update(complete=[]),
    "code_versioned": lambda e: [r.update(git=None) for r in e["runs"]["newest"]],
    "models_versioned": lambda e: e["registry"].update(versions=e["registry"]["versions"][:1]),
    "replayable": lambda e: e["runs"].update(replays=0),
    "gated": lambda e: [p["detail"].update(gates=[]) for p in e["events"]["model_version_alias.created"]],
    "pipeline": lambda e: [p["detail"].update(ci=None) for p in e["events"]["model_version_alias.created"]],
    "served": lambda e: [m.update(predictions=False) for m in e["serving"]],
    "monitored": lambda e: [m.update(labels=1) for m in e["serving"]],
    "compared": lambda e: [m.update(shadow_labelled=False, split=False) for m in e["serving"]],
    "metrics": lambda e: e.update(defined_metrics=[]),
    "scheduled": lambda e: (e["events"].update({"watcher.stopped": [], "policies.checked": []}), e.update(watchers=[])),
    "retrained": lambda e: [j.update(alert_id=None) for j in e["jobs"]],
    "no_loss": lambda e: [s.update(failed_near=3) for s in e["events"]["deployment.swapped"]],
}


@pytest.mark.parametrize("criterion", CRITERIA, ids=lambda c: c.key)
def test_each_missing_criterion_puts_the_level_one_below_its_own(climbed, criterion):
    _, folder, store = climbed
    evidence = evidence_of(store, folder)
    assert assess_evidence(evidence).level == 4
    REMOVE[criterion.key](evidence)
    report = assess_evidence(evidence)
    assert report.level == criterion.level - 1
    row = report.checks.set_index("key").loc[criterion.key]
    assert row["status"] != "met" and report.next_step.startswith(f"level {criterion.level}: {criterion.title}")


def test_every_criterion_names_its_evidence_and_how_to_meet_it(climbed):
    _, folder, store = climbed
    checks = assess_evidence(evidence_of(store, folder)).checks
    assert list(checks.columns[:2]) == ["level", "criterion"] and {"score", "status", "evidence", "how"} <= set(checks.columns)
    assert (checks["status"] == "met").all() and checks["evidence"].str.len().gt(10).all()
    versions = checks.set_index("key").loc["models_versioned", "evidence"]
    assert "wine-tour v4" in versions and "4 registered versions" in versions
    assert checks.set_index("key").loc["pipeline", "evidence"].startswith("1 promotion by the CLI under CI")


def test_the_ml_test_score_sums_each_section_and_takes_the_minimum(climbed):
    _, folder, store = climbed
    evidence = evidence_of(store, folder)
    score = assess_evidence(evidence).test_score
    tests = score.tests.set_index("test")["score"]
    assert len(tests) == 28 and score.tests.groupby("section").size().tolist() == [7, 7, 7, 7]
    assert tests["A simpler model is not better"] == 1  # the promoted forest beats its dummy baseline
    assert tests["All hyperparameters have been tuned"] == 0.5  # several runs compared, no search
    assert tests["Serving models can be rolled back to a previous version"] == 0.5  # earlier versions, never rolled back
    assert tests["Training is reproducible"] == 1 and tests["Models are tested via a canary process before they enter production"] == 1
    drift = 0.5 if evidence["alerts"].get("drift") else 0.0  # drift seen, but no drift policy
    assert score.sections == {"Data": 2.0, "Model": 4.5, "Infrastructure": 4.5, "Monitoring": 3.5 + drift}
    assert score.final == 2.0 and "first pass at basic productionization" in score.meaning


def test_an_empty_folder_is_level_0_and_answers_never_raise_it(store, tmp_path):
    report = mm.maturity(str(tmp_path))
    assert report.level == 0 and report.test_score.final == 0 and report.next_step.startswith("level 1: the folder is a git repository")
    for question in ("standards", "engineers_deploy", "cooperation", "retraining_pays"):
        mm.answer_maturity(question, "yes")
    again = mm.maturity(str(tmp_path))
    assert again.level == 0 and again.answers["cooperation"]["answer"] == "yes"
    assert "Do data scientists and software engineers work closely together on releases?" in again._repr_html_()
    assert '<span style="white-space:nowrap">--target</span>' in again._repr_html_()  # a flag is never cut at its hyphens
    with pytest.raises(InvalidInputError, match="no maturity question 'teamwork'"):
        mm.answer_maturity("teamwork", "yes")
    with pytest.raises(InvalidInputError, match="is not one of yes, partly, no"):
        mm.answer_maturity("cooperation", "maybe")


def test_the_widget_shows_the_level_and_stores_an_answer_given_in_it(store, tmp_path):
    dashboard = MaturityDashboard(mm.maturity(str(tmp_path)), on_answer=mm.answer_maturity)
    assert "MLOps maturity: level 0" in dashboard.children[0].value and "git init" in dashboard.children[0].value
    assert [bar.value for bar in dashboard.progress] == [0, 0, 0, 0]
    dashboard.questions["cooperation"].value = "partly"  # as a click does
    assert store.maturity_answers()["cooperation"]["answer"] == "partly"
    assert mm.maturity(str(tmp_path)).answers["cooperation"]["answer"] == "partly"
    bundle = dashboard._repr_mimebundle_()
    assert "level 0" in bundle["text/plain"] and "People and process" in bundle["text/html"]


def test_the_magic_returns_the_dashboard_and_refuses_a_bad_answer(ip, tmp_path):
    dashboard = ip.run_line_magic("mlops_maturity", f"{tmp_path} --answer standards=no")
    assert isinstance(dashboard, MaturityDashboard) and dashboard.report.answers["standards"]["answer"] == "no"
    assert dashboard.questions["standards"].value == "no"
    with pytest.raises(UsageError, match="is not QUESTION=ANSWER"):
        ip.run_line_magic("mlops_maturity", "--answer standards")
    with pytest.raises(UsageError, match="is not one of yes, partly, no"):
        ip.run_line_magic("mlops_maturity", "--answer standards=sometimes")


def test_a_folder_outside_git_with_tests_and_ci_is_seen_as_such(store, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_model.py").write_text("def test_nothing():\n    pass\n")
    (tmp_path / ".gitlab-ci.yml").write_text("build:\n  script:\n    - make\n")
    checks = mm.maturity(str(tmp_path)).checks.set_index("key")
    assert checks.loc["tests", "status"] == "met" and "tests/test_model.py" in checks.loc["tests", "evidence"]
    assert checks.loc["ci", "status"] == "partial" and "runs no tests" in checks.loc["ci", "evidence"]
    assert checks.loc["git", "status"] == "missing"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert mm.maturity(str(tmp_path)).checks.set_index("key").loc["git", "status"] == "partial"  # a repository, no commit yet



def test_the_tour_says_in_one_line_what_it_cannot_do(tmp_path):
    no_git = cli("tour", "--dir", str(tmp_path / "t"), env={**os.environ, "PATH": str(tmp_path)})
    assert no_git.returncode == 2 and no_git.stderr.count("\n") == 1 and "git is not installed" in no_git.stderr
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    taken = cli("tour", "--dir", str(tmp_path / "used"))
    assert taken.returncode == 2 and taken.stderr.count("\n") == 1 and "is not empty" in taken.stderr
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"
