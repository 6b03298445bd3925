"""Per-minute aggregates of the prediction log (counted from the rows already logged), and a
retention setting per model.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _task(conn, model: str, version: int) -> str:
    """As ``Run.task`` reads it: the run's ``mlops.task`` tag, else its last model's task."""
    run_id = conn.execute(sa.text("SELECT run_id FROM model_versions WHERE name = :m AND version = :v"), {"m": model, "v": version}).scalar()
    if run_id is None:
        return "classification"
    tag = conn.execute(sa.text("SELECT value FROM tags WHERE run_id = :r AND key = 'mlops.task'"), {"r": run_id}).scalar()
    tasks = conn.execute(sa.text("SELECT task FROM run_models WHERE run_id = :r"), {"r": run_id}).scalars().all()
    return tag or (tasks[-1] if tasks else None) or "classification"


def _backfill(conn) -> None:
    floor = "CAST({} AS INTEGER)" if conn.dialect.name == "sqlite" else "CAST(FLOOR({}) AS INTEGER)"
    for model, version in conn.execute(sa.text("SELECT DISTINCT model, version FROM predictions")).all():
        regression = _task(conn, model, version) == "regression"
        error = "(CAST(p.output AS FLOAT) - CAST(p.label AS FLOAT))"
        if regression:
            keyed = "'' AS output, '' AS label, -1 AS bin, 0.0 AS confidence"
            sums = (
                f"CASE WHEN p.label IS NULL THEN 0.0 ELSE {error} * {error} END AS e2, "
                f"CASE WHEN p.label IS NULL THEN 0.0 ELSE ABS({error}) END AS ae, "
                "CASE WHEN p.label IS NULL THEN 0.0 ELSE CAST(p.label AS FLOAT) END AS l1, "
                "CASE WHEN p.label IS NULL THEN 0.0 ELSE CAST(p.label AS FLOAT) * CAST(p.label AS FLOAT) END AS l2"
            )
        else:
            keyed = (
                "p.output AS output, COALESCE(p.label, '') AS label, "
                f"CASE WHEN p.confidence IS NULL THEN -1 ELSE {floor.format('p.confidence * 100')} END AS bin, "
                "COALESCE(p.confidence, 0.0) AS confidence"
            )
            sums = "0.0 AS e2, 0.0 AS ae, 0.0 AS l1, 0.0 AS l2"
        rows = (
            f"SELECT p.model AS model, {floor.format('COALESCE(c.time, p.time) / 60')} AS bucket, p.version AS version, "
            "COALESCE(p.variant, '') AS variant, p.shadow AS shadow, p.label IS NOT NULL AS labelled, "
            f"{keyed}, {sums} "
            "FROM predictions p LEFT JOIN predictions c "
            "ON p.shadow AND c.prediction_id = SUBSTR(p.prediction_id, 1, LENGTH(p.prediction_id) - 2) "
            "WHERE p.model = :model AND p.version = :version"
        )
        conn.execute(
            sa.text(
                "INSERT INTO prediction_aggregates (model, bucket, version, variant, shadow, labelled, output, label, bin, "
                "n, sum_confidence, sum_error2, sum_abs_error, sum_label, sum_label2) "
                "SELECT model, bucket, version, variant, shadow, labelled, output, label, bin, "
                f"COUNT(*), SUM(confidence), SUM(e2), SUM(ae), SUM(l1), SUM(l2) FROM ({rows}) r "
                "GROUP BY model, bucket, version, variant, shadow, labelled, output, label, bin"
            ),
            {"model": model, "version": version},
        )


def upgrade() -> None:
    op.create_table(
        "prediction_aggregates",
        sa.Column("model", sa.String(255), primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("variant", sa.String(255), primary_key=True),
        sa.Column("shadow", sa.Boolean, primary_key=True),
        sa.Column("labelled", sa.Boolean, primary_key=True),
        sa.Column("output", sa.Text, primary_key=True),
        sa.Column("label", sa.Text, primary_key=True),
        sa.Column("bin", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("sum_confidence", sa.Float, nullable=False),
        sa.Column("sum_error2", sa.Float, nullable=False),
        sa.Column("sum_abs_error", sa.Float, nullable=False),
        sa.Column("sum_label", sa.Float, nullable=False),
        sa.Column("sum_label2", sa.Float, nullable=False),
    )
    op.create_table(
        "prediction_retention",
        sa.Column("model", sa.String(255), primary_key=True),
        sa.Column("keep", sa.String(32)),
        sa.Column("keep_seconds", sa.Float),
        sa.Column("keep_rows", sa.Integer),
        sa.Column("thinned_before", sa.Float),
    )
    _backfill(op.get_bind())
