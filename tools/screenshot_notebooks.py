"""Run tutorials in JupyterLab (or Notebook 7) in headless Chromium and save screenshots, to look at them as a user does.

    python tools/screenshot_notebooks.py notebooks/01-track-experiments.ipynb [...] --out screenshots/ [--dark] [--notebook7]

Needs Debian's ``chromium`` (/usr/bin/chromium) and the ``playwright`` Python package; no browser
is downloaded. The server and browser start as the UI tests start them (``tests/ui/jupyter.py``);
cell virtualisation is off, so one tall screenshot holds the whole notebook.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ui.jupyter import dark_theme, launch_browser, open_notebook, run_all_above_last, run_last, start_server, wait_idle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--height", type=int, default=7000, help="window height: tall enough for the whole notebook")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for a notebook to finish")
    parser.add_argument("--dark", action="store_true", help="JupyterLab's dark theme")
    parser.add_argument("--notebook7", action="store_true", help="Notebook 7 instead of JupyterLab")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="screenshots-"))
    for notebook in args.notebooks:
        shutil.copy(notebook, root / notebook.name)
    server = start_server(root)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": args.height})
            for notebook in args.notebooks:
                route = "notebooks" if args.notebook7 else "lab/tree"
                open_notebook(page, f"{server.url}/{route}/{notebook.name}" + ("" if args.notebook7 else "?reset"))
                if args.dark:
                    dark_theme(page)
                run_all_above_last(page)
                wait_idle(page, args.wait)
                page.wait_for_timeout(1500)
                out = args.out / f"{notebook.stem}{'-dark' if args.dark else ''}.png"
                page.screenshot(path=str(out), full_page=True)
                run_last(page)
                wait_idle(page, 60)
                print(out)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
