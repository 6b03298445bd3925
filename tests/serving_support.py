"""Helpers for the registry and serving tests: runs recorded by the real tracker, wine data."""

from __future__ import annotations

import contextlib

from mlops_magic import api
from mlops_magic.session import Session


def wine_frames():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    frame = load_wine(as_frame=True).frame
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])


def train(model, experiment: str = "wine", frames=None, evaluate: bool = True, name: str | None = None):
    """Fit ``model`` on the wine data inside ``mm.run`` (so the run is real); return (run, model)."""
    train_df, test_df = frames or wine_frames()
    with api.run(experiment, name=name, data=train_df, target="target", eval=test_df if evaluate else None) as active:
        model.fit(train_df.drop(columns="target"), train_df["target"])
        active.track_model(model)
    api.get_store()  # waits for the tracker's background writer
    return active.run, model


def logistic(C: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))


def forest(n_estimators: int = 20):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_estimators, random_state=0)


@contextlib.contextmanager
def session_with_store(path):
    """A fresh session using the store at ``path`` while the block runs (module-scoped fixtures cannot use ``store``)."""
    session = Session()
    session.choose_store(str(path))
    previous = api.use_session(session)
    try:
        yield session
    finally:
        api.use_session(previous)
        session.close()


def invoke(session, url: str, payload, **headers):
    """POST ``payload`` (JSON) to ``/invocations``; return the response."""
    return session.post(f"{url}/invocations", json=payload, headers=headers or None, timeout=30)


def session_on_worker(url: str, avoid: int | None = None, timeout: float = 20.0):
    """A kept-alive session and the pid of the worker that accepted its connection (not ``avoid``).

    The kernel decides which worker accepts a connection: fresh ones are tried until one fits."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = requests.Session()
        worker = session.get(f"{url}/health", timeout=10).json()["worker"]
        if worker != avoid:
            return session, worker
        session.close()
        time.sleep(0.02)
    raise AssertionError(f"no worker other than {avoid} accepted a connection within {timeout} s")


def writer_of(worker: int) -> int:
    """The pid of the prediction-log writer process that serving worker ``worker`` spawned (Linux ``/proc``)."""
    from pathlib import Path

    for children in Path(f"/proc/{worker}/task").glob("*/children"):
        for child in children.read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    raise AssertionError(f"serving worker {worker} has no prediction-log writer process")


def descendants(pid: int) -> list[int]:
    """The pids of the processes below ``pid`` (its serving workers, their log writers), from Linux ``/proc``."""
    from pathlib import Path

    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found += [child, *descendants(child)]
    return found
