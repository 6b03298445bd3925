"""The loop: recipes and data snapshots of runs, policies that act, lineage events, retraining jobs,
watchers and webhooks; and an index for windows of answered predictions.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_predictions_answered", "predictions", ["model", "shadow", "time"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("recipe", sa.Text))
        batch.add_column(sa.Column("parent_run_id", sa.String(32)))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("snapshot_sha256", sa.String(64)))
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("trigger", sa.String(16), nullable=False, server_default="threshold"))
        batch.add_column(sa.Column("retrain", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("gate", sa.Text))
        batch.add_column(sa.Column("min_improvement", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("cooldown_s", sa.Float, nullable=False, server_default="600"))
        batch.add_column(sa.Column("min_labelled", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("alias", sa.String(255)))
        batch.add_column(sa.Column("production_rows", sa.String(32), nullable=False, server_default="all"))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("policy_id", sa.Integer))
    op.create_table(
        "events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255)),
        sa.Column("version", sa.Integer),
        sa.Column("run_id", sa.String(32)),
        sa.Column("alert_id", sa.Integer),
        sa.Column("policy_id", sa.Integer),
        sa.Column("job_id", sa.Integer),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_events_model_time", "events", ["model", "time"])
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("policy_id", sa.Integer),
        sa.Column("alert_id", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("pid", sa.Integer),
        sa.Column("run_id", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_jobs_model_started", "jobs", ["model", "started_at"])
    op.create_table(
        "watchers",
        sa.Column("model", sa.String(255), primary_key=True),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("interval_s", sa.Float, nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text),
        sa.Column("secret", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_deliveries_pending", "webhook_deliveries", ["delivered_at", "next_attempt_at"])
