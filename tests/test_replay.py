"""Recipes and replays: a run trains again in a fresh process, on its own snapshot or on new data."""

from __future__ import annotations

import re

import pytest

import mlops_magic as mm
from mlops_magic.errors import InvalidInputError
from mlops_magic.tracking.card import card_data
from mlops_magic.widgets.run_card import card_html

CELLS = [
    "import pandas as pd\nfrom sklearn.datasets import load_wine\nfrom sklearn.model_selection import train_test_split\n"
    "from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler",
    'df = load_wine(as_frame=True).frame\ntrain_df, test_df = train_test_split(df, random_state=0, stratify=df["target"])',
    'X_train, y_train = train_df.drop(columns="target"), train_df["target"]\nX_test, y_test = test_df.drop(columns="target"), test_df["target"]',
    "C = 0.5\nunused = 1",
    "def pipeline(c):\n    return make_pipeline(StandardScaler(), LogisticRegression(C=c))",
]
TRAIN = (
    "%%mlops_train -e wine --data train_df --target target --eval test_df --tag owner=ana\n"
    "model = pipeline(C).fit(X_train, y_train)\nacc = model.score(X_test, y_test)"
)


@pytest.fixture
def trained(ip):
    for cell in CELLS:
        assert ip.run_cell(cell, store_history=True).success
    assert ip.run_cell(TRAIN, store_history=True).success
    return mm.get_run(mm.runs("wine")["run_id"][0]), ip


def test_the_recipe_is_the_cell_and_what_it_needs_cut_at_the_declared_inputs(trained):
    run, _ = trained
    recipe = run.recipe
    assert recipe["cell"].startswith("model = pipeline(C)")
    assert [c.splitlines()[0] for c in recipe["cells"]] == ["import pandas as pd", 'X_train, y_train = train_df.drop(columns="target"), train_df["target"]', "C = 0.5", "def pipeline(c):"]
    assert recipe["inputs"] == {"train_df": ["train", "frame"], "test_df": ["eval", "frame"]}  # injected, never recomputed
    assert recipe["blockers"] == [] and recipe["nondeterministic"] == []
    assert run.datasets["train"].snapshot_sha256 is not None and run.datasets["eval"].snapshot_sha256 is not None
    assert "replayable (4 earlier cells)" in card_html(card_data(mm.get_store(), mm.get_run(run.run_id)))


def test_a_replay_on_the_same_data_reproduces_the_metrics_as_a_child_run(trained):
    run, _ = trained
    again = mm.replay(run.run_id[:8])
    assert again.run_id != run.run_id and again.parent_run_id == run.run_id
    assert again.metrics == pytest.approx(run.metrics) and again.metrics["accuracy"] == run.metrics["accuracy"]
    assert again.tags["owner"] == "ana" and again.experiment == "wine"
    assert again.datasets["train"].digest == run.datasets["train"].digest
    assert mm.replay(again.run_id).parent_run_id == again.run_id  # a replay is itself replayable


def test_a_replay_on_new_data_trains_on_it(trained):
    run, ip = trained
    half = ip.user_ns["train_df"].sample(frac=0.5, random_state=1)
    again = mm.replay(run.run_id, data=half)
    assert again.datasets["train"].n_rows == len(half) and again.datasets["train"].digest != run.datasets["train"].digest
    assert again.datasets["eval"].digest == run.datasets["eval"].digest  # the eval snapshot, as before
    with pytest.raises(InvalidInputError, match="no target column 'target'"):
        mm.replay(run.run_id, data=half.drop(columns="target"))


def test_a_run_that_cannot_be_replayed_says_which_name_blocks_it(ip):
    assert ip.run_cell(CELLS[0], store_history=True).success
    assert ip.run_cell(CELLS[1] + "\n" + CELLS[2], store_history=True).success  # X_train made in the cell that makes train_df
    assert ip.run_cell("%%mlops_train -e wine --data train_df --target target\nmodel = LogisticRegression(max_iter=500).fit(X_train, y_train)", store_history=True).success
    run = mm.get_run(mm.runs("wine")["run_id"][0])
    assert re.match(r"'X_train' is defined in cell \[\d+\] together with the input 'train_df': move 'X_train' to a cell of its own", run.recipe["blockers"][0])
    with pytest.raises(InvalidInputError, match="is not replayable: 'X_train' is defined in cell"):
        mm.replay(run.run_id)
    assert "not replayable: &#x27;X_train&#x27; is defined in cell" in card_html(card_data(mm.get_store(), run))


def test_an_unseeded_estimator_is_named(ip):
    for cell in CELLS[:3]:
        assert ip.run_cell(cell, store_history=True).success
    cell = "%%mlops_train -e wine --data train_df --target target\nfrom sklearn.ensemble import RandomForestClassifier\nforest = RandomForestClassifier(5).fit(X_train, y_train)"
    assert ip.run_cell(cell, store_history=True).success
    recipe = mm.get_run(mm.runs("wine")["run_id"][0]).recipe
    assert recipe["nondeterministic"] == ["'forest' (RandomForestClassifier) has random_state=None: set it for identical replays"]
