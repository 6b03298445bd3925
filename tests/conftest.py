"""Shared fixtures: a fresh store per test, and a real IPython shell with the extension loaded."""

from __future__ import annotations

import pytest

from mlops_magic import api

pytest_plugins = ["tests.monitoring_fixtures"]  # its fixtures (``wine``) serve every test module


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh SQLite store in a temporary folder, made the store in use."""
    monkeypatch.setenv("MLOPS_MAGIC_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(api, "_chosen", None)
    yield api.get_store()
    api.get_store().close()


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
