"""The magics' faces: one-line usage errors that write nothing, the runs table, comparison, settings."""

from __future__ import annotations

import subprocess
import sys

import pytest
from IPython.core.error import UsageError

import mlops_magic as mm
from mlops_magic.widgets.comparison import ComparisonView
from mlops_magic.widgets.runs_table import RunsTable

from .test_tracking import SETUP

FIT = "model = DecisionTreeClassifier(max_depth={depth}, random_state=0).fit(X_train, y_train)"


@pytest.fixture
def wine(ip):
    assert ip.run_cell(SETUP + "\nfrom sklearn.tree import DecisionTreeClassifier").success
    return ip


def train(ip, depth, extra=""):
    ip.run_cell_magic("mlops_train", f"-e wine --data train_df --target target --eval test_df {extra}", FIT.format(depth=depth))


@pytest.mark.parametrize(
    "line, message",
    [
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--data nope", "no variable 'nope'"),
        ("--data train_df --target nope", "--target 'nope' is not a column of 'train_df'"),
        ("--eval X_test,y_test,z", "is not a variable name"),
        ("--data X_train --target target", "--target 'target' is not a column of 'X_train'"),
        ("--tag owner", "is not KEY=VALUE"),
        ("--data y_train --target target", "not a DataFrame"),
    ],
)
def test_bad_arguments_are_one_line_errors_and_write_nothing(wine, line, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        wine.run_cell_magic("mlops_train", line, "ran = True\n" + FIT.format(depth=2))
    assert "ran" not in wine.user_ns  # checked before the cell ran
    assert mm.get_store().count_runs() == 0


def test_usage_error_in_a_cell_fails_the_cell_without_a_traceback(wine, capsys):
    result = wine.run_cell("%%mlops_train --data nope\nx = 1")
    assert not result.success and isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "no variable 'nope'" in err and "Traceback" not in err


def test_mlops_runs_returns_a_sortable_table(wine):
    for depth in (1, 3, 2):
        train(wine, depth)
    table = wine.run_line_magic("mlops_runs", "-e wine --sort accuracy --limit 2")
    assert isinstance(table, RunsTable)
    assert table.order == [("accuracy ↑", "desc")]  # the grid opens sorted as asked
    assert len(table.frame) == 2
    accuracies = table.frame["metrics.accuracy"].tolist()
    assert accuracies == sorted(accuracies, reverse=True)
    assert accuracies[0] == mm.runs("wine")["metrics.accuracy"].max()


def test_mlops_runs_where_filters_and_bad_where_is_an_error(wine):
    for depth in (1, 3):
        train(wine, depth)
    assert wine.run_line_magic("mlops_runs", '--where "max_depth == 3"').frame["params.max_depth"].tolist() == ["3"]
    with pytest.raises(UsageError, match="cannot be applied"):
        wine.run_line_magic("mlops_runs", '--where "accuracy >"')
    with pytest.raises(UsageError, match="no column 'nope'"):
        wine.run_line_magic("mlops_runs", "--sort nope")


def test_mlops_compare_shows_differences(wine):
    train(wine, 1)
    wine.run_cell_magic("mlops_train", "-e wine --data train_df --target target --eval test_df", "# deeper\n" + FIT.format(depth=4))
    ids = mm.runs("wine").sort_values("start_time")["run_id"].tolist()  # the shallow run first
    view = wine.run_line_magic("mlops_compare", " ".join(id_[:8] for id_ in ids))
    assert isinstance(view, ComparisonView)
    assert view.comparison.params.loc["max_depth"].tolist() == ["1", "4"]
    assert "+# deeper" in view.comparison.code_diffs[0]  # from the first run's code to the second's
    assert view.chart.startswith(b"\x89PNG")
    with pytest.raises(UsageError, match="at least two"):
        wine.run_line_magic("mlops_compare", ids[0])
    with pytest.raises(UsageError, match="no run with id"):
        wine.run_line_magic("mlops_compare", f"{ids[0]} ffffffff")


def test_a_cell_ending_in_a_magic_shows_its_view_once_and_assignment_keeps_it(wine):
    train(wine, 2)
    shown = wine.run_cell("%mlops_runs -e wine")
    assert isinstance(shown.result, RunsTable)  # the cell's value: IPython displays it
    kept = wine.run_cell("table = %mlops_runs -e wine")
    assert kept.result is None and isinstance(wine.user_ns["table"], RunsTable) and len(wine.user_ns["table"].frame) == 1


def test_config_store_switches_the_store(wine, tmp_path):
    wine.run_line_magic("config", f"MLOpsMagic.store = '{tmp_path / 'elsewhere'}'")
    try:
        train(wine, 2)
        assert (tmp_path / "elsewhere" / "store.db").exists()
        assert len(mm.runs()) == 1
    finally:
        wine.config.MLOpsMagic.pop("store", None)  # the shell keeps %config settings across extension loads
        mm.set_store(str(tmp_path / "store"))


def test_extension_reloads(ip):
    ip.run_line_magic("reload_ext", "mlops_magic")
    assert "mlops_train" in ip.magics_manager.magics["cell"]
    ip.run_line_magic("unload_ext", "mlops_magic")
    assert "mlops_train" not in ip.magics_manager.magics["cell"]
    ip.run_line_magic("load_ext", "mlops_magic")


def test_records_read_well_as_text_and_html(wine):
    train(wine, 1)
    train(wine, 3)
    first, second = (mm.get_run(r) for r in mm.runs("wine").sort_values("start_time")["run_id"])
    assert repr(first).startswith(f"<Run {first.short_id} wine/") and "DecisionTreeClassifier" in repr(first)
    assert len(repr(first)) < 200  # not the whole environment
    assert f"run {first.short_id}" in first._repr_html_() and "max_depth" in first._repr_html_()
    comparison = mm.compare(first.run_id, second.run_id)
    assert repr(comparison).startswith(f"<Comparison of runs {first.short_id}, {second.short_id}: ")
    assert "params that differ" in comparison._repr_html_() and "max_depth" in comparison._repr_html_()


def test_loading_the_extension_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from IPython.testing.globalipapp import get_ipython\n"
        "shell = get_ipython()\n"
        "before = set(sys.modules)\n"
        "shell.run_line_magic('load_ext', 'mlops_magic')\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & {'sqlalchemy', 'pandas', 'sklearn', 'skops', 'matplotlib', 'alembic', 'scipy', 'ipywidgets'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_compare_of_different_model_classes_shows_only_params_they_share(wine):
    train(wine, 2)
    wine.run_cell_magic("mlops_train", "-e wine", "from sklearn.linear_model import LogisticRegression\nlr = LogisticRegression(max_iter=300).fit(X_train, y_train)")
    tree_run, logistic_run = mm.runs("wine").sort_values("start_time")["run_id"]
    comparison = mm.compare(tree_run, logistic_run)
    assert "max_depth" not in comparison.params.index and "max_depth" in comparison.unshared_params
    assert "C" in comparison.unshared_params and len(comparison.params) < 5
    assert "belong to only some of the runs" in comparison._repr_html_()
