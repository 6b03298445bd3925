"""A store for a team: one PostgreSQL database (a real server, a real password), artifacts in a shared
folder or an S3-compatible object store (moto's server), and what must hold when several people and
processes use it at once."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_magic import api
from mlops_magic.errors import ConflictError, IntegrityError, NotFoundError, StoreError
from mlops_magic.store import Store, schema

from .monitoring_fixtures import wine_frame
from .postgres_support import PASSWORD, copy_sqlite_store, free_port
from .serving_support import descendants
from .test_store import EARLIER_SCHEMAS, FIXTURES, assert_migrated_whole, make_run, stored_revision

ROOT = Path(__file__).resolve().parents[1]

postgresql_store = pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)



def four_at_once(target, args_of) -> list:
    """Run ``target(*args_of(i, barrier))`` in four spawned processes that share a barrier; their exit codes."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=target, args=args_of(i, barrier)) for i in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(180)
        if process.is_alive():
            process.kill()
    return [p.exitcode for p in processes]

def _open_each(urls: list[str], barrier) -> None:
    """Open each store at the same moment as the other openers (a dead opener breaks the barrier)."""
    for url in urls:
        barrier.wait(timeout=60)
        Store(url).close()


def test_processes_opening_a_new_or_old_postgresql_store_at_once_create_or_migrate_it_once(postgres_server):
    """Four processes open the same store at once, six times over: new stores and a store of the first
    schema, on databases whose default isolation is READ COMMITTED, REPEATABLE READ or SERIALIZABLE
    (under the last two the lock alone did not do: the waiter's snapshot predated the creation)."""
    rounds = []
    for kind, isolation in [("new", "read committed"), ("new", "repeatable read"), ("new", "serializable"), ("new", "serializable"),
                            ("store-v1-first", "read committed"), ("store-v1-first", "serializable")]:  # fmt: skip
        database = postgres_server.new_database()
        postgres_server.admin(f"ALTER DATABASE {database} SET default_transaction_isolation = '{isolation}'")
        if kind != "new":
            copy_sqlite_store(FIXTURES / kind / "store.db", postgres_server.url(database))
        rounds.append((kind, postgres_server.url(database)))
    assert four_at_once(_open_each, lambda _, barrier: ([url for _, url in rounds], barrier)) == [0, 0, 0, 0]
    for kind, url in rounds:
        store = Store(url)
        assert stored_revision(store) == (schema.SCHEMA_VERSION, f"{schema.SCHEMA_VERSION:04d}")
        with store.db.reading() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM alembic_version").scalar_one() == 1
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM store_info").scalar_one() == 2
        if kind != "new":
            assert store.count_runs() == 3 and len(store.predictions_frame("wine")) == 20
        store.close()


@pytest.mark.parametrize("fixture", EARLIER_SCHEMAS)
def test_a_postgresql_store_of_an_earlier_schema_is_migrated_with_everything_in_it(postgres_server, tmp_path, fixture):
    shutil.copytree(FIXTURES / fixture, tmp_path / "s")
    url = postgres_server.url(postgres_server.new_database())
    copy_sqlite_store(tmp_path / "s" / "store.db", url)
    assert_migrated_whole(url, tmp_path / "s")


def _wrong(url: str) -> str:
    return url.replace(PASSWORD, "not-" + PASSWORD)


@postgresql_store
def test_a_store_urls_password_is_never_shown(store, ip, caplog, monkeypatch):
    """Not in reprs, error messages (a clash, a wrong password, a server gone), run cards, nor any log
    record (deployment cards and the serving processes' output: the serving test below)."""
    from IPython.utils.capture import capture_output
    from sqlalchemy import make_url

    caplog.set_level(logging.DEBUG)
    assert PASSWORD in store.url  # the fixture's URL holds a real password, which the server checks
    assert store.safe_url == store.url.replace(PASSWORD, "***")
    shown = [repr(store), repr(store.db.engine), repr(api.get_store())]

    run = make_run(metrics={"acc": 0.5})
    store.write_run(run)
    clash = make_run()
    clash.run_id = run.run_id
    url = make_url(store.url)
    with pytest.raises(ConflictError, match=r"runs_pkey.* DETAIL: +Key") as conflict:  # PostgreSQL's DETAIL line joined on
        store.write_run(clash)
    with pytest.raises(StoreError, match=r"mm:\*\*\*@.*password authentication failed") as refused:
        Store(url.set(password="not-" + PASSWORD).render_as_string(hide_password=False))
    with pytest.raises(StoreError, match="password authentication failed") as in_query:
        Store(url.set(password=None).update_query_dict({"password": "not-" + PASSWORD}).render_as_string(hide_password=False))
    with pytest.raises(StoreError, match="is unavailable: connection failed") as gone:
        Store(url.set(port=free_port()).render_as_string(hide_password=False))
    errors = (conflict.value, refused.value, in_query.value, gone.value)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # or ~/.pgpass: the URL then holds no password at all
    assert Store(url.set(password=None).render_as_string(hide_password=False)).count_runs() == 1
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    assert all("\n" not in str(e) for e in errors)

    ip.run_cell("from sklearn.datasets import load_wine\nX, y = load_wine(return_X_y=True, as_frame=True)")
    with capture_output() as captured:
        assert ip.run_cell("%%mlops_train -e team\nfrom sklearn.tree import DecisionTreeClassifier\ntree = DecisionTreeClassifier(max_depth=2).fit(X, y)").success
    assert any("text/html" in output.data for output in captured.outputs)  # the run card was shown
    shown += [json.dumps(output.data, default=str) for output in captured.outputs] + [captured.stdout, captured.stderr]
    shown += [record.getMessage() for record in caplog.records]
    for text in shown:
        assert PASSWORD not in text, text[:300]


NOTEBOOK_CELLS = [
    "%load_ext mlops_magic",
    "from sklearn.datasets import load_wine\nX, y = load_wine(return_X_y=True, as_frame=True)",
    "%%mlops_train -e team --quiet --tag who={who}\nfrom sklearn.tree import DecisionTreeClassifier\nmodel = DecisionTreeClassifier(max_depth={depth}, random_state=0).fit(X, y)",
    # each waits until the other's run is there, then loads the other's model from the shared artifacts
    "import json, time\nimport mlops_magic as mm\ndeadline = time.time() + 180\n"
    "def finished():\n    runs = mm.runs('team')\n    return runs[runs['status'] == 'finished'] if len(runs) else runs\n"  # a run is 'running' until written whole
    "while set(finished().get('tags.who', [])) != {{'alice', 'bob'}} and time.time() < deadline:\n    time.sleep(0.2)\n"
    "runs = finished()\nother = runs[runs['tags.who'] != '{who}'].iloc[0]\n"
    "print(json.dumps({{'seen': sorted(runs['tags.who']), 'other': other['run_id'], 'predicted': mm.load_model(other['run_id']).predict(X).tolist()}}))",
]


@postgresql_store
def test_two_notebooks_on_one_postgresql_store_see_each_others_runs_and_models(store, tmp_path):
    """Two real notebooks (two kernels, at once) track into one PostgreSQL store with a shared artifact folder."""
    import nbformat

    paths = {}
    for who, depth in (("alice", 2), ("bob", 3)):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.format(who=who, depth=depth)) for c in NOTEBOOK_CELLS])
        paths[who] = tmp_path / f"{who}.ipynb"
        nbformat.write(notebook, paths[who])
    run = "import sys, nbclient, nbformat\nnb = nbformat.read(sys.argv[1], 4)\nnbclient.NotebookClient(nb, timeout=300, kernel_name='python3').execute()\nnbformat.write(nb, sys.argv[1])"
    kernels = {who: subprocess.Popen([sys.executable, "-c", run, str(path)], cwd=tmp_path, stderr=subprocess.PIPE, text=True) for who, path in paths.items()}
    for who, kernel in kernels.items():
        _, errors = kernel.communicate(timeout=400)
        assert kernel.returncode == 0, f"{who}'s notebook failed: {errors[-3000:]}"
    runs = api.runs("team").set_index("tags.who")
    assert sorted(runs.index) == ["alice", "bob"]
    for who, other in (("alice", "bob"), ("bob", "alice")):
        printed = json.loads(nbformat.read(paths[who], 4).cells[-1].outputs[0]["text"])
        assert printed["seen"] == ["alice", "bob"] and printed["other"] == runs.loc[other, "run_id"]
        assert printed["predicted"] == api.load_model(printed["other"]).predict(wine_frame().drop(columns="target")).tolist()
    assert not (tmp_path / ".mlops").exists()  # every artifact went to the shared folder, none beside a notebook


def _write_runs_and_predictions(url: str, artifacts: str, writer: int, barrier) -> None:
    """One writer process: 20 runs and 200 predictions (10 batches), every other batch labelled."""
    store = Store(url, artifacts)
    barrier.wait(timeout=60)
    for i in range(20):
        store.write_run(make_run(experiment="writers", metrics={"i": float(i)}, params={"writer": str(writer)}))
        if i % 2 == 0:
            rows = [{"prediction_id": f"w{writer}-{i}-{j}", "time": time.time(), "model": "m", "version": 1, "variant": None, "shadow": False,
                     "inputs": {"x": float(j)}, "output": j % 3, "latency_ms": 1.0, "confidence": 0.5} for j in range(20)]  # fmt: skip
            store.log_predictions(rows)
            if i % 4 == 0:
                store.log_feedback([r["prediction_id"] for r in rows], [r["output"] for r in rows])
    store.close()


@postgresql_store
def test_concurrent_writers_on_postgresql_lose_nothing(store, tmp_path):
    assert four_at_once(_write_runs_and_predictions, lambda w, barrier: (store.url, str(store.artifacts.root), w, barrier)) == [0, 0, 0, 0]
    runs = store.runs_frame("writers")
    assert len(runs) == 80 and sorted(runs.groupby("params.writer").size()) == [20] * 4
    logged = store.predictions_frame("m")
    assert len(logged) == logged["prediction_id"].nunique() == 4 * 10 * 20
    assert logged["label"].notna().sum() == 4 * 5 * 20


@postgresql_store
def test_a_clash_on_another_key_than_the_one_two_writers_race_for_is_refused(store):
    """``insert_missing`` swallows only the clash of the row another writer added: here the experiments'
    sequence lags a row written with its own id, so the new experiment clashes on its id, not its name."""
    with store.db.writing() as conn:
        conn.execute(schema.experiments.insert().values(experiment_id=1, name="first", created_at=time.time()))
    with pytest.raises(ConflictError, match="experiments_pkey"):
        store.write_run(make_run(experiment="second"))
    assert store.count_runs() == 0
    store.write_run(make_run(experiment="third"))  # the sequence moved on: the next experiment gets id 2
    assert store.count_runs() == 1


@pytest.fixture(scope="module")
def s3_server():
    """An S3-compatible server (moto's, in this process, on 127.0.0.1) with a bucket ``team``, for the module."""
    pytest.importorskip("s3fs", reason="s3fs is not installed: pip install mlops_magic[team]")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield {"AWS_ACCESS_KEY_ID": "team", "AWS_SECRET_ACCESS_KEY": "team-secret", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A client of that server, whose bucket ``team`` is empty; the ``AWS_*`` variables point boto3,
    s3fs and any process started here at it."""
    import boto3

    for key, value in s3_server.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket="team")
    yield client
    for listed in client.get_paginator("list_objects_v2").paginate(Bucket="team"):
        for item in listed.get("Contents", []):
            client.delete_object(Bucket="team", Key=item["Key"])
    client.delete_bucket(Bucket="team")


def test_artifacts_under_a_file_url_and_on_s3_are_checked_before_loading(tmp_path, s3):
    from sklearn.tree import DecisionTreeClassifier

    X, y = wine_frame().drop(columns="target"), wine_frame()["target"]
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    shared = Store(str(tmp_path / "db"), artifact_root=f"file://{tmp_path / 'shared folder'}")
    sha, _, trusted = shared.artifacts.save_model(model)
    assert (tmp_path / "shared folder" / sha[:2] / sha[2:]).is_file()
    assert shared.artifacts.load_model(sha, trusted).predict(X).tolist() == model.predict(X).tolist()

    remote = Store(str(tmp_path / "db"), artifact_root="s3://team/artifacts")
    sha, _, trusted = remote.artifacts.save_model(model)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="team")["Contents"]] == [f"artifacts/{sha[:2]}/{sha[2:]}"]
    assert remote.artifacts.put(remote.artifacts.get(sha)) == sha  # stored once
    assert remote.artifacts.load_model(sha, trusted).predict(X).tolist() == model.predict(X).tolist()
    s3.put_object(Bucket="team", Key=f"artifacts/{sha[:2]}/{sha[2:]}", Body=b"not the model")
    with pytest.raises(IntegrityError, match="was modified"):
        remote.artifacts.load_model(sha, trusted)
    with pytest.raises(NotFoundError, match="missing from s3://team/artifacts"):
        remote.artifacts.get("0" * 64)
    assert remote.artifacts.local_folder == Path(".mlops").resolve()  # a remote root's journals and logs stay on this machine


TRAIN_CELLS = [
    "from sklearn.datasets import load_wine\nfrom sklearn.tree import DecisionTreeClassifier",
    "frame = load_wine(as_frame=True).frame.sample(frac=1, random_state=0).reset_index(drop=True)\n"
    "train_df, test_df = frame.iloc[:100], frame.iloc[100:].reset_index(drop=True)",
    "%%mlops_train -e wine --data train_df --target target --eval test_df --quiet\n"
    "model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(train_df.drop(columns='target'), train_df['target'])",
]


@postgresql_store
def test_a_serving_process_and_a_watcher_log_into_the_team_store(store, ip, s3, tmp_path, monkeypatch):
    """PostgreSQL for the records, S3 for the artifacts: the serving process loads the model from S3 and
    logs every prediction and label; the watcher holds its lock there and records the alert (no
    retraining job: the policy asks for more labels than it gets); no password in their command lines,
    their output or the cards."""
    import requests

    monkeypatch.chdir(tmp_path)  # a remote root's local side (journals, process output): ./.mlops
    api.set_store(store.url, artifact_root="s3://team/artifacts")
    for cell in TRAIN_CELLS:
        assert ip.run_cell(cell, store_history=True).success
    warnings = api.current_session().tracker.flush()  # the run written whole, its model and data on S3
    [run] = [api.get_run(r) for r in api.runs("wine")["run_id"]]
    assert run.status == "finished" and run.model is not None, (run.status, run.warnings, warnings)
    api.promote(run.run_id, name="wine", alias="production")
    assert s3.list_objects_v2(Bucket="team")["KeyCount"] >= 3  # the model, the data sample and snapshot
    live = ip.user_ns["test_df"].iloc[:40]
    card = ip.run_line_magic("mlops_serve", "wine@production --workers 1")
    status = card.status
    try:
        api.set_policy("wine", "accuracy", min_value=0.99, window=40, retrain=True, cooldown=0, min_labelled=41)
        with requests.Session() as session:
            answer = session.post(f"{status.url}/invocations", json={"dataframe_records": live.drop(columns="target").to_dict("records")}, timeout=60)
            assert answer.status_code == 200, answer.text
            ids = answer.json()["ids"]
            assert session.post(f"{status.url}/feedback", json={"ids": ids, "labels": live["target"].tolist()}, timeout=60).status_code == 200
        [watcher] = api.get_store().watcher_records()
        started = [status.pid, *descendants(status.pid), watcher["pid"]]  # the server, its worker and log writer, the watcher
        command_lines = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in started]
        deadline = time.time() + 120
        while time.time() < deadline and not len(api.get_store().alerts_frame("wine")):
            time.sleep(0.5)
        shown = [card._repr_html_(), repr(card), repr(api.deployments())]
    finally:
        api.stop("wine")
    logged = api.predictions("wine")
    assert sorted(logged["prediction_id"]) == sorted(ids) and logged["label"].notna().all()
    alerts = api.get_store().alerts_frame("wine")
    assert list(alerts["metric"].unique()) == ["accuracy"] and api.get_store().jobs("wine") == []
    assert watcher["pid"] != status.pid and (tmp_path / ".mlops" / "serving" / "wine.log").exists()
    logs = [path.read_text() for path in (tmp_path / ".mlops" / "serving").glob("*.log")]
    assert len(logs) == 2 and "watching wine" in "".join(logs)  # the serving process's output and the watcher's
    assert len(command_lines) >= 4 and all("--artifacts s3://team/artifacts" in command_lines[i] for i in (0, -1)), command_lines
    for text in shown + logs + command_lines:  # a command line is readable by every user of the machine
        assert PASSWORD not in text, text[:300]
