"""Loading a registered version for serving: the model (sha256-checked), its input schema, its identity,
and how it predicts: the answered class and the model's confidence in it, in one call where it can."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..store.entities import Run
from .payloads import InputSchema
from .v2 import answer_datatype

# Final estimators whose ``predict`` is the class of highest ``predict_proba`` (scikit-learn computes
# it so, or from scores that ``predict_proba`` maps monotonically): for these one ``predict_proba``
# call gives both the answer and its confidence (tests/test_serving_payloads.py checks each one).
ARGMAX_CLASSIFIERS = frozenset(
    {
        "RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier", "ExtraTreeClassifier",
        "GradientBoostingClassifier", "HistGradientBoostingClassifier", "BaggingClassifier", "AdaBoostClassifier",
        "KNeighborsClassifier", "GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB", "CategoricalNB",
        "MLPClassifier", "LogisticRegression", "LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis",
        "CalibratedClassifierCV",
    }
)  # fmt: skip


def input_schema(run: Run) -> dict[str, str] | None:
    """The columns (and dtypes) the run's model was trained on: its training data minus the target."""
    train = run.datasets.get("train")
    if train is None:
        return None
    return {column: dtype for column, dtype in train.columns.items() if column != train.target}


@dataclass(frozen=True)
class ServedVersion:
    """One loaded version of a model, ready to predict on frames its schema built."""

    name: str
    version: int
    run_id: str
    sha256: str
    model: Any
    schema: InputSchema
    by_name: bool  # fitted on a DataFrame (feature names), so it predicts on one
    scoring: str  # "argmax": predict_proba alone; "both": predict, then predict_proba; "predict": no probabilities
    output_datatype: str  # the V2 datatype of its answers (INT64, FP64, BOOL or BYTES)

    def predict(self, frame) -> tuple[np.ndarray, np.ndarray | None]:
        """The answers for ``frame`` and, for a classifier with ``predict_proba``, the probability of each."""
        X = frame if self.by_name else frame.to_numpy()
        if self.scoring == "predict":
            return np.asarray(self.model.predict(X)), None
        classes = np.asarray(self.model.classes_)
        if self.scoring == "argmax":
            proba = np.asarray(self.model.predict_proba(X))
            best = proba.argmax(axis=1)
            return classes.take(best), proba[np.arange(len(best)), best]
        outputs = np.asarray(self.model.predict(X))
        proba = np.asarray(self.model.predict_proba(X))
        position = {c: i for i, c in enumerate(classes.tolist())}
        return outputs, proba[np.arange(len(outputs)), [position[c] for c in outputs.tolist()]]

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "run_id": self.run_id, "sha256": self.sha256, "model": type(self.model).__name__}


def load_version(store, name: str, version: int | None = None, alias: str | None = None) -> ServedVersion:
    """Load ``name`` at ``version`` or ``alias`` from ``store``; the artifact's sha256 is checked first."""
    found = store.model_version(name, version=version, alias=alias)
    run = store.get_run(found.run_id)
    record = run.model_named(found.variable)
    model = store.artifacts.load_model(record.sha256, record.trusted_types)
    return ServedVersion(
        name, found.version, run.run_id, record.sha256, model, schema_for(model, input_schema(run)), hasattr(model, "feature_names_in_"),
        scoring_of(model), output_datatype(model),
    )  # fmt: skip


def final_estimator(model):
    """The estimator that answers: the last step of a pipeline, the refitted best of a search."""
    while True:
        if hasattr(model, "steps"):
            model = model.steps[-1][1]
        elif hasattr(model, "best_estimator_"):
            model = model.best_estimator_
        else:
            return model


def classes_of(model) -> np.ndarray | None:
    """The classes a single-output classifier answers with, else None."""
    try:
        classes = np.asarray(model.classes_)
    except (AttributeError, ValueError):  # no classes_, or one array per output
        return None
    return classes if classes.ndim == 1 else None


def scoring_of(model) -> str:
    """How ``model`` gives its answers and confidence (see ``ServedVersion.scoring``)."""
    if classes_of(model) is None or not hasattr(model, "predict_proba"):
        return "predict"
    final = final_estimator(model)
    return "argmax" if type(final).__name__ in ARGMAX_CLASSIFIERS and type(final).__module__.startswith("sklearn.") else "both"


def estimator_tags(model) -> tuple[str | None, bool]:
    """The model's kind ("classifier", "regressor", ...) and whether it takes NaN, from scikit-learn's tags
    (``get_tags`` since 1.6, ``_get_tags`` before). Tags it cannot read: no kind, and NaN let through to the model."""
    try:
        from sklearn.utils import get_tags
    except ImportError:  # scikit-learn < 1.6
        get_tags = None
    try:
        if get_tags is None:
            return getattr(model, "_estimator_type", None), bool(model._get_tags()["allow_nan"])
        tags = get_tags(model)
        return tags.estimator_type, bool(tags.input_tags.allow_nan)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None, True


def output_datatype(model) -> str:
    """The V2 datatype of ``model``'s answers as ``/infer`` sends them: its classes', else by its kind."""
    classes = classes_of(model)
    if classes is not None:
        return answer_datatype(classes.tolist())
    kind, _ = estimator_tags(model)
    return {"regressor": "FP64", "clusterer": "INT64", "outlier_detector": "INT64"}.get(kind, "BYTES")


def schema_for(model, recorded: dict[str, str] | None) -> InputSchema:
    """The model's input columns in its own order, typed by the run's training data where known."""
    recorded = recorded or {}
    if hasattr(model, "feature_names_in_"):
        order = [str(c) for c in model.feature_names_in_]
    elif recorded:
        order = list(recorded)
    else:
        order = [str(i) for i in range(int(getattr(model, "n_features_in_", 0)))]
    return InputSchema({c: recorded.get(c, "float64") for c in order}, estimator_tags(model)[1])
