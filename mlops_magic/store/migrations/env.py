"""Alembic's environment: migrations run on the connection (and inside the transaction) the store hands over."""

from alembic import context

from mlops_magic.store.schema import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters columns by copying the table: Alembic's batch mode
)
with context.begin_transaction():
    context.run_migrations()
