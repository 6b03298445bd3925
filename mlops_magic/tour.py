"""``mlops-magic tour``: the life-cycle end to end, headless, on a dataset scikit-learn ships.

Each stage is a step function that takes the shared ``state`` dict, prints its progress, and
adds what later steps need. New capabilities add a step to ``STEPS``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

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


STEPS: list[tuple[str, Step]] = [
    ("Train: track experiments", train_step),
]


def run_tour(store: str | None = None) -> int:
    """Run every step against ``store`` (default: the configured store); return an exit status."""
    if store:
        api.set_store(store)
    started = time.perf_counter()
    say(f"mlops_magic tour — store: {api.get_store().url}")
    state: dict[str, Any] = {}
    for number, (title, step) in enumerate(STEPS, start=1):
        say(f"\n[{number}/{len(STEPS)}] {title}")
        step(state)
    say(f"\ndone in {time.perf_counter() - started:.1f} s. The store is at {api.get_store().url}")
    say("Open the tutorials in notebooks/ to see the same steps with widgets.")
    return 0
