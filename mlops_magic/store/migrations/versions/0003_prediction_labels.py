"""Feedback labels move from the ``feedback`` table onto the prediction rows they label.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("label", sa.Text))
        batch.add_column(sa.Column("label_time", sa.Float))
    op.execute(
        "UPDATE predictions SET "
        "label = (SELECT f.label FROM feedback f WHERE f.prediction_id = predictions.prediction_id), "
        "label_time = (SELECT f.time FROM feedback f WHERE f.prediction_id = predictions.prediction_id) "
        "WHERE prediction_id IN (SELECT prediction_id FROM feedback)"
    )
    op.drop_table("feedback")
