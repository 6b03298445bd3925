"""Where the store lives: ``MLOPS_MAGIC_STORE`` / ``MLOPS_MAGIC_ARTIFACTS``, else ``./.mlops/``.

In a notebook ``%config MLOpsMagic.store = "postgresql+psycopg://..."`` sets the same thing
(the magics' ``store`` trait calls ``api.set_store``).
"""

import os

STORE_ENV = "MLOPS_MAGIC_STORE"
ARTIFACTS_ENV = "MLOPS_MAGIC_ARTIFACTS"
DEFAULT_FOLDER = ".mlops"


def store_location() -> str:
    """A SQLAlchemy URL or a folder for ``store.db``, from the environment or the default."""
    return os.environ.get(STORE_ENV) or DEFAULT_FOLDER


def artifact_root() -> str | None:
    return os.environ.get(ARTIFACTS_ENV) or None

SNAPSHOT_LIMIT_MB = 200  # a run keeps its whole training and eval data, for replays, up to this size
