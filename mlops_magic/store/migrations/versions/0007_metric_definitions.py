"""Domain metrics: their definitions, and the slice a policy (and its alerts) watch.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_definitions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("better", sa.String(8), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("time", sa.Float, nullable=False),
    )
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("slice", sa.Text))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("slice", sa.Text))
