"""A run's recipe: what to execute, in a fresh process, to train its model again.

The recipe is the cell's code plus the slice of earlier cells its free names need (imports,
functions, derived variables such as ``X_train = train_df.drop(...)``), cut at the declared inputs:
the ``--data``/``--eval`` variables are injected at replay, never recomputed from wherever they
first came from. A run that cannot be replayed says which name blocks it and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .provenance import MAX_UPSTREAM_CELLS, cells_needed


@dataclass
class Recipe:
    """Cells to run in order (earlier cells, then the training cell) with ``inputs`` injected first.

    ``inputs`` maps each injected variable to the data it is made from: ``("train" | "eval", part)``
    with part ``"frame"`` (the whole frame, target included), ``"X"`` or ``"y"``. ``options`` are the
    training cell's ``%%mlops_train`` options; ``blockers`` say why the run cannot be replayed.
    """

    cells: list[str]
    cell: str
    inputs: dict[str, tuple[str, str]]
    options: dict[str, Any]
    blockers: list[str] = field(default_factory=list)
    nondeterministic: list[str] = field(default_factory=list)

    @property
    def replayable(self) -> bool:
        return not self.blockers

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": self.cells,
            "cell": self.cell,
            "inputs": {name: list(source) for name, source in self.inputs.items()},
            "options": self.options,
            "blockers": self.blockers,
            "nondeterministic": self.nondeterministic,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        inputs = {name: (role, part) for name, (role, part) in data["inputs"].items()}
        return cls(data["cells"], data["cell"], inputs, data["options"], data.get("blockers", []), data.get("nondeterministic", []))

    def summary(self) -> str:
        if self.blockers:
            return "not replayable: " + "; ".join(self.blockers)
        text = f"replayable ({len(self.cells)} earlier cell{'s' if len(self.cells) != 1 else ''})"
        return text + ("; not deterministic: " + "; ".join(self.nondeterministic) if self.nondeterministic else "")


def declared_inputs(option_value: str | None, target: str | None, role: str) -> dict[str, tuple[str, str]]:
    """The variables a ``--data``/``--eval`` option names, and which part of the snapshot each one is."""
    if not option_value:
        return {}
    names = [n.strip() for n in option_value.split(",")]
    if len(names) == 2:
        return {names[0]: (role, "X"), names[1]: (role, "y")}
    return {names[0]: (role, "frame" if target else "X")}


def build_recipe(history: list[str], current: int, cell: str, source: str, options: dict[str, Any]) -> Recipe:
    """The recipe of the cell ``cell`` (``source`` transformed) at history position ``current``:
    the earlier cells it needs (``provenance.cells_needed``), cut at its declared inputs."""
    inputs = {
        **declared_inputs(options.get("data"), options.get("target"), "train"),
        **declared_inputs(options.get("eval"), options.get("target"), "eval"),
    }
    needed = cells_needed(history, current, source, cut=frozenset(inputs))
    blockers = [f"{name!r} has no defining cell (set by %run, a widget callback or exec?): define it in a cell" for name in needed.undefined]
    blockers += [
        f"{name!r} is defined in cell [{count}] together with the input {clash!r}: move {name!r} to a cell of its own"
        for name, count, clash in needed.clashes
    ]
    if len(needed.cells) >= MAX_UPSTREAM_CELLS:
        blockers.append(f"more than {MAX_UPSTREAM_CELLS} earlier cells are needed: gather the training code in fewer cells")
    return Recipe([needed.cells[c] for c in sorted(needed.cells)], cell, inputs, options, blockers)


def _seed_matters(estimator: Any) -> bool:
    """Whether ``estimator`` draws random numbers when fitted (``random_state`` is unused by some solvers)."""
    solver = getattr(estimator, "solver", None)
    return not (type(estimator).__name__ == "LogisticRegression" and solver in DETERMINISTIC_LOGISTIC_SOLVERS)


DETERMINISTIC_LOGISTIC_SOLVERS = {"lbfgs", "newton-cg", "newton-cholesky"}


def unseeded_estimators(models: list[tuple[str, Any]]) -> list[str]:
    """Fitted estimators (or their parts) that draw random numbers with ``random_state=None``: replays may differ."""
    found = []
    for variable, model in models:
        params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
        for key in sorted(k for k, v in params.items() if k.split("__")[-1] == "random_state" and v is None):
            owner = params.get(key.rsplit("__", 1)[0], model) if "__" in key else model
            if _seed_matters(owner):
                found.append(f"{variable!r} ({type(model).__name__}) has {key}=None: set it for identical replays")
                break
    return found
