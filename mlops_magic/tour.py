"""``mlops-magic tour``: the life-cycle end to end, headless, on a dataset scikit-learn ships.

Each stage is a step function that takes the shared ``state`` dict, prints its progress, and
adds what later steps need. New capabilities add a step to ``STEPS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import api

Step = Callable[[dict[str, Any]], None]


def say(message: str) -> None:
    print(message, flush=True)


def train_step(state: dict[str, Any]) -> None:
    """1. Train: three models on the wine data, each recorded as a run with eval metrics."""
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = load_wine(as_frame=True).frame
    train_df, test_df = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])
    X_train, y_train = train_df.drop(columns="target"), train_df["target"]
    candidates = {
        "logreg-C0.01": make_pipeline(StandardScaler(), LogisticRegression(C=0.01)),
        "logreg-C1": make_pipeline(StandardScaler(), LogisticRegression(C=1.0)),
        "forest-50": RandomForestClassifier(n_estimators=50, random_state=0),
    }
    for name, model in candidates.items():
        with api.run("wine", name=name, data=train_df, target="target", eval=test_df, tags={"source": "tour"}) as active:
            model.fit(X_train, y_train)
            active.track_model(model)
        say(f"  trained {name:<14} run {active.run_id[:8]}  accuracy={active.run.metrics.get('accuracy', float('nan')):.3f}")
    state.update(experiment="wine", train_df=train_df, test_df=test_df)
    table = api.runs("wine", sort="accuracy", limit=5)
    columns = ["run_id", "name", "status", "metrics.accuracy", "metrics.f1_macro", "metrics.baseline_accuracy"]
    say("\n  runs of experiment 'wine', best first:")
    say("  " + table[columns].assign(run_id=table["run_id"].str[:8]).to_string(index=False).replace("\n", "\n  "))
    state["best_run_id"] = table["run_id"].iloc[0]


def deploy_step(state: dict[str, Any]) -> None:
    """2. Deploy: promote the best run behind gates, serve it, call it; ``state["deployment"]`` for later steps."""
    import requests

    from .errors import GateError

    say("  " + api.promote(state["best_run_id"], name="wine-tour", alias="production", require="accuracy >= 0.9").summary())
    weakest = api.runs(state["experiment"], sort="accuracy").iloc[-1]
    try:
        api.promote(weakest["run_id"], name="wine-tour", alias="production")
        say(f"  run {weakest['run_id'][:8]} is as good as the champion: it now serves production")
    except GateError as refused:
        say(f"  champion/challenger gate, as it should: {refused}")
    deployment = api.serve("wine-tour@production")
    say(f"  serving {deployment.description} at {deployment.url} (pid {deployment.pid}; API docs at {deployment.url}/docs)")
    records = state["test_df"].drop(columns="target").head(3).to_dict(orient="records")
    answer = requests.post(f"{deployment.url}/invocations", json={"dataframe_records": records}, timeout=30).json()
    say(f"  POST /invocations (3 rows) -> predictions {answer['predictions']}, ids {answer['ids'][0]}, ...")
    state["deployment"] = deployment


def stop_step(state: dict[str, Any]) -> None:
    """4. Stop the endpoint: a graceful stop writes every logged prediction first."""
    say(f"  {api.stop(state['deployment'].name)!r}; {len(api.predictions(state['deployment'].name))} predictions logged")
    state["stopped"] = True


def monitor_step(state: dict[str, Any]) -> None:
    """3. Monitor: the data check, then a stream that drifts half-way, late labels, a policy and its alert."""
    import requests

    say(f"  data check: {api.check_data(state['train_df'], target='target').baseline.summary()}")
    deployment = state["deployment"]
    logged_before = api.get_store().count_predictions(deployment.name)
    stream = state["test_df"].sample(n=400, replace=True, random_state=1).reset_index(drop=True)
    stream.loc[200:, "alcohol"] += 2.0  # a new supplier's wines from the 201st request on
    stream.loc[200:, "proline"] *= 1.8
    session, ids = requests.Session(), []
    for start in range(0, len(stream), 20):
        records = stream.iloc[start : start + 20].drop(columns="target").to_dict(orient="records")
        ids += session.post(f"{deployment.url}/invocations", json={"dataframe_records": records}, timeout=30).json()["ids"]
    session.post(f"{deployment.url}/feedback", json={"ids": ids[:300], "labels": stream["target"][:300].tolist()}, timeout=30)
    deadline = time.time() + 30
    while api.get_store().count_predictions(deployment.name) < logged_before + len(ids) and time.time() < deadline:
        time.sleep(0.2)
    report = api.monitor(deployment.name, window=100, metric="accuracy", min_value=0.9)
    columns = ["window", "n_predictions", "n_labelled", "accuracy", "estimated_accuracy"]
    say("  " + report.windows[columns].round(3).to_string(index=False).replace("\n", "\n  "))
    say(f"  verdict: {report.summary()}")
    for alert in report.new_alerts:
        say(f"  ALERT [{alert['kind']}] {alert['message']}")


STEPS: list[tuple[str, Step]] = [
    ("Train: track experiments", train_step),
    ("Deploy: gated promotion and a local endpoint", deploy_step),
    ("Monitor: drift, live performance and alerts", monitor_step),
    ("Stop the endpoint", stop_step),
]


def run_tour(store: str | None = None) -> int:
    """Run every step against ``store`` (default: the configured store); return an exit status."""
    if store:
        api.set_store(store)
    started = time.perf_counter()
    say(f"mlops_magic tour — store: {api.get_store().url}")
    state: dict[str, Any] = {}
    try:
        for number, (title, step) in enumerate(STEPS, start=1):
            say(f"\n[{number}/{len(STEPS)}] {title}")
            step(state)
    finally:
        if "deployment" in state and not state.get("stopped"):  # a step failed: leave no endpoint behind
            api.stop(state["deployment"].name)
    say(f"\ndone in {time.perf_counter() - started:.1f} s. The store is at {api.get_store().url}")
    say("Open the tutorials in notebooks/ to see the same steps with widgets.")
    return 0
