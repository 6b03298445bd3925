"""Bad input everywhere: the magics fuzzed with hypothesis, tampered artifacts, foreign or newer store files.

Whatever the arguments or the data, a magic gives a result or a one-line ``UsageError``, never a
traceback; a refusal writes nothing. A file that is not what it should be is refused, untouched.
"""

from __future__ import annotations

import os
import sqlite3
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from mlops_magic import api, cli
from mlops_magic.errors import MLOpsError

# Random examples on a developer's machine; under CI the same examples every run, so a run is red only
# where the code changed (an example a developer's run finds becomes a fix and stays covered by its test).
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], database=None,
                derandomize=bool(os.environ.get("CI")))

WORDS = ["-e", "--experiment", "--name", "--data", "--target", "--eval", "--tag", "--sort", "--asc", "--limit", "--where", "--metric", "--min", "--max",
         "--window", "--windows", "--backtest", "--alias", "--by", "--require", "--force", "--split", "--shadow", "--stop", "--port", "--workers",
         "--retrain", "--gate", "--drift", "--cooldown", "--min-labelled", "--quiet", "best", "wine", "frame", "missing", "target", "a,b", "x=1",
         "accuracy > 0.9", "'quoted", '"', "'", "=", ",", "@", "wine@production", "wine/1", "1e400", "-1", "0", "99999999999999999999999", "nan", "é∂🙂"]  # fmt: skip
LINES = st.lists(st.sampled_from(WORDS) | st.text(string.printable + "é∂🙂\u200b", max_size=12), max_size=8).map(" ".join)
LINE_MAGICS = ["mlops_runs", "mlops_compare", "mlops_monitor", "mlops_policy", "mlops_data", "mlops_promote", "mlops_models", "mlops_serve", "mlops_metric", "mlops_maturity"]


def store_rows(store) -> dict[str, int]:
    """Rows of every table of the (SQLite) store, read by a connection of its own."""
    with sqlite3.connect(store.url.split("///", 1)[1]) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def one_line_or_result(call, store):
    """Run ``call``: a value, or a one-line UsageError after which the store holds exactly what it held."""
    api.get_store()  # what earlier examples queued is written first
    before = store_rows(store)
    try:
        return call()
    except UsageError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip() and "Traceback" not in message, message
        api.get_store()  # anything the tracker queued is written now
        assert store_rows(store) == before, f"a refusal wrote to the store: {message}"
        return None


@pytest.fixture
def shell(ip):
    assert ip.run_cell("import pandas as pd\nframe = pd.DataFrame({'a': [1.0, 2.0, 3.0, 4.0], 'target': [0, 1, 0, 1]})").success
    return ip


@FUZZ
@given(magic=st.sampled_from(LINE_MAGICS), line=LINES)
def test_line_magics_take_any_line_without_a_traceback(shell, store, magic, line):
    one_line_or_result(lambda: shell.run_line_magic(magic, line), store)


@FUZZ
@given(line=LINES)
def test_mlops_train_takes_any_line_without_a_traceback(shell, store, line):
    shell.user_ns.pop("ran", None)
    value = one_line_or_result(lambda: shell.run_cell_magic("mlops_train", line, "ran = True\nran"), store)
    assert value is None or value is True


# --- frames with odd dtypes ------------------------------------------------------------------


def odd_columns(n: int):
    """Strategies of columns of ``n`` rows, one per troublesome dtype."""
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    return st.sampled_from(["float", "int", "object", "category", "tz", "nullable", "allnan", "text", "bool", "huge"]).flatmap(
        lambda kind: {
            "float": st.lists(floats, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="float64")),
            "int": st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="int64")),
            "object": st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3), floats), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype=object)),
            "category": st.lists(st.sampled_from(["x", "y", "é"]), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="category")),
            "tz": st.lists(st.integers(0, 2_000_000_000), min_size=n, max_size=n).map(lambda v: pd.Series(pd.to_datetime(v, unit="s", utc=True)).dt.tz_convert("Europe/Paris")),
            "nullable": st.lists(st.none() | st.integers(-5, 5), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="Int64")),
            "allnan": st.just(pd.Series([np.nan] * n)),
            "text": st.lists(st.text(max_size=5), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="string")),
            "bool": st.lists(st.booleans(), min_size=n, max_size=n).map(pd.Series),
            "huge": st.just(pd.Series([1e308, -1e308] * (n // 2) + [1e308] * (n % 2))),
        }[kind]
    )  # fmt: skip


@st.composite
def odd_frames(draw):
    n = draw(st.integers(0, 12))
    columns = draw(st.lists(odd_columns(n), min_size=1, max_size=5))
    names = draw(st.lists(st.sampled_from(["target", "target", "a", "b", "é 1", ""]), min_size=len(columns), max_size=len(columns)))  # duplicates allowed
    frame = pd.concat(columns, axis=1, ignore_index=True) if columns else pd.DataFrame()
    frame.columns = names
    return frame


@FUZZ
@given(frame=odd_frames(), target=st.sampled_from(["target", "a", "missing"]), with_eval=st.booleans())
def test_odd_frames_are_tracked_or_refused_in_one_line(shell, store, frame, target, with_eval):
    shell.user_ns["odd"] = frame
    line = f"-e odd --data odd --target {target}" + (" --eval odd" if with_eval else "")
    value = one_line_or_result(lambda: shell.run_cell_magic("mlops_train", line, "rows = len(odd)\nrows"), store)
    assert value is None or value == len(frame)


@FUZZ
@given(frame=odd_frames(), target=st.sampled_from(["target", "a", "missing", None]), baseline=st.booleans())
def test_odd_frames_are_checked_or_refused_in_one_line(shell, store, frame, target, baseline):
    shell.user_ns["odd"] = frame
    line = "odd" + (f" --target {target}" if target else "") + ("" if baseline else " --no-baseline")
    one_line_or_result(lambda: shell.run_line_magic("mlops_data", line), store)



# --- files that are not what they should be -------------------------------------------------


def fingerprint(path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_a_damaged_model_artifact_is_refused_in_one_line_naming_the_file(store, damage):
    from .serving_support import logistic, train

    run = store.get_run(train(logistic())[0].run_id)
    path = store.artifacts.path_of(run.model.sha256)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(MLOpsError) as refused:
        api.load_model(run.run_id)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value) and "Refusing to load it" in str(refused.value)


def newer_store(folder):
    from mlops_magic.store import Store

    Store(str(folder)).close()
    with sqlite3.connect(folder / "store.db") as connection:
        connection.execute("UPDATE store_info SET value = '999' WHERE key = 'schema_version'")
    connection.close()
    return "schema version 999, newer than this mlops_magic understands"


def not_a_database(folder):
    folder.mkdir()
    (folder / "store.db").write_bytes(b"these are the notes of a meeting, saved under the wrong name\n" * 50)
    return "cannot be read: file is not a database"


@pytest.mark.parametrize("make", [newer_store, not_a_database], ids=["newer version", "not a database"])
def test_a_store_file_it_cannot_use_is_refused_untouched(ip, tmp_path, capsys, caplog, make):
    folder = tmp_path / "other"
    message = make(folder)
    before = fingerprint(folder / "store.db")
    try:  # %config reports a setting it refused as one logged line
        assert ip.run_cell(f"%config MLOpsMagic.store = {str(folder)!r}").success
        logged = [r.getMessage() for r in caplog.records if message in r.getMessage()]
        assert logged and all("\n" not in line for line in logged)
    finally:
        ip.run_line_magic("config", "MLOpsMagic.store = ''")
    with pytest.raises(MLOpsError, match=message):
        api.set_store(str(folder))
    assert cli.main(["--store", str(folder), "runs"]) != 0
    assert message in capsys.readouterr().err
    assert fingerprint(folder / "store.db") == before


def test_a_bad_argument_with_a_line_break_is_still_one_line(shell):
    with pytest.raises(UsageError, match=r"^unrecognized arguments: 'quoted \\n ' quoted$"):
        shell.run_cell_magic("mlops_train", "'quoted \n ' quoted", "ran = True")
