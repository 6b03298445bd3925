"""ipywidgets views of plain results. Each view also renders as static HTML and plain text.

Views never touch the store: they receive dataclasses and DataFrames from ``mlops_magic.api``.
"""
