"""Maturity: the answers to the questions about people and process that no record shows.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maturity_answers",
        sa.Column("question", sa.String(64), primary_key=True),
        sa.Column("answer", sa.String(16), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("time", sa.Float, nullable=False),
    )
