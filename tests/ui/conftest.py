"""The UI tests' shared parts: one Jupyter server for both front ends, one browser, and the tutorials
run in it once per session, a few at a time, before any test looks at them.

Where no browser can be started the tests skip with one line, except under ``CI=true``, where that
fails. Screenshots go to ``test-output/ui/`` at the repository root (every run; git ignores it),
with the seconds each tutorial took in ``timings-tutorials.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from .jupyter import accept_dialog, browser_problem, busy, launch_browser, open_notebook, run_all_above_last, run_last, start_server, wait_idle

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TUTORIAL_TESTS = HERE / "test_tutorials_in_browser.py"
NOTEBOOKS = ROOT / "notebooks"
OUTPUT = ROOT / "test-output" / "ui"
# Every tutorial runs in JupyterLab and in Notebook 7; they start the longest first, a tutorial in both front ends before the next.
TUTORIALS = ["04-retrain-automatically", "05-maturity", "03-monitor", "02-promote-and-serve", "01-track-experiments", "06-domain-metrics"]
FRONTS = {"lab": TUTORIALS, "notebook": TUTORIALS}
AT_ONCE = 3  # tutorials running at the same time (2 cores: a kernel waiting on its serving process leaves room)
TIMEOUT_S = 420


@dataclass
class Tutorial:
    """A tutorial open in a page, run up to its clean-up cell (the last), with what the page logged."""

    front: str
    name: str
    page: object
    notebook: nbformat.NotebookNode
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def shot(self, label: str, locator=None) -> Path:
        """A PNG of ``locator`` (else the whole page) in ``test-output/ui/``."""
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{self.front}-{self.name}-{label}.png"
        (locator or self.page).screenshot(path=str(path), **({} if locator else {"full_page": True}))
        return path


def url_of(server, front: str, name: str) -> str:
    return f"{server.url}/lab/tree/{front}/{name}.ipynb?reset" if front == "lab" else f"{server.url}/notebooks/{front}/{name}.ipynb"


@pytest.fixture(scope="session")
def browser():
    problem = browser_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"UI tests need a browser under CI: {problem}")
        pytest.skip(f"no browser for the UI tests: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("tutorials")
    for front, names in FRONTS.items():  # a copy per front end: the same path would share one kernel
        (root / front).mkdir()
        for name in names:
            shutil.copy(NOTEBOOKS / f"{name}.ipynb", root / front / f"{name}.ipynb")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}  # the kernels import this tree
    running = start_server(root, home=tmp_path_factory.mktemp("jupyter"), env=env)
    yield running
    running.stop()


def new_page(browser, errors: list[str], dark: bool = False):
    page = browser.new_page(viewport={"width": 1280, "height": 2400}, color_scheme="dark" if dark else "light")
    page.on("console", lambda message: errors.append(f"console {message.type}: {message.text} (at {message.location.get('url')})") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    return page


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.path).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def wanted(session) -> set[tuple[str, str]]:
    """The (front end, tutorial) pairs the selected tests of ``TUTORIAL_TESTS`` look at (``-k`` runs fewer)."""
    return {(item.callspec.params["front"], item.callspec.params["name"]) for item in session.items
            if item.path == TUTORIAL_TESTS and hasattr(item, "callspec") and {"front", "name"} <= set(item.callspec.params)}  # fmt: skip


@pytest.fixture(scope="session")
def tutorials(request, browser, server) -> dict[tuple[str, str], Tutorial]:
    """The tutorials of ``FRONTS`` the selected tests need, run to their clean-up cell, ``AT_ONCE`` at
    a time; the clean-up cells run at the end of the session (they stop the serving processes)."""
    queue = sorted(wanted(request.session), key=lambda pair: (FRONTS[pair[0]].index(pair[1]), pair[0]))  # the longest first
    done: dict[tuple[str, str], Tutorial] = {}
    running: dict[tuple[str, str], Tutorial] = {}
    deadline = time.time() + TIMEOUT_S * 2
    while queue or running:
        while queue and len(running) < AT_ONCE:
            front, name = queue.pop(0)
            errors: list[str] = []
            page = new_page(browser, errors)
            tutorial = Tutorial(front, name, page, nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4), errors, time.time())
            open_notebook(page, url_of(server, front, name))
            run_all_above_last(page)
            running[front, name] = tutorial
        for key, tutorial in list(running.items()):
            accept_dialog(tutorial.page)
            if not busy(tutorial.page):
                tutorial.seconds = time.time() - tutorial.seconds
                done[key] = running.pop(key)
        if time.time() > deadline:
            raise TimeoutError(f"tutorials still running: {sorted(running)}")
        time.sleep(0.5)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "timings-tutorials.json").write_text(json.dumps({f"{f}-{n}": round(t.seconds, 1) for (f, n), t in done.items()}, indent=1))
    yield done
    for tutorial in done.values():
        run_last(tutorial.page)
    for tutorial in done.values():
        try:
            wait_idle(tutorial.page, 60)
        finally:
            tutorial.page.close()
