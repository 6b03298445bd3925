"""Run names a person can say aloud: ``wine-1``, ``wine-2``, ... by their number in the experiment,
the same in every kernel of the store; a name the user gave is kept."""

from __future__ import annotations

import mlops_magic as mm
from mlops_magic import api
from mlops_magic.session import Session


def names(store, experiment: str) -> list[str]:
    return list(store.runs_frame(experiment).sort_values("start_time")["name"])


def test_runs_are_numbered_in_their_experiment_and_a_given_name_is_kept(store):
    for _ in range(2):
        with mm.run("wine") as active:
            active.log_metric("acc", 0.5)
    with mm.run("iris"):
        pass
    with mm.run("wine", name="baseline"):
        pass
    with mm.run("wine"):
        pass  # the fourth run of wine, the one the user named included
    api.current_session().tracker.wait()  # the runs are written by the background writer
    assert names(store, "wine") == ["wine-1", "wine-2", "baseline", "wine-4"]
    assert names(store, "iris") == ["iris-1"]


def test_another_kernel_on_the_same_store_goes_on_counting(store):
    with mm.run("wine"):
        pass
    api.current_session().tracker.wait()
    other = Session()  # a second kernel: it has named nothing yet, the store holds one run
    previous = api.use_session(other)
    try:
        first, second = mm.run("wine"), mm.run("wine")  # both named before either is stored
        with first, second:
            pass
        other.tracker.wait()
    finally:
        api.use_session(previous)
        other.close()
    assert names(store, "wine") == ["wine-1", "wine-2", "wine-3"]
