"""The data check before training: each finding appears on data built to show it, and the
"does ML help?" comparison equals scikit-learn's cross-validation on the same folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_magic import api, cli
from mlops_magic.errors import InvalidInputError
from mlops_magic.monitoring.datacheck import baseline_gap, infer_task


def findings(report, column=None):
    frame = report.findings
    return frame if column is None else frame[frame["column"] == column]


@pytest.fixture
def messy():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "signal": y + rng.normal(0, 0.8, n),
            "noise": rng.normal(size=n),
            "with_gaps": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "constant": 3.0,
            "almost": np.where(np.arange(n) < 2, 1, 0),
            "customer_id": [f"c{i}" for i in range(n)],
            "leak": y * 10 + rng.integers(0, 2, n),
            "label": y,
        }
    )


def test_findings_name_each_problem_with_a_severity_and_a_suggestion(messy):
    data = pd.concat([messy, messy.iloc[:5]])
    report = api.check_data(data, target="label")
    assert report.task == "classification" and report.n_rows == 405
    by_column = {c: set(f["severity"]) for c, f in report.findings.groupby("column")}
    assert by_column["leak"] == {"critical"}
    assert by_column["constant"] == {"warning"} and by_column["customer_id"] == {"warning"}
    assert by_column["with_gaps"] == {"warning"} and by_column["almost"] == {"info"}
    assert "signal" not in by_column and "noise" not in by_column
    assert "5 duplicated rows" in findings(report, "")["finding"].iloc[0]
    assert findings(report, "customer_id")["finding"].str.contains("identifier").all()
    assert report.findings["suggestion"].str.len().min() > 10
    assert list(report.findings["severity"]) == sorted(report.findings["severity"], key=["critical", "warning", "info"].index)
    assert report.profile["with_gaps"]["missing"] == int(data["with_gaps"].isna().sum())


def test_class_imbalance_and_target_problems():
    frame = pd.DataFrame({"x": np.arange(300.0), "y": [0] * 285 + [1] * 15})
    report = api.check_data(frame, target="y", baseline=False)
    assert "imbalanced classes" in findings(report, "y")["finding"].iloc[0]
    assert report.target_summary["classes"] == {"0": 0.95, "1": 0.05} and report.baseline is None
    single = api.check_data(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "a", "a"]}), target="y")
    assert "single class" in findings(single, "y")["finding"].iloc[0]


def test_baseline_gap_equals_sklearn_cross_validation():
    data = load_breast_cancer(as_frame=True)
    gap = baseline_gap(data.data, data.target, "classification", cv=5)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    dummy = cross_val_score(DummyClassifier(strategy="most_frequent"), data.data, data.target, cv=folds)
    # the simple model, built here: impute, scale, logistic regression (the data is all numeric)
    simple = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
    model = cross_val_score(simple, data.data, data.target, cv=folds)
    assert gap.dummy_scores == pytest.approx(list(dummy), abs=1e-12)
    assert gap.model_scores == pytest.approx(list(model), abs=1e-12)
    assert gap.gap == pytest.approx(np.mean(model - dummy), abs=1e-12)
    assert gap.spread == pytest.approx(np.std(model - dummy, ddof=1), abs=1e-12)
    assert gap.helps and gap.model_score > 0.95


def test_ml_helps_on_real_signal_and_not_on_noise():
    diabetes = load_diabetes(as_frame=True).frame
    report = api.check_data(diabetes, target="target")
    assert report.task == "regression" and report.baseline.metric == "rmse" and report.baseline.helps
    assert report.baseline.model_score < report.baseline.dummy_score
    rng = np.random.default_rng(1)
    noise = pd.DataFrame({f"x{i}": rng.normal(size=300) for i in range(5)}).assign(y=rng.integers(0, 2, 300))
    noisy = api.check_data(noise, target="y")
    assert not noisy.baseline.helps
    assert "does not clearly beat the dummy" in findings(noisy, "y")["finding"].iloc[0]
    assert "not clearly" in noisy.summary()


def test_infer_task():
    assert infer_task(pd.Series(["a", "b"] * 10)) == "classification"
    assert infer_task(pd.Series([0, 1, 2] * 30)) == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 100))) == "regression"


def test_bad_input_is_named(messy):
    with pytest.raises(InvalidInputError, match="needs a pandas DataFrame"):
        api.check_data(messy.to_numpy())
    with pytest.raises(InvalidInputError, match="target 'quality' is not a column"):
        api.check_data(messy, target="quality")
    with pytest.raises(InvalidInputError, match="no rows"):
        api.check_data(messy.iloc[:0])


def test_cli_data(tmp_path, capsys, messy):
    path = tmp_path / "messy.csv"
    messy.to_csv(path, index=False)
    assert cli.main(["data", str(path), "--target", "label"]) == 0
    out = capsys.readouterr().out
    assert "suspiciously predictive" in out and "does ML help?" in out
    assert cli.main(["data", str(tmp_path / "messy.txt")]) == 2
