"""The data check before training: is this data fit to learn from, and does ML beat a dummy here?

Built on the same per-column profiles a run records. Each finding has a severity (``critical``,
``warning``, ``info``) and a one-line suggestion. The "does ML help?" answer cross-validates a
simple model against scikit-learn's dummy baseline on the same folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..frames import is_numeric

SEVERITIES = ("critical", "warning", "info")
SAMPLE_ROWS = 5_000
NEAR_CONSTANT_SHARE = 0.98
HIGH_CARDINALITY = 50
LEAKAGE_SCORE = 0.98
MINORITY_SHARE = 0.1


@dataclass
class BaselineGap:
    """A simple model against the dummy baseline, cross-validated on the same folds."""

    task: str
    metric: str
    model: str
    model_scores: list[float]
    dummy_scores: list[float]

    @property
    def model_score(self) -> float:
        return float(np.mean(self.model_scores))

    @property
    def dummy_score(self) -> float:
        return float(np.mean(self.dummy_scores))

    @property
    def gaps(self) -> np.ndarray:
        """Per-fold improvement over the dummy (positive = better; RMSE is turned around)."""
        model, dummy = np.asarray(self.model_scores), np.asarray(self.dummy_scores)
        return dummy - model if self.metric == "rmse" else model - dummy

    @property
    def gap(self) -> float:
        return float(self.gaps.mean())

    @property
    def spread(self) -> float:
        return float(self.gaps.std(ddof=1)) if len(self.gaps) > 1 else 0.0

    @property
    def helps(self) -> bool:
        """ML helps when the mean gain exceeds its fold-to-fold spread (and is positive)."""
        return self.gap > 0 and self.gap > self.spread

    def summary(self) -> str:
        answer = "yes" if self.helps else "not clearly"
        return (
            f"does ML help? {answer}: {self.model} {self.metric} {self.model_score:.4g} vs dummy {self.dummy_score:.4g} "
            f"(gain {self.gap:+.4g} ± {self.spread:.2g} over {len(self.gaps)} folds)"
        )


@dataclass
class DataReport:
    """What ``check_data`` found: size, per-column profile, findings, and the baseline gap."""

    n_rows: int
    n_columns: int
    target: str | None
    task: str | None
    profile: dict[str, dict[str, Any]]
    findings: Any  # DataFrame: severity, column, finding, suggestion
    baseline: BaselineGap | None = None
    target_summary: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        counts = self.findings["severity"].value_counts()
        found = ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES)
        line = f"data: {self.n_rows} rows x {self.n_columns} columns; findings: {found}"
        return f"{line}\n{self.baseline.summary()}" if self.baseline else line

    def __repr__(self) -> str:
        return f"DataReport {self.summary()}\n{self.findings.to_string(index=False)}"

    def _repr_html_(self) -> str:
        from .html import data_report_html

        return data_report_html(self)


def infer_task(target) -> str:
    """Classification for non-numeric targets and for integers with few distinct values; else regression."""
    import pandas as pd

    if not is_numeric(target):
        return "classification"
    values = target.dropna()
    if pd.api.types.is_integer_dtype(values.dtype) or (values % 1 == 0).all():
        return "classification" if values.nunique() <= max(2, min(20, len(values) // 20)) else "regression"
    return "regression"


def _preprocessor(X):
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), make_column_selector(dtype_include="number")),
            (
                "categorical",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", max_categories=20)),
                make_column_selector(dtype_exclude="number"),
            ),
        ]
    )


def _plain(X):
    """Non-numeric columns as object with NaN (OneHotEncoder refuses pandas' NA in string columns)."""
    X = X.copy()
    for column in X.columns:
        if not is_numeric(X[column]):
            X[column] = X[column].astype(object).where(X[column].notna(), np.nan)
    return X


def baseline_gap(X, y, task: str, cv: int = 5, random_state: int = 0) -> BaselineGap:
    """Cross-validate a simple model (logistic / ridge regression) against the dummy baseline
    (most frequent class / mean) on the same folds; the primary metric is accuracy or RMSE."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    X = _plain(X)
    if task == "classification":
        smallest = int(y.value_counts().min())
        folds = StratifiedKFold(n_splits=max(2, min(cv, smallest)), shuffle=True, random_state=random_state)
        model, dummy, scoring, metric = LogisticRegression(max_iter=1000), DummyClassifier(strategy="most_frequent"), "accuracy", "accuracy"
    elif task == "regression":
        folds = KFold(n_splits=cv, shuffle=True, random_state=random_state)
        model, dummy, scoring, metric = Ridge(), DummyRegressor(), "neg_root_mean_squared_error", "rmse"
    else:
        raise InvalidInputError(f"task {task!r} is unknown: use classification or regression.")
    pipeline = make_pipeline(_preprocessor(X), model)
    model_scores = cross_val_score(pipeline, X, y, cv=folds, scoring=scoring)
    dummy_scores = cross_val_score(dummy, X, y, cv=folds, scoring=scoring)
    sign = -1.0 if metric == "rmse" else 1.0
    return BaselineGap(task, metric, type(model).__name__, list(sign * model_scores), list(sign * dummy_scores))


def _single_feature_score(column, y, task: str) -> float:
    """Cross-validated score of a depth-3 tree on one column alone: accuracy, or R2 for regression."""
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if is_numeric(column):
        values = column.to_numpy(dtype=float, na_value=np.nan).reshape(-1, 1)
        values = np.where(np.isnan(values), np.nanmin(values) - 1 if np.isfinite(values).any() else 0.0, values)
    else:
        values = column.astype(str).astype("category").cat.codes.to_numpy().reshape(-1, 1)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0) if task == "classification" else DecisionTreeRegressor(max_depth=3, random_state=0)
    folds = 3 if task == "regression" else max(2, min(3, int(y.value_counts().min())))
    return float(np.mean(cross_val_score(tree, values, y, cv=folds, scoring="accuracy" if task == "classification" else "r2")))


def _finding(rows, severity, column, finding, suggestion):
    rows.append({"severity": severity, "column": column, "finding": finding, "suggestion": suggestion})


def _column_findings(rows, frame, profile, target) -> None:
    n = len(frame)
    for column, info in profile.items():
        if column == target:
            continue
        share_missing = info["missing"] / n if n else 0.0
        if share_missing == 1:
            _finding(rows, "critical", column, "every value is missing", "drop the column")
            continue
        if share_missing > 0:
            severity = "warning" if share_missing >= 0.05 else "info"
            _finding(rows, severity, column, f"{share_missing:.1%} missing ({info['missing']} rows)", "impute it (SimpleImputer) or add a missing-indicator")
        distinct = frame[column].nunique(dropna=True)
        if distinct <= 1:
            _finding(rows, "warning", column, "constant: a single value", "drop the column: it carries no information")
            continue
        top_share = frame[column].value_counts(normalize=True, dropna=False).iloc[0]
        if top_share >= NEAR_CONSTANT_SHARE:
            _finding(rows, "info", column, f"near-constant: one value in {top_share:.1%} of rows", "check that the rare values matter, or drop it")
        if info["kind"] == "categorical" and distinct > HIGH_CARDINALITY:
            kind = "an identifier?" if distinct > 0.5 * n else "many categories"
            _finding(rows, "warning", column, f"high cardinality: {distinct} categories ({kind})", "drop identifiers; group rare categories or use target encoding")


def _target_findings(rows, frame, target, task) -> dict[str, Any]:
    y = frame[target]
    if y.isna().any():
        _finding(rows, "critical", target, f"target missing in {int(y.isna().sum())} rows", "drop those rows before training")
    if task == "classification":
        shares = y.value_counts(normalize=True)
        if len(shares) < 2:
            _finding(rows, "critical", target, "the target has a single class", "collect examples of other classes: there is nothing to learn")
        elif shares.iloc[-1] < MINORITY_SHARE:
            _finding(
                rows, "warning", target, f"imbalanced classes: the rarest ({shares.index[-1]!r}) is {shares.iloc[-1]:.1%}",
                "use stratified splits, class_weight='balanced', and F1/ROC AUC rather than accuracy",
            )
        return {"classes": {str(k): float(v) for k, v in shares.items()}}
    values = y.dropna().astype(float)
    summary = {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()), "max": float(values.max())}
    if summary["std"] == 0:
        _finding(rows, "critical", target, "the target is constant", "there is nothing to learn: check the target column")
    return summary


def check_data(frame, target: str | None = None, task: str | None = None, cv: int = 5, baseline: bool = True) -> DataReport:
    """Profile ``frame``, list findings with severity and suggestion, and (with a target) answer
    "does ML help?" against the dummy baseline. Large frames are checked on a 5,000-row sample
    for the model-based parts (leakage, baseline); counts use every row."""
    import pandas as pd

    from ..tracking.data import profile_frame

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"check_data needs a pandas DataFrame, not {type(frame).__name__}: wrap arrays with pd.DataFrame(...).")
    if target is not None and target not in frame.columns:
        raise InvalidInputError(f"target {target!r} is not a column: pick one of {', '.join(map(str, frame.columns))}.")
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):
        raise InvalidInputError(f"column {twice[0]!r} appears more than once: rename the columns so each name is used once.")
    if len(frame) == 0:
        raise InvalidInputError("the data has no rows: load the data before checking it.")
    profile = profile_frame(frame)
    rows: list[dict[str, Any]] = []
    if len(frame) < 100:
        _finding(rows, "warning", "", f"only {len(frame)} rows", "collect more data, and prefer simple models and cross-validation")
    duplicates = int(frame.duplicated().sum())
    if duplicates:
        _finding(rows, "warning", "", f"{duplicates} duplicated rows", "drop them (frame.drop_duplicates()) so they cannot sit in both train and test")
    _column_findings(rows, frame, profile, target)
    target_summary: dict[str, Any] = {}
    gap = None
    if target is not None:
        task = task or infer_task(frame[target])
        target_summary = _target_findings(rows, frame, target, task)
        labelled = frame[frame[target].notna()]
        sample = labelled.sample(n=SAMPLE_ROWS, random_state=0) if len(labelled) > SAMPLE_ROWS else labelled
        y = sample[target] if task == "regression" or is_numeric(sample[target]) else sample[target].astype(str)  # mixed labels (1, "a") as text
        if y.nunique() >= 2:
            for column in sample.columns.drop(target):
                if sample[column].nunique(dropna=False) > 1:
                    try:
                        score = _single_feature_score(sample[column], y, task)
                    except ValueError:  # scikit-learn cannot score this column (too few rows a class, odd values): no finding
                        continue
                    if score >= LEAKAGE_SCORE:
                        _finding(
                            rows, "critical", column, f"suspiciously predictive: alone it scores {score:.3f} "
                            f"({'accuracy' if task == 'classification' else 'R2'})",
                            "check it is known at prediction time (leakage?) before training on it",
                        )
            if baseline:
                try:
                    gap = baseline_gap(sample.drop(columns=target), y, task, cv=cv)
                except ValueError as exc:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    _finding(rows, "info", target, f"the baseline comparison could not run: {reason}", "check the target's values and the rows per class")
                if gap is not None and not gap.helps:
                    _finding(rows, "warning", target, "a simple model does not clearly beat the dummy baseline", "look for better features before tuning models")
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings = pd.DataFrame(rows, columns=["severity", "column", "finding", "suggestion"])
    findings = findings.sort_values("severity", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return DataReport(len(frame), frame.shape[1], target, task, profile, findings, gap, target_summary)
