"""Serving: a separate process (``python -m mlops_magic.serving``) answering HTTP for a registered model.

It must not import IPython, ipywidgets or matplotlib; the kernel side talks to it through ``manager``.
"""
