"""The only place that talks SQL or writes artifact files.

``Store`` joins the database (``database.py``) and the artifact files (``artifacts.py``); its
methods, grouped by concept in mixins (``runs.py``, ...), open one transaction each and return
plain records (``entities.py``) or DataFrames, never rows.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..config import DEFAULT_FOLDER, STORE_ENV
from ..errors import StoreError
from .artifacts import ArtifactStore
from .database import Database
from .deployments import DeploymentRecord, DeploymentsStore
from .entities import DatasetRecord, ModelRecord, Run
from .loop import Job, LoopStore
from .maturity import MaturityStore
from .metrics import MetricDefinition, MetricsStore
from .monitoring import MonitoringStore, Policy
from .predictions import PredictionsStore
from .registry import ModelVersion, RegistryStore
from .runs import RunsStore
from .webhooks import Webhook, WebhooksStore


def default_url(folder: str | os.PathLike = DEFAULT_FOLDER) -> str:
    return f"sqlite:///{Path(folder).resolve() / 'store.db'}"


def normalise_url(location: str) -> str:
    """A SQLAlchemy URL for ``location``: a URL as given, or a folder that will hold ``store.db``."""
    return location if "://" in location else default_url(location)


def default_artifact_root(url: str) -> Path:
    """Artifacts live beside a SQLite file; other databases keep them in ``./.mlops/artifacts``."""
    if url.startswith("sqlite") and "///" in url and not url.endswith(":memory:"):
        return Path(url.split("///", 1)[1]).parent / "artifacts"
    return Path(DEFAULT_FOLDER).resolve() / "artifacts"


class Store(RunsStore, RegistryStore, PredictionsStore, DeploymentsStore, MonitoringStore, LoopStore, WebhooksStore, MaturityStore, MetricsStore):
    """A store: a database at ``url`` and artifact files under ``artifact_root``."""

    def __init__(self, url: str, artifact_root: str | os.PathLike | None = None):
        self.url = normalise_url(url)
        self.db = Database(self.url)
        self.artifacts = ArtifactStore(artifact_root or default_artifact_root(self.url))
        with contextlib.suppress(StoreError):  # a store it cannot write now is marked by the next opening
            self.mark_interrupted()

    @property
    def safe_url(self) -> str:
        """The store's URL with its password shown as ``***``: what to print, log or put in a message."""
        return self.db.safe_url

    def for_a_process(self) -> tuple[list[str], dict[str, str]]:
        """What a process started from here needs to open this store: ``--artifacts ROOT`` for its command
        line, and an environment holding the URL as ``MLOPS_MAGIC_STORE`` (every user of the machine can
        read a command line, only its owner an environment: a password stays out of ``ps``)."""
        return ["--artifacts", str(self.artifacts.root)], {**os.environ, STORE_ENV: self.url}

    def __repr__(self) -> str:
        return f"Store({self.safe_url!r}, artifacts={str(self.artifacts.root)!r})"

    def close(self) -> None:
        self.db.dispose()


__all__ = ["Store", "Run", "ModelRecord", "DatasetRecord", "ModelVersion", "Policy", "MetricDefinition", "DeploymentRecord", "Job", "Webhook", "default_url", "normalise_url"]
