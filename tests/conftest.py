"""Shared fixtures: a fresh store per test, and a real IPython shell with the extension loaded."""

from __future__ import annotations

import pytest

from mlops_magic import api
from mlops_magic.session import Session

pytest_plugins = ["tests.monitoring_fixtures"]  # its fixtures (``wine``) serve every test module


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh session whose store (SQLite, in a temporary folder) is the one in use.

    ``MLOPS_MAGIC_STORE`` points there too, so the extension's own session (``ip``) and any process
    a test starts find the same store."""
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
