"""A store for a team: one PostgreSQL database (a real server, a real password), artifacts in a shared
folder or an S3-compatible object store (moto's server), and what must hold when several people and
processes use it at once."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
from pathlib import Path

import pytest

from mlops_magic import api
from mlops_magic.errors import ConflictError, StoreError
from mlops_magic.store import Store, schema

from .postgres_support import PASSWORD, copy_sqlite_store, free_port
from .test_store import EARLIER_SCHEMAS, FIXTURES, assert_migrated_whole, make_run, stored_revision

ROOT = Path(__file__).resolve().parents[1]

postgresql_store = pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)


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
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_open_each, args=([url for _, url in rounds], barrier)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(180)
        if process.is_alive():
            process.kill()
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
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
def test_a_store_urls_password_is_never_shown(store, ip, caplog, tmp_path):
    """Not in reprs, error messages (a clash, a wrong password, a server gone), run and deployment
    cards, the serving process's output, nor any log record."""
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
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    assert all("\n" not in str(e) for e in errors)

    ip.run_cell("from sklearn.datasets import load_wine\nX, y = load_wine(return_X_y=True, as_frame=True)")
    with capture_output() as captured:
        assert ip.run_cell("%%mlops_train -e team\nfrom sklearn.tree import DecisionTreeClassifier\ntree = DecisionTreeClassifier(max_depth=2).fit(X, y)").success
    assert any("text/html" in output.data for output in captured.outputs)  # the run card was shown
    shown += [json.dumps(output.data, default=str) for output in captured.outputs] + [captured.stdout, captured.stderr]
    api.promote(api.runs("team")["run_id"][0], name="tree", alias="production")
    card = ip.run_line_magic("mlops_serve", "tree@production --workers 1")
    try:
        shown += [card._repr_html_(), repr(card), repr(api.deployments())]
    finally:
        ip.run_line_magic("mlops_serve", "--stop tree")
    logs = [path.read_text() for path in (tmp_path / "store").rglob("*.log")]
    assert logs and any("tree" in log for log in logs)  # the serving process's output was kept, and read here
    shown += logs + [record.getMessage() for record in caplog.records]
    for text in shown:
        assert PASSWORD not in text, text[:300]
