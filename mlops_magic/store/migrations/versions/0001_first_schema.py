"""The first schema, as the first mlops_magic created it (``schema_version 1``, before migrations).

Nothing to do: this revision names the starting point that stores of that schema are stamped
with, so the revisions after it bring them up to date.

Revision ID: 0001
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The tables already exist: the first mlops_magic created them with ``create_all``."""
