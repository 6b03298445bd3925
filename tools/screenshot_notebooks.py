"""Run tutorials in JupyterLab in headless Chromium and save screenshots, to look at them as a user does.

    python tools/screenshot_notebooks.py notebooks/01-track-experiments.ipynb [...] --out screenshots/

Needs Debian's ``chromium`` (/usr/bin/chromium) and the ``playwright`` Python package; no browser
is downloaded. JupyterLab runs on a loopback port with virtual scrolling off, so one tall
screenshot holds the whole notebook.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(root: Path, port: int) -> subprocess.Popen:
    settings = Path(tempfile.mkdtemp())
    user_settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in user_settings.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={settings}",
               "--LabApp.news_url=None", "--allow-root"]
    env = {**__import__("os").environ, "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    lab = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(120):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return lab
        except OSError:
            time.sleep(0.5)
    lab.kill()
    raise RuntimeError("JupyterLab did not start")


def accept_dialog(page) -> None:
    """Take what an open dialog proposes (a lab that has not listed its kernels yet asks which to start)."""
    if page.locator(".jp-Dialog .jp-mod-accept").count():
        page.click(".jp-Dialog .jp-mod-accept")


def run_all(page) -> None:
    """Run > Run All Cells, until the last code cell is queued: a click before the kernel is ready runs nothing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    last_prompt = page.locator(".jp-CodeCell .jp-InputArea-prompt").last.element_handle()
    for _ in range(5):
        accept_dialog(page)
        page.click(".lm-MenuBar-item:has-text('Run')", timeout=10_000)
        page.click(".lm-Menu-item:has-text('Run All Cells')", timeout=10_000)
        try:
            page.wait_for_function("prompt => prompt.textContent.trim() !== '[ ]:'", arg=last_prompt, timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise RuntimeError("Run All Cells did not queue the notebook's cells")


def screenshot(page, url: str, out: Path, wait_s: float) -> None:
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    run_all(page)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if page.locator(".jp-InputArea-prompt:has-text('[*]')").count() == 0:
            break
        time.sleep(1)
    time.sleep(2)
    page.screenshot(path=str(out), full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--height", type=int, default=7000, help="window height: tall enough for the whole notebook")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for a notebook to finish")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = args.notebooks[0].resolve().parent
    port = free_port()
    lab = start_lab(root, port)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1300, "height": args.height})
            for notebook in args.notebooks:
                out = args.out / f"{notebook.stem}.png"
                screenshot(page, f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?reset", out, args.wait)
                print(out)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)


if __name__ == "__main__":
    main()
