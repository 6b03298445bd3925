"""``mlops-magic tour``: the life-cycle end to end, headless, climbing the maturity levels 0 to 4.

The tour's folder becomes a small project of its own (a git repository, a test, the pipeline of
``ci init``, a store in ``.mlops/``). Each stage is a step function that takes the shared ``state``
dict, prints its progress and adds what later steps need; the assessment is printed after each one.
Training runs in a headless IPython shell, through the same ``%%mlops_train`` cells a notebook uses,
so the runs have recipes that replay. At the end it writes a self-contained HTML report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import api
from .errors import MLOpsError

Step = Callable[[dict[str, Any]], None]
MODEL, EXPERIMENT = "wine-tour", "wine"
COST, COSTS = "misgrade_cost", [[0, 1, 2], [1, 0, 1], [2, 1, 0]]  # the domain metric the loop watches
GIT_IDENTITY = ["-c", "user.name=mlops-magic tour", "-c", "user.email=tour@localhost"]

SETUP_CELL = """\
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

wine = load_wine(as_frame=True).frame
train_df, test_df = train_test_split(wine, test_size=0.3, random_state=0, stratify=wine["target"])"""
CANDIDATES = {  # name: (imports, the estimator)
    "stump-forest": ("from sklearn.ensemble import RandomForestClassifier", "RandomForestClassifier(n_estimators=5, max_depth=1, random_state=0)"),
    "logreg-C0.01": ("from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler",
                     "make_pipeline(StandardScaler(), LogisticRegression(C=0.01))"),
    "forest-30": ("from sklearn.ensemble import RandomForestClassifier", "RandomForestClassifier(n_estimators=30, random_state=0)"),
}  # fmt: skip
PROJECT_TEST = '''"""The tour project's own test: the data the model learns from is what it expects."""

import unittest

from sklearn.datasets import load_wine


class TestData(unittest.TestCase):
    def test_wine_has_its_13_features_and_3_classes(self):
        wine = load_wine(as_frame=True).frame
        self.assertEqual(wine.shape[1], 14)
        self.assertEqual(sorted(wine["target"].unique()), [0, 1, 2])


if __name__ == "__main__":
    unittest.main()
'''


class TourError(MLOpsError):
    """A stage could not do what it says."""


def say(message: str) -> None:
    print(message, flush=True)


def git(folder: Path, *args: str) -> None:
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise TourError(f"git {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")


def assess(state: dict[str, Any]) -> int:
    report = api.maturity(state["dir"])
    state.setdefault("levels", []).append(report.level)
    say(f"  => maturity level {report.level} ({report.name}); next: {report.next_step}")
    return report.level


# --- the stages ---------------------------------------------------------------------------------


def devops_step(state: dict[str, Any]) -> None:
    """Level 1: a git repository with a test, and the release pipeline of ``ci init``, committed."""
    folder = state["dir"]
    git(folder, "init", "-q", "-b", "main")
    (folder / "tests").mkdir()
    (folder / "tests" / "test_data.py").write_text(PROJECT_TEST)
    (folder / ".gitignore").write_text(".mlops/\n__pycache__/\n")
    pipeline = api.ci_init(
        str(folder), model=MODEL, experiment=EXPERIMENT, provider="github", require="accuracy >= 0.9", tests="python -m unittest discover -s tests -q"
    )
    say(f"  git init; tests/test_data.py; mlops-magic ci init: {pipeline.summary()}")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "the wine project: a test and its release pipeline")
    say("  committed")


@contextlib.contextmanager
def notebook_shell() -> Iterator[Any]:
    """A headless IPython shell with the extension loaded (history in memory, nothing written to ~)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "mlops_magic")
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "mlops_magic")


def run_cell(shell, cell: str) -> None:
    result = shell.run_cell(cell, store_history=True)
    if not result.success:
        error = result.error_in_exec or result.error_before_exec
        raise TourError(f"a tour cell failed: {error}")


def training_step(state: dict[str, Any]) -> None:
    """Level 2: three tracked trainings (committed code, data fingerprints, recipes), two versions
    registered, the best promoted behind a gate, and its recipe replayed."""
    from .errors import GateError

    with notebook_shell() as shell:
        run_cell(shell, SETUP_CELL)
        for name, (imports, estimator) in CANDIDATES.items():
            fit = f'model = {estimator}.fit(train_df.drop(columns="target"), train_df["target"])'
            run_cell(shell, f"%%mlops_train -e {EXPERIMENT} --name {name} --data train_df --target target --eval test_df --quiet\n{imports}\n{fit}")
            say(f"  %%mlops_train {name:<13} accuracy={api.get_run(api.runs(EXPERIMENT)['run_id'].iloc[0]).metrics['accuracy']:.3f}")
        state.update({name: shell.user_ns[name] for name in ("wine", "train_df", "test_df")})
    say(f"  data check: {api.check_data(state['train_df'], target='target').baseline.summary()}")
    table = api.runs(EXPERIMENT, sort="accuracy")
    best, second = table["run_id"].iloc[0], table["run_id"].iloc[1]
    say("  " + api.promote(best, name=MODEL, alias="production", require="accuracy >= 0.9").summary())
    try:
        api.promote(table["run_id"].iloc[-1], name=MODEL, alias="production")
    except GateError as refused:
        say(f"  champion/challenger gate, as it should: {str(refused).split(': ', 1)[-1]}")
    say("  " + api.promote(second, name=MODEL, alias="challenger").summary())
    again = api.replay(best)
    say(f"  replayed run {best[:8]} in a fresh process: run {again.run_id[:8]}, accuracy {again.metrics['accuracy']:.3f} (the same)")


def post(session, url: str, rows) -> list[str]:
    answer = session.post(f"{url}/invocations", json={"dataframe_records": rows.drop(columns="target").to_dict(orient="records")}, timeout=30)
    answer.raise_for_status()
    return answer.json()["ids"]


def wait_logged(count: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while api.get_store().count_predictions(MODEL) < count and time.time() < deadline:
        time.sleep(0.2)


def deployment_step(state: dict[str, Any]) -> None:
    """Level 3: served with a shadow challenger, labels sent back, then the release pipeline run as CI
    runs it: tests, replay, gated promotion by the CLI, monitor check, maturity check at level 3."""
    import requests

    deployment = api.serve(f"{MODEL}@production", shadow="challenger")
    state["deployment"] = deployment
    say(f"  serving {deployment.description} at {deployment.url} (pid {deployment.pid}), challenger in shadow")
    session = requests.Session()
    healthy = state["test_df"].sample(n=120, replace=True, random_state=1).reset_index(drop=True)
    ids = [i for start in range(0, len(healthy), 20) for i in post(session, deployment.url, healthy.iloc[start : start + 20])]
    for half in (slice(0, 60), slice(60, 120)):  # labels come back in two batches, as they do
        session.post(f"{deployment.url}/feedback", json={"ids": ids[half], "labels": healthy["target"][half].tolist()}, timeout=30).raise_for_status()
    wait_logged(len(ids))
    say(f"  {len(ids)} requests answered and labelled; shadow answers stored beside them")
    env = {**os.environ, "CI": "true", "MLOPS_MAGIC_STORE": api.get_store().url, "MLOPS_MAGIC_ARTIFACTS": str(api.get_store().artifacts.root)}
    say("  bash ci/pipeline.sh, as the CI service runs it (CI=true):")
    done = subprocess.run(["bash", "ci/pipeline.sh"], cwd=state["dir"], env=env, capture_output=True, text=True, timeout=300)
    for line in (done.stdout + done.stderr).strip().splitlines():
        if line.startswith(("==", "promoted", "trained", "mlops-magic:", "MLOps maturity")):
            say(f"    {line}")
    if done.returncode != 0:
        raise TourError(f"the pipeline failed (exit {done.returncode}): {(done.stderr or done.stdout).strip().splitlines()[-1]}")


class Traffic(threading.Thread):
    """A client sending one row every few milliseconds, counting answers and failures."""

    def __init__(self, url: str, rows):
        super().__init__(daemon=True)
        self.url, self.rows, self.answered, self.failed, self.done = url, rows, 0, 0, threading.Event()

    def run(self) -> None:
        import requests

        session, i = requests.Session(), 0
        while not self.done.wait(0.02):
            row = self.rows.iloc[[i % len(self.rows)]]
            try:
                post(session, self.url, row)
                self.answered += 1
            except requests.RequestException:
                self.failed += 1
            i += 1


def recalibrated(wine, n: int, seed: int):
    """Wines measured by recalibrated sensors: proline +700, flavanoids x0.4, colour +3, a little noise."""
    import numpy as np

    rows = wine.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    rows["proline"] += 700
    rows["flavanoids"] *= 0.4
    rows["color_intensity"] += 3
    noise = np.random.default_rng(seed).normal(0, 0.02, (len(rows), rows.shape[1] - 1))
    rows.iloc[:, :-1] = rows.iloc[:, :-1] * (1 + noise)
    return rows


def operations_step(state: dict[str, Any]) -> None:
    """Level 4: a policy that retrains, evaluated by its watcher; traffic drifts, labels arrive; the
    alert, the retraining, the gate, the promotion and the swap happen on their own, under traffic."""
    import requests

    deployment, session = state["deployment"], requests.Session()
    api.define_metric(COST, cost_matrix=COSTS, better="lower")
    say(f"  metric {COST}: the mean cost of a wrong answer, {COSTS} (rows the true cultivar); confusing cultivars 0 and 2 costs double")
    policy = api.set_policy(MODEL, COST, max_value=0.2, window=100, min_labelled=80, retrain=True, gate="accuracy >= 0.88")
    say(f"  policy {policy.policy_id}: {COST} <= 0.2 over the newest 100 predictions (80 labelled), else retrain, gate accuracy >= 0.88; its watcher runs")
    before = api.get_store().model_version(MODEL, alias="production").version
    drifted = recalibrated(state["wine"], 200, seed=2)
    logged = api.get_store().count_predictions(MODEL)
    ids = [i for start in range(0, len(drifted), 20) for i in post(session, deployment.url, drifted.iloc[start : start + 20])]
    wait_logged(logged + len(ids))
    traffic = Traffic(deployment.url, recalibrated(state["wine"], 50, seed=3))
    traffic.start()
    session.post(f"{deployment.url}/feedback", json={"ids": ids, "labels": drifted["target"].tolist()}, timeout=30).raise_for_status()
    say(f"  {len(ids)} requests from recalibrated sensors, then their labels: the champion (v{before}) gets many wrong")
    labelled, deadline = time.time(), time.time() + 120
    while time.time() < deadline and not _swapped(deployment.url, before):
        time.sleep(0.5)
    time.sleep(1.0)  # traffic on both sides of the swap
    traffic.done.set()
    traffic.join()
    if not _swapped(deployment.url, before):
        raise TourError("the loop did not swap a retrained version in within 120 s: see mm.lineage('wine-tour') and mm.get_store().jobs()")
    [job] = [j for j in api.get_store().jobs(MODEL) if j.status == "promoted"][-1:]
    held_out = job.detail["held_out"]
    say(f"  alert -> retrain job {job.job_id} -> gate (held-out {COST} {held_out['challenger'][COST]:.3f} vs champion {held_out['champion'][COST]:.3f})"
        f" -> v{job.detail['version']} promoted -> swapped in {time.time() - labelled:.0f} s after the labels")  # fmt: skip
    say(f"  {traffic.answered} requests answered during the loop, {traffic.failed} failed")
    windows = api.monitor(MODEL, window=100, metric=COST).windows
    labelled = windows[windows["n_labelled"] > 0][["window", "n_predictions", "n_labelled", "accuracy", COST]]
    say("  the labelled windows:\n  " + labelled.round(3).to_string(index=False).replace("\n", "\n  "))
    alerts = api.alerts(MODEL)
    counts = ", ".join(f"{n} {kind}" for kind, n in alerts["kind"].value_counts().items())
    started = alerts[alerts["alert_id"] == job.alert_id]["message"]
    say(f"  alerts: {counts}; the one that started job {job.job_id}: {started.iloc[0] if len(started) else '?'}")
    if traffic.failed:
        raise TourError(f"{traffic.failed} requests failed around the swap")


def _swapped(url: str, before: int) -> bool:
    import requests

    return all(requests.get(f"{url}/model", timeout=5).json()["variants"][0]["version"] != before for _ in range(6))  # new connections: every worker


STAGES: list[tuple[str, Step | None]] = [
    ("Level 0: an empty folder", None),
    ("Level 1: DevOps, a repository with a test and a release pipeline", devops_step),
    ("Level 2: automated training, tracked, versioned and replayable", training_step),
    ("Level 3: automated deployment, served, monitored and released by the pipeline", deployment_step),
    ("Level 4: full automated operations, the loop closes on its own", operations_step),
]


def write_report(state: dict[str, Any]) -> Path:
    """The tour's self-contained HTML report: runs, registry, monitor with its timeline, maturity."""
    from .widgets.monitor import MonitorDashboard
    from .widgets.registry import RegistryView
    from .widgets.runs_table import RunsTable

    sections = {
        "Runs": RunsTable(api.runs(EXPERIMENT, sort="accuracy")).static_html(),
        "Registry": RegistryView(api.models(MODEL)).static_html(),
        "Monitor": MonitorDashboard(api.monitor(MODEL, window=100)).static_html(),
        "Maturity": api.maturity(state["dir"])._repr_html_(),
    }
    body = "".join(f"<section id='{title.lower()}'><h2>{title}</h2>{html}</section>" for title, html in sections.items())
    levels = " &rarr; ".join(str(level) for level in state["levels"])
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>mlops_magic tour</title></head>"
        "<body style='font-family:sans-serif;max-width:1200px;margin:auto'>"
        f"<h1>mlops_magic tour</h1><p>Maturity levels climbed: {levels}. Project folder: {state['dir']}</p>{body}</body></html>"
    )
    path = state["dir"] / "tour-report.html"
    path.write_text(page)
    return path


def summary(state: dict[str, Any], report: Path) -> str:
    """The one-screen summary: what the tour left, and where."""
    store = api.get_store()
    runs = [api.get_run(run_id) for run_id in api.runs(EXPERIMENT)["run_id"]]
    replays = sum(run.parent_run_id is not None for run in runs)
    production = store.model_version(MODEL, alias="production")
    maturity = api.maturity(state["dir"])
    [job] = store.jobs(MODEL)[-1:] or [None]
    lines = [
        f"  maturity      {' -> '.join(map(str, state['levels']))} ({maturity.name}); ML Test Score {maturity.test_score.final:g}",
        f"  runs          {len(runs)} in experiment {EXPERIMENT!r} ({len(runs) - replays} trained in cells, {replays} replays of their recipes)",
        f"  registry      {len(store.model_versions(MODEL))} versions of {MODEL}; production is v{production.version}",
        f"  serving       {store.count_predictions(MODEL)} predictions logged, the challenger's shadow answers beside them",
        "  the loop      " + (f"alert {job.alert_id} -> job {job.job_id} {job.status} -> v{job.detail.get('version')}" if job else "no job"),
        f"  report        {report}",
        f"  project       {state['dir']} (git log, ci/pipeline.sh, .github/workflows/, tests/, .mlops/)",
    ]
    return "\n".join(lines)


def _folder(requested: str | None) -> Path:
    if requested is None:
        return Path(tempfile.mkdtemp(prefix="mlops-magic-tour-"))
    folder = Path(requested).resolve()
    if folder.exists() and any(folder.iterdir()):
        raise TourError(f"{folder} is not empty: the tour builds a project from nothing; give a new or empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_tour(directory: str | None = None) -> int:
    """Climb the levels in ``directory`` (default: a new temporary folder); return an exit status."""
    if shutil.which("git") is None:
        print("mlops-magic tour: git is not installed, and level 1 needs a git repository: install git (apt-get install git).", file=sys.stderr)
        return 2
    started, state = time.perf_counter(), {}
    try:
        state["dir"] = folder = _folder(directory)
    except TourError as error:
        print(f"mlops-magic tour: {error}", file=sys.stderr)
        return 2
    here = Path.cwd()
    os.chdir(folder)  # runs record the project's git commit; the pipeline runs here
    api.set_store(str(folder / ".mlops"))
    say(f"mlops_magic tour in {folder} (store {api.get_store().safe_url})")
    try:
        for number, (title, step) in enumerate(STAGES):
            say(f"\n[{number}/{len(STAGES) - 1}] {title}")
            if step is not None:
                step(state)
            assess(state)
        report = write_report(state)
    except (MLOpsError, OSError, subprocess.SubprocessError) as error:
        print(f"mlops-magic tour: {error}", file=sys.stderr)
        return 1
    finally:
        if "deployment" in state:  # leave no process behind
            stopped = api.stop(state["deployment"].name)
            logged = api.predictions(stopped.name)
            say(f"\nstopped {stopped.name}: {int((~logged['shadow']).sum())} predictions logged, and {int(logged['shadow'].sum())} shadow answers")
        os.chdir(here)
    say(f"\ndone in {time.perf_counter() - started:.0f} s")
    say(summary(state, report))
    say("The same steps with widgets, in notebooks: mlops-magic tutorials, then jupyter lab mlops-magic-tutorials")
    return 0
