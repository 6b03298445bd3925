"""The registry: best run, gates with both figures, champion/challenger, alias history, CLI exit codes."""

from __future__ import annotations

import getpass
import html

import numpy as np
import pytest
from IPython.core.error import UsageError

from mlops_magic import api, cli
from mlops_magic.errors import GateError, MLOpsError
from mlops_magic.registry import parse_conditions

from .serving_support import forest, logistic, train, wine_frames

pytestmark = pytest.mark.both_stores


def test_promote_best_registers_the_top_run_and_records_the_alias_move(store):
    weak, _ = train(logistic(C=0.001))
    strong, model = train(forest())
    assert strong.metrics["accuracy"] > weak.metrics["accuracy"]

    promotion = api.promote("best", name="wine-quality", alias="production", experiment="wine", require="accuracy >= 0.9")

    assert (promotion.version, promotion.run_id, promotion.previous_version) == (1, strong.run_id, None)
    registry = api.models()
    assert registry.versions[["name", "version", "aliases", "run_id"]].values.tolist() == [["wine-quality", 1, "production", strong.run_id]]
    assert registry.versions["metrics.accuracy"].iloc[0] == strong.metrics["accuracy"]
    history = registry.history
    assert len(history) == 1 and (history["name"].iloc[0], history["alias"].iloc[0], history["to_version"].iloc[0]) == ("wine-quality", "production", 1)
    assert history["from_version"].isna().all() and history["user"].iloc[0] == getpass.getuser()  # who moved it, from nothing
    _, test_df = wine_frames()
    X = test_df.drop(columns="target")
    np.testing.assert_array_equal(api.load_model("wine-quality@production").predict(X), model.predict(X))


def test_a_failed_requirement_names_the_gate_and_both_figures_and_stores_nothing(store):
    run, _ = train(logistic(C=0.001))
    accuracy = run.metrics["accuracy"]
    with pytest.raises(GateError, match=rf"accuracy >= 0.999: run {run.short_id} has accuracy {accuracy:.4g}"):
        api.promote(run.run_id, name="wine-quality", alias="production", require=["accuracy >= 0.999"])
    assert store.model_names() == []


def test_a_challenger_worse_than_the_champion_is_refused_unless_forced(store):
    champion, _ = train(forest())
    challenger, _ = train(logistic(C=0.001))
    api.promote(champion.run_id, name="wine-quality", alias="production")

    with pytest.raises(GateError) as refused:
        api.promote(challenger.run_id, name="wine-quality", alias="production")
    message = str(refused.value)
    assert f"{challenger.metrics['accuracy']:.4g}" in message and f"{champion.metrics['accuracy']:.4g}" in message
    assert "worse than" in message and "--force" in message
    assert [v.version for v in store.model_versions("wine-quality")] == [1]

    forced = api.promote(challenger.run_id, name="wine-quality", alias="production", force=True)
    assert (forced.version, forced.previous_version, forced.forced) == (2, 1, True)
    history = store.alias_history_frame("wine-quality")
    assert history[["from_version", "to_version"]].values.tolist()[-1] == [1, 2]
    assert history["reason"].iloc[-1].startswith("forced past")


def test_a_forced_promotion_is_shown_as_forced_with_the_gates_it_was_forced_past(store):
    champion, _ = train(forest())
    challenger, _ = train(logistic(C=0.001))
    clean = api.promote(champion.run_id, name="wine-quality", alias="production")
    assert "&#9989;" in clean._repr_html_() and "forced" not in clean._repr_html_() + clean.summary()

    forced = api.promote(challenger.run_id, name="wine-quality", alias="production", require="accuracy >= 0.99", force=True)
    page = forced._repr_html_()
    assert "&#9989;" not in page and ">forced</span>" in page
    assert [c.gate for c in forced.forced_past] == ["accuracy >= 0.99", "champion/challenger vs production v1"]
    assert all(html.escape(c.detail) in page.split("Forced past:")[1] for c in forced.forced_past)
    assert "past 2 failed gates (forced)" in forced.summary()


def test_the_run_card_and_promote_best_agree_on_the_best_run_when_the_top_metric_saved_no_model(store):
    from mlops_magic.tracking.card import card_data

    with_model, _ = train(forest())
    assert with_model.metrics["accuracy"] == 1.0
    train_df, _ = wine_frames()
    with api.run("wine", name="no model", data=train_df, target="target", tags={"mlops.task": "classification"}):
        api.log_metric("accuracy", 1.0)  # as good and newer (which wins a tie), but nothing to register
    latest, _ = train(logistic(C=0.001))
    assert card_data(store, store.get_run(latest.run_id)).best_run_id == with_model.run_id
    assert api.promote("best", name="wine-quality", experiment="wine").run_id == with_model.run_id


def test_regression_best_is_the_lowest_rmse(store):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    frame = load_diabetes(as_frame=True).frame
    frames = train_test_split(frame, test_size=0.3, random_state=0)
    runs = [train(Ridge(alpha=alpha), "diabetes", frames)[0] for alpha in (100.0, 0.1)]
    best = min(runs, key=lambda r: r.metrics["rmse"])
    promotion = api.promote("best", name="diabetes", experiment="diabetes")
    assert promotion.run_id == best.run_id
    assert api.promote("best", name="diabetes", experiment="diabetes", by="r2").run_id == max(runs, key=lambda r: r.metrics["r2"]).run_id


def test_promoting_the_same_run_again_reuses_its_version(store):
    run, _ = train(forest())
    first = api.promote(run.run_id, name="wine-quality", alias="staging")
    again = api.promote(run.run_id[:8], name="wine-quality", alias="production")
    assert (first.version, again.version, again.new_version) == (1, 1, False)
    assert store.model_version("wine-quality", alias="production").version == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"run": "best", "name": "m"}, "needs an experiment"),
        ({"run": "best", "name": "m", "experiment": "nope"}, "has no runs"),
        ({"run": "best", "name": "m", "experiment": "wine", "by": "bogus"}, "choose --by among"),
        ({"run": "best", "name": "bad name!", "experiment": "wine"}, "is not valid"),
        ({"run": "best", "name": "m", "experiment": "wine", "require": "accuracy about 0.9"}, "is not METRIC OP NUMBER"),
        ({"run": "best", "experiment": "wine"}, "needs a model name"),
    ],
)
def test_bad_promotions_say_what_to_fix(store, kwargs, message):
    train(logistic())
    with pytest.raises(MLOpsError, match=message):
        api.promote(**kwargs)


def test_conditions_parse_with_and_and_commas():
    assert [str(c) for c in parse_conditions(["accuracy >= 0.9 and f1_macro>0.8", "rmse<1e3"])] == ["accuracy >= 0.9", "f1_macro > 0.8", "rmse < 1000"]


def test_cli_promote_exits_non_zero_when_a_gate_fails(store, capsys):
    train(logistic(C=0.001))
    location = str(store.url)
    assert cli.main(["--store", location, "promote", "best", "-e", "wine", "--name", "wq", "--alias", "production", "--require", "accuracy >= 0.999"]) == 1
    assert "refused: accuracy >= 0.999" in capsys.readouterr().err
    assert cli.main(["--store", location, "promote", "best", "-e", "wine", "--name", "wq", "--alias", "production"]) == 0
    assert "promoted wq v1" in capsys.readouterr().out
    assert cli.main(["--store", location, "models"]) == 0
    assert "production" in capsys.readouterr().out


def test_magics_promote_and_models(ip):
    from mlops_magic.widgets.registry import RegistryView

    train(forest())
    with pytest.raises(UsageError, match="refused"):
        ip.run_line_magic("mlops_promote", 'best -e wine --name wq --alias production --require "accuracy >= 1.01"')
    promotion = ip.run_line_magic("mlops_promote", "best -e wine --name wq --alias production")
    assert promotion.version == 1 and "production: none -> v1" in repr(promotion)
    view = ip.run_line_magic("mlops_models", "")
    assert isinstance(view, RegistryView)
    assert "production" in view.versions_html.value and "wq" in repr(view)


def test_registry_view_filters_by_model_and_reads_without_a_kernel(store):
    from mlops_magic.widgets.registry import RegistryView

    run, _ = train(forest())
    api.promote(run.run_id, name="wine-a", alias="production")
    api.promote(run.run_id, name="wine-b", alias="staging")
    view = RegistryView(api.models())
    assert "wine-a" in view.versions_html.value and "wine-b" in view.versions_html.value
    view.model.value = "wine-b"
    assert "wine-a" not in view.versions_html.value and "staging" in view.history_html.value
    assert "production" not in view.history_html.value
    static = view._repr_html_()
    assert "wine-a" in static and "Alias history" in static and "<RegistryView 2 models>" in repr(view)
    assert view.static_html() == api.models()._repr_html_()  # one renderer for the record and the view
    single = RegistryView(api.models("wine-a"))
    assert single.model not in single.children and "wine-b" not in single.static_html()  # one model: no filter to offer


def _promote_each(location: str, artifacts: str, run_ids: list[str], barrier, results) -> None:
    """One racer: promote each run to race@production as soon as the other racer is ready too."""
    from mlops_magic.registry import promote
    from mlops_magic.store import Store

    store = Store(location, artifacts)
    for run_id in run_ids:
        barrier.wait(timeout=30)  # a racer that died breaks the barrier: the other stops too
        try:
            promotion = promote(store, run_id, "race", alias="production")
            results.put((run_id, promotion.version, promotion.previous_version))
        except GateError:
            results.put((run_id, None, None))
    store.close()


def test_two_processes_promoting_at_once_never_pass_against_a_stale_champion(tmp_path, store_kind, request):
    """Each round, racer A promotes a run slightly worse than racer B's: if B's lands first, A's
    must be refused against it; versions stay unique and consecutive, the alias history a chain."""
    import multiprocessing
    import time
    import uuid

    from mlops_magic.store import ModelRecord, Run, Store

    location = request.getfixturevalue("postgres_url") if store_kind == "postgresql" else str(tmp_path / "race")
    store = Store(location, tmp_path / "race" / "artifacts")
    accuracy, racers = {}, ([], [])
    for i in range(25):
        for racer, base in zip(racers, (0.10, 0.11)):
            run = Run(uuid.uuid4().hex, "race", f"r{i}", "finished", time.time(), metrics={"accuracy": base + 0.02 * i}, tags={"mlops.task": "classification"})
            run.models = [ModelRecord("model", "LogisticRegression", store.artifacts.put(run.run_id.encode()), 32, [], "classification")]
            store.write_run(run)
            accuracy[run.run_id] = run.metrics["accuracy"]
            racer.append(run.run_id)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_promote_each, args=(location, str(store.artifacts.root), ids, barrier, results)) for ids in racers]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        if process.is_alive():
            process.kill()
    assert [p.exitcode for p in processes] == [0, 0]
    outcomes = [results.get(timeout=5) for _ in range(50)]

    versions = store.model_versions("race")
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    run_of = {v.version: v.run_id for v in versions}
    history = store.alias_history_frame("race")
    moves = list(zip(history["from_version"].astype(object).where(history["from_version"].notna(), None), history["to_version"]))
    assert moves[0][0] is None and all(before == after for (_, after), (before, _) in zip(moves, moves[1:]))
    for before, after in moves[1:]:  # no move to a challenger worse than the champion it replaced
        assert accuracy[run_of[after]] >= accuracy[run_of[before]]
    accepted = {(version, previous) for _, version, previous in outcomes if version is not None}
    assert accepted == {(int(after), None if before is None else int(before)) for before, after in moves}
    assert sum(version is None for _, version, _ in outcomes) > 0  # the race did happen: some were refused


def test_a_comparison_made_elsewhere_stands_in_for_the_champion_check_until_the_champion_moves(store):
    from mlops_magic.registry import GateCheck, promote

    weak, _ = train(logistic(C=0.001))
    strong, _ = train(forest())
    api.promote(strong.run_id, name="wine-quality", alias="production")
    held_out = GateCheck("champion/challenger on the held-out window", True, "accuracy 0.98 against 0.71")
    moved = promote(store, weak.run_id, "wine-quality", alias="production", compared_with=(1, held_out))  # worse on eval, better where it counts
    assert (moved.version, moved.previous_version) == (2, 1) and held_out in moved.checks
    with pytest.raises(GateError, match="compared with v1, but production moved to v2 meanwhile"):
        promote(store, strong.run_id, "wine-quality", alias="production", compared_with=(1, held_out))
