"""Serving: a separate process (``python -m mlops_magic.serving``) answering HTTP for a registered model.

It must not import IPython, ipywidgets or matplotlib; the kernel side talks to it through ``manager``.
"""

import os

DEFAULT_WORKERS = 2 if (os.cpu_count() or 1) >= 2 else 1  # worker processes sharing the port, unless told otherwise
