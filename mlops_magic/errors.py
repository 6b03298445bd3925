"""Named errors a user can act on: each carries a one-line message that says the problem and the fix.

The magics and the command line show these as one line, never a traceback.
"""


class MLOpsError(Exception):
    """Base of every error mlops_magic reports to the user."""


class StoreError(MLOpsError):
    """The store cannot be opened, read or written."""


class ConflictError(StoreError):
    """A write the database refused because it clashes with what the store holds (a duplicate key)."""


class NotFoundError(MLOpsError):
    """A run, experiment, model, version or alias that does not exist."""


class IntegrityError(MLOpsError):
    """An artifact whose content does not match the sha256 recorded for it."""


class InvalidInputError(MLOpsError):
    """Arguments or data that cannot be used as given."""


class GateError(MLOpsError):
    """A promotion refused by a quality gate."""


class ServingError(MLOpsError):
    """A serving process that cannot be started, reached or stopped."""


class ReplayError(MLOpsError):
    """A run's recipe that failed, or took too long, when executed again."""


class MetricError(MLOpsError):
    """A defined metric that cannot be computed: its function raised or returned no number."""
