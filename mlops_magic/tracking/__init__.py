"""Tracking: what a cell (or an ``mm.run()`` block) produced, recorded as a run.

``cell.py`` runs a ``%%mlops_train`` cell, ``manual_run.py`` is ``mm.run()``; both fill a
``RunRecorder`` (``recorder.py``) that describes models, data and metrics and hands the run to the
background ``RunWriter`` (``writer.py``), which a ``Tracker`` (``tracker.py``) keeps per session.
"""
