"""Replay: re-execute a run's recipe in a fresh process and record the result as a new run.

``replay_run`` (kernel side) starts ``python -m mlops_magic.tracking.replay``, which loads the
recipe and the data snapshots (or the frames given instead), injects the declared inputs, runs the
earlier cells and then the training cell exactly as ``%%mlops_train`` does, with the original run
as the new run's parent. A failure anywhere is one line naming the cell and the error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..config import store_location
from ..errors import InvalidInputError, ReplayError
from ..store import Run, Store
from .recipe import Recipe

REPLAY_TIMEOUT_S = 600
RESULT_PREFIX = "mlops-magic replay result: "  # the line the kernel reads back (the recipe's own output may be anything)


def recipe_of(run: Run) -> Recipe:
    """The run's recipe, or a one-line error saying why there is none to replay."""
    if run.recipe is None:
        raise InvalidInputError(f"run {run.short_id} has no recipe: only runs of %%mlops_train cells can be replayed.")
    recipe = Recipe.from_dict(run.recipe)
    if not recipe.replayable:
        raise InvalidInputError(f"run {run.short_id} is {recipe.summary()}.")
    return recipe


def snapshot_frame(store: Store, run: Run, role: str):
    """The full training or eval frame the run saw (features and target), from its snapshot."""
    dataset = run.datasets.get(role)
    if dataset is None or dataset.snapshot_sha256 is None:
        raise InvalidInputError(
            f"run {run.short_id} kept no {role} data snapshot (over the size limit, or not declared with --data/--eval): "
            f"give the data to replay, e.g. mm.replay({run.short_id!r}, {'data' if role == 'train' else 'eval'}=frame)."
        )
    return store.artifacts.load_frame(dataset.snapshot_sha256)


def injected_values(run: Run, recipe: Recipe, frames: dict[str, Any]) -> dict[str, Any]:
    """The value of each declared input, cut from the role's frame as the original cell received it."""
    values = {}
    for name, (role, part) in recipe.inputs.items():
        frame, target = frames[role], run.datasets[role].target
        check_layout(run, role, frame)
        if part == "y":
            values[name] = frame[target]
        elif part == "X" and target is not None:
            values[name] = frame.drop(columns=[target])
        else:
            values[name] = frame
    return values


def check_layout(run: Run, role: str, frame) -> None:
    """``frame`` can stand in for the run's ``role`` data: a DataFrame with its target column."""
    target = run.datasets[role].target if role in run.datasets else None
    if not hasattr(frame, "columns"):
        raise InvalidInputError(f"the {role} data to replay with is a {type(frame).__name__}: give a DataFrame laid out as the run's own.")
    if target is not None and target not in frame.columns:
        raise InvalidInputError(f"the {role} data has no target column {target!r}: include it, as in the run's own data.")


def replay_here(store: Store, run_id: str, frames_given: dict[str, Any]) -> Run:
    """Run the recipe of ``run_id`` in this process (a fresh one) and return the new, parented run."""
    from IPython.core.interactiveshell import InteractiveShell

    from .cell import track_cell
    from .tracker import Tracker

    run = store.get_run(run_id)
    recipe = recipe_of(run)
    roles = {role for role, _ in recipe.inputs.values()}
    frames = {role: frames_given[role] if role in frames_given else snapshot_frame(store, run, role) for role in roles}
    shell = InteractiveShell.instance()
    shell.user_ns.update(injected_values(run, recipe, frames))
    for number, code in enumerate(recipe.cells, start=1):
        result = shell.run_cell(code, store_history=True)  # kept in history: the new run's recipe is built from it
        if not result.success:
            error = result.error_in_exec or result.error_before_exec
            raise ReplayError(f"replay of run {run.short_id} failed in earlier cell {number} of {len(recipe.cells)}: {type(error).__name__}: {error}")
    tracker = Tracker(lambda: store)
    try:
        _, card = track_cell(shell, recipe.cell, tracker, **recipe.options, parent_run_id=run.run_id, card=True)
    except Exception as error:
        tracker.close()
        raise ReplayError(f"replay of run {run.short_id} failed in its training cell: {type(error).__name__}: {error}") from None
    tracker.close()
    return card.run


def replay_run(store: Store, run_id: str, data=None, eval=None, timeout: float = REPLAY_TIMEOUT_S, nice: int = 0) -> str:
    """Replay ``run_id`` in a fresh process (``nice`` lowers its CPU priority); return the new run's id.

    ``data``/``eval`` (DataFrames with the target column, as the run's own) replace the snapshots.
    """
    run = store.get_run(run_id)
    recipe_of(run)  # a run that cannot be replayed, or data that cannot stand in, is refused before a process starts
    for role, frame in (("train", data), ("eval", eval)):
        if frame is not None:
            check_layout(run, role, frame)
    with tempfile.TemporaryDirectory(prefix="mlops-replay-") as folder:
        options, environment = store.for_a_process()
        command = [sys.executable, "-m", "mlops_magic.tracking.replay", *options, "--run", run.run_id]
        for option, frame in (("--data", data), ("--eval", eval)):
            if frame is not None:
                path = Path(folder) / f"{option[2:]}.parquet"
                frame.to_parquet(path, index=False)
                command += [option, str(path)]
        try:
            done = subprocess.run(
                command, env=environment, capture_output=True, text=True, timeout=timeout, preexec_fn=(lambda: os.nice(nice)) if nice else None
            )
        except subprocess.TimeoutExpired:
            raise ReplayError(f"replay of run {run.short_id} took longer than {timeout:.0f} s and was stopped.") from None
    lines = [line[len(RESULT_PREFIX) :] for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    answer = json.loads(lines[-1]) if lines else {"error": f"replay of run {run.short_id} ended without a result: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"}
    if "error" in answer:
        raise ReplayError(answer["error"])
    return answer["run_id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_magic.tracking.replay", description="Replay a run's recipe here.")
    parser.add_argument("--store", default=store_location(), help="the store's SQLAlchemy URL or folder (default MLOPS_MAGIC_STORE)")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--data", default=None, help="parquet file replacing the training snapshot")
    parser.add_argument("--eval", default=None, help="parquet file replacing the eval snapshot")
    args = parser.parse_args(argv)
    import pandas as pd

    from ..errors import MLOpsError

    frames = {role: pd.read_parquet(path) for role, path in (("train", args.data), ("eval", args.eval)) if path}
    store = Store(args.store, args.artifacts)
    try:
        new = replay_here(store, args.run, frames)
    except MLOpsError as error:
        print(RESULT_PREFIX + json.dumps({"error": str(error)}), flush=True)
        return 1
    print(RESULT_PREFIX + json.dumps({"run_id": new.run_id}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
