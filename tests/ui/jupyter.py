"""One home for starting what the UI tests and ``tools/screenshot_notebooks.py`` drive: a Jupyter
server on a loopback port (JupyterLab at ``/lab``, Notebook 7 at ``/notebooks``) and Debian's
Chromium through Playwright (never a browser download), plus the page steps both need.

The server runs with no token on 127.0.0.1, from a folder of its own, with fresh ``JUPYTER_*``
configuration, data and runtime folders and JupyterLab settings that turn cell virtualisation off
(every cell is in the page, so one screenshot holds it) and the news and update checks off (no
internet).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]  # fmt: skip
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}
BUSY = ".jp-InputArea-prompt:has-text('[*]')"
# What the widget manager writes in place of a view it could not render.
WIDGET_FAILURES = ("Error displaying widget", "Model not found", "Loading widget...")
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}  # for a notebook a test writes: no kernel dialog
APP = "(window.jupyterapp || window.jupyterlab)"  # JupyterLab's or Notebook 7's application, exposed by the server's setting


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    root: Path
    runtime_dir: Path
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def kernel_connection_files(self) -> list[Path]:
        """The connection files of the kernels this server started, oldest first."""
        return sorted(self.runtime_dir.glob("kernel-*.json"), key=lambda p: p.stat().st_mtime)


def start_server(root: Path, home: Path | None = None, env: dict | None = None, timeout_s: float = 90) -> Server:
    """``jupyter lab`` serving ``root`` on a free loopback port; its own configuration under ``home``."""
    home = Path(tempfile.mkdtemp(prefix="jupyter-home-")) if home is None else home
    settings = home / "lab-settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    dirs = {name: home / name.lower() for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--ServerApp.token=",
               "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
               "--JupyterNotebookApp.expose_app_in_browser=True", "--allow-root"]  # fmt: skip
    environment = {**os.environ, **(env or {}), **{k: str(v) for k, v in dirs.items()}, "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    log = home / "server.log"
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=environment, cwd=root)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with status {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return Server(process, f"http://127.0.0.1:{port}", root, dirs["JUPYTER_RUNTIME_DIR"], log)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"jupyter lab did not listen on port {port} within {timeout_s:g} s")


def browser_problem() -> str | None:
    """Why no browser can be started here, or None."""
    if not CHROMIUM.exists():
        return f"no {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def launch_browser(playwright):
    """Chromium, headless; Playwright gives each launch a fresh user-data folder."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)


# --- steps on a notebook page (JupyterLab and Notebook 7 share these widgets) ------------------------


def open_notebook(page, url: str) -> None:
    """Open a notebook and wait until it is loaded and its kernel is ready."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(f"() => {APP} && {APP}.shell.currentWidget && {APP}.shell.currentWidget.sessionContext", timeout=60_000)
    accept_dialog(page)
    page.evaluate(f"""async () => {{ const panel = {APP}.shell.currentWidget;
        await panel.context.ready; await panel.sessionContext.ready; }}""")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus", timeout=60_000)


def accept_dialog(page) -> None:
    """Take what an open dialog proposes (a lab that has not listed its kernels yet asks which to start)."""
    if page.locator(".jp-Dialog .jp-mod-accept").count():
        page.click(".jp-Dialog .jp-mod-accept")


def select_cell(page, index: int, kind: str = ".jp-Cell") -> None:
    """Make cell ``index`` of those of ``kind`` (negative counts from the end) the active one, in command
    mode (through the app the server exposes: a click can land while the notebook still settles)."""
    page.evaluate(
        """([index, kind]) => {
            const notebook = APP.shell.currentWidget.content;
            const cells = [...notebook.node.querySelectorAll('.jp-Cell')];
            const chosen = cells.filter(cell => cell.matches(kind));
            notebook.activeCellIndex = cells.indexOf(chosen[index < 0 ? chosen.length + index : index]);
            notebook.mode = 'command';
        }""".replace("APP", APP),
        [index, kind],
    )


def run_all_above_last(page, timeout_s: float = 120) -> None:
    """Run every cell above the last code cell (the tutorials' clean-up), as Run > Run All Above
    Selected Cell does, and wait until the first code cell is queued (not until the cells have run:
    the command's promise, which ``evaluate`` would wait for, settles then)."""
    select_cell(page, -1, ".jp-CodeCell")
    page.evaluate(f"() => {{ {APP}.commands.execute('notebook:run-all-above'); }}")
    page.wait_for_function(r"() => !/^\[\s*\]:$/.test(document.querySelector('.jp-CodeCell .jp-InputArea-prompt').textContent.trim())",
                           timeout=timeout_s * 1000)  # fmt: skip


def timed_cell(page, index: int, drawn: str, timeout_s: float = 300) -> float:
    """Run code cell ``index``; the seconds until ``drawn`` shows in its output (then wait until it is idle)."""
    select_cell(page, index, ".jp-CodeCell")
    started = time.perf_counter()
    page.evaluate(f"() => {APP}.commands.execute('notebook:run-cell')")
    page.locator(".jp-Notebook .jp-CodeCell").nth(index).locator(drawn).first.wait_for(timeout=timeout_s * 1000)
    seconds = time.perf_counter() - started
    wait_idle(page, timeout_s)
    return seconds


def run_last(page) -> None:
    """Start the last code cell (the tutorials' clean-up), as Run > Run Selected Cell does; ``wait_idle`` waits for it."""
    select_cell(page, -1, ".jp-CodeCell")
    page.evaluate(f"() => {{ {APP}.commands.execute('notebook:run-cell'); }}")


def busy(page) -> bool:
    return page.locator(BUSY).count() > 0


def wait_idle(page, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while busy(page):
        if time.time() > deadline:
            raise TimeoutError(f"cells still running after {timeout_s:g} s")
        page.wait_for_timeout(500)


def dark_theme(page, dark: bool = True) -> None:
    """Switch JupyterLab's (or Notebook 7's) theme, as Settings > Theme does, and wait for it."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate(f"theme => {APP}.commands.execute('apputils:change-theme', {{theme}})", theme)
    page.wait_for_function("dark => document.body.dataset.jpThemeLight === String(!dark)", arg=dark, timeout=20_000)


def kernel_of(page) -> str:
    """The id of the kernel of the notebook open in ``page``."""
    return page.evaluate(f"() => {APP}.shell.currentWidget.sessionContext.session.kernel.id")


def run_in_kernel(server: Server, kernel_id: str, code: str, expression: str = "None", timeout_s: float = 120) -> str:
    """Run ``code`` in a kernel the server started (as a second client, as a console attached to it
    would) and return ``repr`` of ``expression`` afterwards; raise on an error."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(server.runtime_dir / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        msg_id = client.execute(code, user_expressions={"value": expression}, store_history=False)
        deadline = time.time() + timeout_s
        while True:
            reply = client.get_shell_msg(timeout=max(1.0, deadline - time.time()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
        value = content["user_expressions"]["value"]
        if value["status"] != "ok":
            raise RuntimeError(f"{value.get('ename')}: {value.get('evalue')}")
        return value["data"]["text/plain"]
    finally:
        client.stop_channels()


def save(page) -> None:
    """File > Save, and wait until the file is written."""
    page.evaluate(f"() => {APP}.commands.execute('docmanager:save')")
    page.wait_for_function(f"() => !{APP}.shell.currentWidget.context.model.dirty", timeout=30_000)


HEAD, ROWS = "thead th", "tbody tr"  # of the runs grid (widgets/grid.js)


def column_values(grid, header: str) -> list[str]:
    """The values of one column on the runs grid's current page."""
    headers = grid.locator(HEAD).all_inner_texts()
    position = [h.strip() for h in headers].index(header)
    return grid.locator(f"{ROWS} td:nth-child({position + 1})").all_inner_texts()
