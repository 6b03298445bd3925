"""Per-column profiles move from each dataset row to ``data_profiles``, one per data digest.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A later mlops_magic that opened this store before migrations existed created the table (empty).
    if not sa.inspect(op.get_bind()).has_table("data_profiles"):
        op.create_table(
            "data_profiles",
            sa.Column("digest", sa.String(64), primary_key=True),
            sa.Column("profile", sa.Text, nullable=False),
        )
    # Rows with one digest describe the same data, so any of their profiles is the profile.
    op.execute(
        "INSERT INTO data_profiles (digest, profile) SELECT digest, MIN(profile) FROM datasets "
        "WHERE digest NOT IN (SELECT digest FROM data_profiles) GROUP BY digest"
    )
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("profile")
