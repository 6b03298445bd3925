"""The tutorials run as JupyterLab runs them, fail when a magic fails, and a cell marked to raise must raise.

nbval fails a cell only on an ``error`` message from the kernel. A magic's user error is an
IPython ``UsageError``, which the kernel prints to stderr and does not send as an error (nbval
issue #147), so a failing ``%mlops_*`` cell would pass. After each cell has run, this hook reads
the outputs nbval collected (``IPyNbCell.test_outputs``) and fails the cell by the rule of
``tests/cells.py`` (the browser tests' too): when its stderr holds a ``UsageError`` or an error a
cell printed, or when a cell marked to raise (the ``raises-exception`` tag, with which JupyterLab's
"Run All" goes on past the error, or ``# NBVAL_RAISES_EXCEPTION``), which nbval only *allows* to
raise, raised nothing.

nbval also sends each cell with ``store_history=False``, so ``In``, the execution counts and a
run's upstream cells (read from the history) would be empty; here cells are kept in the history,
as JupyterLab keeps them.
"""

from __future__ import annotations

import pytest
from nbval.kernel import RunningKernel
from nbval.plugin import IPyNbCell

from tests.cells import cell_failure


def execute_as_jupyterlab_does(kernel: RunningKernel, cell_input: str, allow_stdin: bool | None = None) -> str:
    """nbval's ``RunningKernel.execute_cell_input``, with the cell kept in the kernel's history."""
    return kernel.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


RunningKernel.execute_cell_input = execute_as_jupyterlab_does


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if isinstance(item, IPyNbCell):
        failure = cell_failure(item.test_outputs or [], must_raise=item.options["check_exception"])
        if failure:
            item.raise_cell_error(failure)
    return result
