"""Payload parsing against an input schema (in process), and a served model with a text column (real process)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import requests

from mlops_magic import api
from mlops_magic.serving import v2
from mlops_magic.serving.payloads import InputSchema, PayloadError, invocation_columns

SCHEMA = InputSchema({"size": "float64", "count": "int64", "colour": "str"}, allow_nan=False)


def frame_of(payload, schema=SCHEMA, content_type="application/json") -> pd.DataFrame:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return schema.frame(invocation_columns(body, content_type, schema))


def test_every_form_builds_the_same_frame_in_the_schema_order():
    expected = pd.DataFrame({"size": [1.5, 2.0], "count": [3.0, 4.0], "colour": ["red", "blue"]})
    forms = [
        {"dataframe_split": {"columns": ["colour", "size", "count"], "data": [["red", 1.5, 3], ["blue", 2.0, 4]]}},
        {"dataframe_records": [{"colour": "red", "count": 3, "size": 1.5}, {"size": 2.0, "count": 4, "colour": "blue"}]},
        {"instances": [[1.5, 3, "red"], [2.0, 4, "blue"]]},
        {"inputs": {"size": [1.5, 2.0], "count": [3, 4], "colour": ["red", "blue"]}},
        b"colour,size,count\nred,1.5,3\nblue,2.0,4\n",
    ]
    for form in forms:
        content_type = "text/csv" if isinstance(form, bytes) else "application/json"
        frame = frame_of(form, content_type=content_type)
        assert list(frame.columns) == ["size", "count", "colour"]
        pd.testing.assert_frame_equal(frame.astype({"colour": object}), expected.astype({"colour": object}), check_dtype=False)


def test_csv_keeps_text_columns_text():
    frame = frame_of(b"size,count,colour\n1,2,007\n", content_type="text/csv")
    assert frame["colour"].tolist() == ["007"]


def test_all_numeric_rows_take_the_matrix_path_and_reorder_columns():
    schema = InputSchema({"a": "float64", "b": "float64"}, allow_nan=True)
    frame = frame_of({"dataframe_split": {"columns": ["b", "a"], "data": [[2, 1], [4, None]]}}, schema)
    np.testing.assert_array_equal(frame.to_numpy(), [[1.0, 2.0], [np.nan, 4.0]])
    assert frame.dtypes.tolist() == [np.float64, np.float64]


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"instances": [[1.5, 3, 7]]}, "column 'colour' row 0 is 7 (int); the model expects text"),
        ({"instances": [[None, 3, "red"]]}, "column 'size' has a missing value"),
        ({"instances": [["big", 3, "red"]]}, "column 'size' row 0 is 'big'"),
        ({"instances": [[1.5, [3], "red"]]}, "column 'count' row 0 is [3]"),
        ({"dataframe_split": {"columns": ["size", "size", "colour"], "data": [[1, 2, "red"]]}}, "repeated column name"),
        ({"dataframe_records": [{"size": 1, "count": 2, "colour": "r"}, {"size": 1, "colour": "r"}]}, "record 1 has different columns"),
        ({"inputs": {"size": [1.0, 2.0], "count": [1], "colour": ["r", "b"]}}, "different lengths"),
        ({"dataframe_records": [], "instances": []}, "exactly one of"),
        ([1, 2], "exactly one of"),
    ],
)
def test_bad_payloads_name_the_problem(payload, message):
    with pytest.raises(PayloadError) as refused:
        frame_of(payload)
    assert message in refused.value.message and 400 <= refused.value.status < 500


def test_v2_tensors_per_column_and_as_one_matrix():
    schema = InputSchema({"a": "float64", "b": "float64"}, allow_nan=False)
    per_column = {"inputs": [{"name": "a", "shape": [2, 1], "datatype": "FP64", "data": [1, 2]}, {"name": "b", "shape": [2], "datatype": "FP64", "data": [3, 4]}]}
    matrix = {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [1, 3, 2, 4]}]}
    for payload in (per_column, matrix):
        np.testing.assert_array_equal(schema.frame(v2_columns(payload, schema)).to_numpy(), [[1, 3], [2, 4]])
    with pytest.raises(PayloadError, match="does not fit shape"):
        v2_columns({"inputs": [{"name": "input-0", "shape": [3, 2], "datatype": "FP64", "data": [1, 2]}]}, schema)


def v2_columns(payload, schema):
    return v2.columns(v2.read_request(json.dumps(payload).encode(), None), schema.order, schema.columns)


def test_a_pipeline_with_a_text_column_is_served_and_checked(store):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from .serving_support import wine_frames

    train_df, test_df = (f.assign(region=np.where(f["alcohol"] > 13, "north", "south")) for f in wine_frames())
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder=StandardScaler()), LogisticRegression(max_iter=500)
    )
    with api.run("regions", data=train_df, target="target", eval=test_df) as active:
        model.fit(train_df.drop(columns="target"), train_df["target"])
        active.track_model(model)
    api.promote(active.run_id, name="regions", alias="production")
    status = api.serve("regions@production")
    try:
        rows = test_df.drop(columns="target").head(6)
        with requests.Session() as session:
            answer = session.post(f"{status.url}/invocations", json={"dataframe_records": rows.to_dict("records")})
            assert answer.json()["predictions"] == model.predict(rows).tolist()
            dtype = str(train_df["region"].dtype)  # str, or object before pandas 3
            assert requests.get(f"{status.url}/model").json()["input_schema"][-1] == {"name": "region", "dtype": dtype}
            wrong = session.post(f"{status.url}/invocations", json={"dataframe_records": [dict(rows.iloc[0], region=3)]})
            if dtype == "str":
                assert wrong.status_code == 400 and "column 'region' row 0 is 3 (int); the model expects text" in wrong.json()["error"]
            else:  # an object column may mix text and numbers: the model answers
                assert wrong.status_code == 200 and len(wrong.json()["predictions"]) == 1
    finally:
        api.stop("regions")


def _classifiers():
    """One fitted-to-be instance of every final estimator in ``ARGMAX_CLASSIFIERS``, in a pipeline where its input needs one."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
    from sklearn.ensemble import (
        AdaBoostClassifier,
        BaggingClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import KBinsDiscretizer, MinMaxScaler, StandardScaler
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    scaled = lambda model: make_pipeline(StandardScaler(), model)  # noqa: E731
    return [
        RandomForestClassifier(n_estimators=10, random_state=0),
        ExtraTreesClassifier(n_estimators=10, random_state=0),
        DecisionTreeClassifier(random_state=0),
        ExtraTreeClassifier(random_state=0),
        GradientBoostingClassifier(n_estimators=10, random_state=0),
        HistGradientBoostingClassifier(max_iter=10, random_state=0),
        BaggingClassifier(n_estimators=5, random_state=0),
        AdaBoostClassifier(n_estimators=10, random_state=0),
        scaled(KNeighborsClassifier()),
        GaussianNB(),
        make_pipeline(MinMaxScaler(), MultinomialNB()),
        scaled(BernoulliNB()),
        make_pipeline(MinMaxScaler(), ComplementNB()),
        make_pipeline(KBinsDiscretizer(n_bins=4, encode="ordinal", strategy="uniform"), CategoricalNB(min_categories=4)),
        scaled(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)),
        scaled(LogisticRegression(max_iter=500)),
        LinearDiscriminantAnalysis(),
        QuadraticDiscriminantAnalysis(reg_param=0.5),
        CalibratedClassifierCV(scaled(LinearSVC()), cv=3),
    ]


def _served(model):
    from mlops_magic.serving.models import ServedVersion, output_datatype, schema_for, scoring_of

    return ServedVersion("m", 1, "run", "sha", model, schema_for(model, None), hasattr(model, "feature_names_in_"), scoring_of(model), output_datatype(model))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning", "ignore::UserWarning")
def test_one_predict_proba_call_answers_as_predict_for_every_classifier_it_is_used_for():
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.model_selection import train_test_split

    from mlops_magic.serving.models import ARGMAX_CLASSIFIERS, final_estimator

    classifiers = _classifiers()
    assert {type(final_estimator(c)).__name__ for c in classifiers} == ARGMAX_CLASSIFIERS
    for load in (load_wine, load_breast_cancer):  # several classes, and two
        X, y = load(return_X_y=True, as_frame=True)
        X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
        for model in classifiers:
            served = _served(model.fit(X_train, y_train))
            assert served.scoring == "argmax", type(model).__name__
            answers, confidence = served.predict(X_test)
            np.testing.assert_array_equal(answers, model.predict(X_test), err_msg=f"{type(final_estimator(model)).__name__} on {load.__name__}")
            np.testing.assert_allclose(confidence, model.predict_proba(X_test).max(axis=1))


def test_other_models_answer_with_predict_and_their_own_confidence():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression, Ridge

    class Contrarian(LogisticRegression):  # a classifier of our own whose predict is not the most probable class
        def predict(self, X):
            return self.classes_[self.predict_proba(X).argmin(axis=1)]

    X, y = load_wine(return_X_y=True, as_frame=True)
    contrarian = Contrarian(max_iter=5000).fit(X, y)
    served = _served(contrarian)
    answers, confidence = served.predict(X)
    assert served.scoring == "both" and answers.tolist() == contrarian.predict(X).tolist()
    np.testing.assert_allclose(confidence, contrarian.predict_proba(X).min(axis=1))  # the probability of the class it answered
    ridge = _served(Ridge().fit(X, y.astype(float)))
    answers, confidence = ridge.predict(X)
    assert ridge.scoring == "predict" and confidence is None and ridge.output_datatype == "FP64"
