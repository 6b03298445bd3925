"""Shared fixtures: a fresh store per test, and a real IPython shell with the extension loaded.

A module marked ``pytestmark = pytest.mark.both_stores`` (or a test marked so) runs each test that
uses ``store`` twice: on SQLite and on a real PostgreSQL server (one per session, a fresh database
per test), the store URL holding a real password.
"""

from __future__ import annotations

import os

import pytest

from mlops_magic import api
from mlops_magic.session import Session

pytest_plugins = ["tests.monitoring_fixtures"]  # its fixtures (``wine``) serve every test module


def pytest_configure(config):
    config.addinivalue_line("markers", "both_stores: run the tests that use ``store`` on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc):
    chosen = any("store_kind" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize"))  # a test that names its store
    if "store_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores") and not chosen:
        metafunc.parametrize("store_kind", ["sqlite", "postgresql"], indirect=True)


def pytest_collection_modifyitems(items):
    """Every test that needs the PostgreSQL server carries the ``postgresql`` marker, every test that
    reads the tour's project the ``tour`` marker (``-m "not postgresql and not tour"`` leaves them out)."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        fixtures = set(getattr(item, "fixturenames", ()))
        if params.get("store_kind") == "postgresql" or {"postgres_server", "postgres_url"} & fixtures:
            item.add_marker(pytest.mark.postgresql)
        if "climbed" in fixtures:
            item.add_marker(pytest.mark.tour)


@pytest.fixture
def store_kind(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server on 127.0.0.1 for the session, with a template database holding a new store's schema.

    Where none can be started the tests that need it skip, saying why; under ``CI=true`` they fail."""
    from mlops_magic.store import Store

    from .postgres_support import PostgresServer

    try:
        server = PostgresServer.start()
    except (RuntimeError, OSError) as exc:
        message = f"no PostgreSQL server: {str(exc).splitlines()[0]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server.template = server.new_database()
    Store(server.url(server.template)).close()  # created once; each test's database is a copy (CREATE DATABASE ... TEMPLATE)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL (with its password) of a fresh PostgreSQL database holding an empty store, dropped afterwards."""
    name = postgres_server.new_database(template=postgres_server.template)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def store(tmp_path, monkeypatch, store_kind, request):
    """A fresh session whose store (SQLite in a temporary folder, or PostgreSQL) is the one in use.

    ``MLOPS_MAGIC_STORE`` (and for PostgreSQL ``MLOPS_MAGIC_ARTIFACTS``) point there too, so the
    extension's own session (``ip``) and any process a test starts find the same store."""
    if store_kind == "postgresql":
        monkeypatch.setenv("MLOPS_MAGIC_STORE", request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("MLOPS_MAGIC_ARTIFACTS", str(tmp_path / "store" / "artifacts"))
    else:
        monkeypatch.setenv("MLOPS_MAGIC_STORE", str(tmp_path / "store"))
    session = Session()
    previous = api.use_session(session)
    yield session.store()
    api.use_session(previous)
    session.close()


@pytest.fixture
def ip(store):
    """A real ``InteractiveShell`` with ``%load_ext mlops_magic``; its namespace cleared afterwards."""
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "mlops_magic")
    names = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - names:
        del shell.user_ns[name]
    shell.run_line_magic("unload_ext", "mlops_magic")
