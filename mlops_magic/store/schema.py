"""The store's tables (SQLAlchemy Core) and its schema version.

Plain types only (no SQLite-only SQL), so any SQLAlchemy URL holds the same schema. JSON-shaped
values (profiles, schemas, environments) are stored as text the store encodes and decodes.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

# The number of the newest migration (``migrations/versions/``): a change here needs a new one there.
SCHEMA_VERSION = 8

metadata = MetaData()

store_info = Table(
    "store_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # running | finished | failed | interrupted
    Column("start_time", Float, nullable=False),
    Column("duration_s", Float),
    Column("source", Text),  # the cell's code
    Column("notebook", Text),
    Column("execution_count", Integer),
    Column("provenance", Text),  # JSON: upstream cells, out-of-order flag
    Column("environment", Text),  # JSON: python, platform, packages, git
    Column("error", Text),  # traceback of a failed run
    Column("warnings", Text),  # JSON list of tracking warnings
    Column("recipe", Text),  # JSON: the cell, the earlier cells it needs, its inputs (tracking/recipe.py)
    Column("parent_run_id", String(32)),  # the run this one replays, if it is a replay
)
Index("ix_runs_experiment_start", runs.c.experiment_id, runs.c.start_time)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Float, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

run_models = Table(
    "run_models",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("variable", String(255), primary_key=True),  # the name the cell bound it to
    Column("class_name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("trusted_types", Text, nullable=False),  # JSON list recorded at save time
    Column("task", String(32)),  # classification | regression | other
)

datasets = Table(
    "datasets",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("role", String(16), primary_key=True),  # train | eval
    Column("variable", String(255)),
    Column("digest", String(64), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("columns", Text, nullable=False),  # JSON {column: dtype}
    Column("target", String(255)),
    Column("sample_sha256", String(64)),  # a seeded uniform sample of at most 5,000 rows (parquet artifact)
    Column("snapshot_sha256", String(64)),  # the whole frame (parquet), under the snapshot size limit
)

# Per-column profiles, kept once per data digest: runs over the same data share one.
data_profiles = Table(
    "data_profiles",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("profile", Text, nullable=False),  # JSON {column: profile}
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("created_at", Float, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(255), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("variable", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
)

aliases = Table(
    "aliases",
    metadata,
    Column("name", String(255), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("user", String(255), nullable=False),
    Column("time", Float, nullable=False),
    Column("reason", Text),
)

deployments = Table(
    "deployments",
    metadata,
    Column("name", String(255), primary_key=True),  # the served model name
    Column("target", Text, nullable=False),  # JSON: alias/version routing, split, shadow
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float),
)

predictions = Table(
    "predictions",
    metadata,
    Column("prediction_id", String(36), primary_key=True),
    Column("time", Float, nullable=False),
    Column("model", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("variant", String(255)),  # A/B variant (alias) or None
    Column("shadow", Boolean, nullable=False, default=False),
    Column("inputs", Text, nullable=False),  # JSON row {column: value}
    Column("output", Text, nullable=False),  # JSON value
    Column("latency_ms", Float, nullable=False),
    # A classifier's probability for the class it answered (None for regressors): the confidence
    # estimate of unlabelled windows is then an aggregate, like every other monitoring figure.
    Column("confidence", Float),
    # Ground truth sent later to /feedback, kept on the row it labels: monitoring aggregates
    # millions of rows, and a join per row would cost more than the aggregate itself.
    Column("label", Text),  # JSON value, None until feedback comes
    Column("label_time", Float),
)
Index("ix_predictions_model_time", predictions.c.model, predictions.c.time)
Index("ix_predictions_answered", predictions.c.model, predictions.c.shadow, predictions.c.time)  # windows of answered rows

# Per-minute aggregates of the prediction log, kept by every write to it (``store/aggregates.py``):
# time windows are summed from these, so a dashboard over millions of rows reads thousands, and
# they outlive the raw rows a retention setting thins. Keys are never NULL (a primary key cannot
# be in PostgreSQL): "" stands for no variant, no label, or a regressor's output; -1 for no confidence.
prediction_aggregates = Table(
    "prediction_aggregates",
    metadata,
    Column("model", String(255), primary_key=True),
    Column("bucket", Integer, primary_key=True),  # floor(arrival time / BUCKET_S); a shadow row's arrival is its prediction's
    Column("version", Integer, primary_key=True),
    Column("variant", String(255), primary_key=True),
    Column("shadow", Boolean, primary_key=True),
    Column("labelled", Boolean, primary_key=True),
    Column("output", Text, primary_key=True),  # JSON value of a classifier's answer
    Column("label", Text, primary_key=True),  # JSON value of a classifier's label
    Column("bin", Integer, primary_key=True),  # floor(confidence * CONFIDENCE_BINS)
    Column("n", Integer, nullable=False),
    Column("sum_confidence", Float, nullable=False),
    Column("sum_error2", Float, nullable=False),  # a regressor's labelled rows: sums of errors and labels
    Column("sum_abs_error", Float, nullable=False),
    Column("sum_label", Float, nullable=False),
    Column("sum_label2", Float, nullable=False),
)

# How much of each model's prediction log is kept (``--keep 30d`` or a row count): older raw rows
# are deleted, whole buckets at a time; their aggregates stay, so the time windows still draw them.
prediction_retention = Table(
    "prediction_retention",
    metadata,
    Column("model", String(255), primary_key=True),
    Column("keep", String(32)),  # as the user wrote it: "30d" (a duration) or "1000000" (rows)
    Column("keep_seconds", Float),  # raw rows younger than this are kept ...
    Column("keep_rows", Integer),  # ... or this many of the newest answered rows
    Column("thinned_before", Float),  # raw rows that arrived before this time are gone (a bucket edge)
)

requests_log = Table(
    "requests_log",
    metadata,
    Column("request_id", Integer, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("model", String(255), nullable=False),
    Column("version", Integer),
    Column("status_code", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("n_rows", Integer, nullable=False),
)
Index("ix_requests_model_time", requests_log.c.model, requests_log.c.time)

policies = Table(
    "policies",
    metadata,
    Column("policy_id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(255), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("min_value", Float),
    Column("max_value", Float),
    Column("window", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    # What the policy does when crossed: retrain, then promote past the gate and the margin.
    Column("trigger", String(16), nullable=False, server_default="threshold"),  # threshold | drift
    Column("retrain", Boolean, nullable=False, server_default=false()),
    Column("gate", Text),  # conditions on the challenger's metrics, e.g. "accuracy >= 0.88"
    Column("min_improvement", Float, nullable=False, server_default="0"),  # over the champion, absolute
    Column("cooldown_s", Float, nullable=False, server_default="600"),
    Column("min_labelled", Integer, nullable=False, server_default="0"),
    Column("alias", String(255)),  # the alias a retrained version is promoted to
    Column("production_rows", String(32), nullable=False, server_default="all"),  # all | recent:N | none
    Column("slice", Text),  # a pandas query over the logged inputs the policy watches (None: every row)
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(255), nullable=False),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),  # threshold | drift
    Column("metric", String(64)),
    Column("value", Float),
    Column("threshold", Float),
    Column("window", Text),  # JSON: window bounds
    Column("message", Text, nullable=False),
    Column("policy_id", Integer),  # the policy that fired it (None for drift without a policy)
    Column("slice", Text),  # the slice of the policy that fired it
)

# The loop's lineage: every step (alert, retraining, gate, promotion, swap) as one event.
events = Table(
    "events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("event", String(64), nullable=False),  # MLflow's webhook event names where they exist
    Column("model", String(255)),
    Column("version", Integer),
    Column("run_id", String(32)),
    Column("alert_id", Integer),
    Column("policy_id", Integer),
    Column("job_id", Integer),
    Column("detail", Text),  # JSON
)
Index("ix_events_model_time", events.c.model, events.c.time)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(255), nullable=False),
    Column("policy_id", Integer),
    Column("alert_id", Integer),
    Column("status", String(16), nullable=False),  # running | promoted | refused | failed | killed
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("pid", Integer),
    Column("run_id", String(32)),  # the challenger the job trained
    Column("error", Text),
    Column("detail", Text),  # JSON: the scores of challenger and champion
)
Index("ix_jobs_model_started", jobs.c.model, jobs.c.started_at)

# One watcher per store and model: the row is its lock, kept alive by its heartbeat.
watchers = Table(
    "watchers",
    metadata,
    Column("model", String(255), primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("interval_s", Float, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("events", Text),  # JSON list of event names; None: every event
    Column("secret", Text),  # HMAC-SHA256 key of the signature header
    Column("created_at", Float, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", Integer, nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("delivered_at", Float),
    Column("last_error", Text),
)
Index("ix_deliveries_pending", webhook_deliveries.c.delivered_at, webhook_deliveries.c.next_attempt_at)

# Answers to the maturity questions no record can show (people and process): kept apart from the
# evidence, and never raising the level by themselves.
maturity_answers = Table(
    "maturity_answers",
    metadata,
    Column("question", String(64), primary_key=True),
    Column("answer", String(16), nullable=False),  # yes | partly | no
    Column("user", String(255), nullable=False),
    Column("time", Float, nullable=False),
)

# Metrics defined once per store (a scikit-learn metric with options, a cost or gain matrix, or a
# function whose source is kept), so every process computes the same thing.
metric_definitions = Table(
    "metric_definitions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # sklearn | matrix | function
    Column("spec", Text, nullable=False),  # JSON: the scorer and its options, the matrix and its labels, the function's inputs
    Column("source", Text),  # a function's source, with the imports it needs
    Column("better", String(8), nullable=False),  # higher | lower
    Column("user", String(255), nullable=False),
    Column("time", Float, nullable=False),
)
