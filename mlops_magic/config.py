"""Where the store lives: ``MLOPS_MAGIC_STORE`` / ``MLOPS_MAGIC_ARTIFACTS``, else ``./.mlops/``.

In a notebook ``%config MLOpsMagic.store = "postgresql+psycopg://..."`` sets the same thing
(the magics' ``store`` trait calls ``api.set_store``).
"""

import getpass
import os

STORE_ENV = "MLOPS_MAGIC_STORE"
ARTIFACTS_ENV = "MLOPS_MAGIC_ARTIFACTS"
DEFAULT_FOLDER = ".mlops"


def store_location() -> str:
    """A SQLAlchemy URL or a folder for ``store.db``, from the environment or the default."""
    return os.environ.get(STORE_ENV) or DEFAULT_FOLDER


def artifact_root() -> str | None:
    return os.environ.get(ARTIFACTS_ENV) or None


# The variables CI services set in their jobs, most specific first: what "made by a pipeline" means.
CI_VARIABLES = (("GITHUB_ACTIONS", "github"), ("GITLAB_CI", "gitlab"), ("JENKINS_URL", "jenkins"), ("BUILDKITE", "buildkite"), ("CIRCLECI", "circleci"), ("CI", "ci"))


def current_user() -> str:
    """Who acts, for the records: ``MLOPS_MAGIC_USER``, else the login name."""
    try:
        return os.environ.get("MLOPS_MAGIC_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def ci_provider() -> str | None:
    """The CI service this process runs under (``github``, ``gitlab``, ..., ``ci``), or None."""
    for variable, provider in CI_VARIABLES:
        if os.environ.get(variable, "").lower() not in ("", "0", "false", "no"):
            return provider
    return None


SNAPSHOT_LIMIT_MB = 200  # a run keeps its whole training and eval data, for replays, up to this size
