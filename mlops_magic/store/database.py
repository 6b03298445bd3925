"""Connecting to the store's database: engine set-up, transactions, schema creation and migration.

SQLite is the default: WAL journal (readers never block the writer), a busy timeout, and
``BEGIN IMMEDIATE`` for write transactions, so several processes (kernel, serving process,
retraining job) write at once without losing a write. Other SQLAlchemy URLs get plain transactions.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..errors import ConflictError, StoreError
from . import schema

BUSY_TIMEOUT_MS = 30_000
SCHEMA_LOCK_KEY = 0x6D6C6F7073  # PostgreSQL advisory lock held while a store is created or migrated


def _prepare_sqlite(engine: Engine) -> None:
    """Pragmas on every new connection; we emit BEGIN ourselves so writes can take IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver must not issue its own BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection):
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, create its folder and apply the pragmas."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1] if "///" in url else ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _prepare_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def fetch_tuples(conn: Connection, query) -> list[tuple]:
    """All rows of ``query`` as the driver's plain tuples: for bulk reads, where building a
    SQLAlchemy ``Row`` per row would cost more than the query (columns must need no type conversion)."""
    return conn.execute(query).cursor.fetchall()


class Database:
    """One store database: schema kept at ``SCHEMA_VERSION``, reads and writes in transactions."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = make_engine(url)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open store {url!r}: {exc}. Check the URL (MLOPS_MAGIC_STORE).") from exc
        is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE") if is_sqlite else self.engine
        self._ensure_schema()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot, never half of someone's write."""
        with self._errors(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction: committed whole on success, rolled back whole on error."""
        with self._errors(), self._write_engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StoreError(f"store {self.url!r} is unavailable: {exc.orig}") from exc
        except sqlalchemy_exc.IntegrityError as exc:
            raise ConflictError(f"store {self.url!r} refused a write that clashes with what it holds: {exc.orig}") from exc
        except sqlalchemy_exc.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            raise StoreError(
                f"store {self.url!r} cannot be read: {exc.orig}. It was left as it is: point the store at another folder, "
                "or restore this file from a copy."
            ) from exc

    def _ensure_schema(self) -> None:
        """Create a fresh store, or migrate an older one, before anything else touches it.

        An up-to-date store costs one read (Alembic is not even imported). Creating or migrating
        happens in one write transaction that first takes the store's lock, so two processes
        opening a new or old store at once create or migrate it once, and the other waits.
        """
        if self._stored_version() == schema.SCHEMA_VERSION:
            return
        with self.writing() as conn:
            if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already holds the lock
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            found = self._stored_version(conn)
            if found == schema.SCHEMA_VERSION:
                return  # another process finished while we waited for the lock
            if found is not None and found > schema.SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.url!r} has schema version {found}, newer than this mlops_magic "
                    f"understands ({schema.SCHEMA_VERSION}): upgrade mlops_magic."
                )
            from . import migrations

            if found is None:
                schema.metadata.create_all(conn)
                conn.execute(
                    schema.store_info.insert(),
                    [
                        {"key": "schema_version", "value": str(schema.SCHEMA_VERSION)},
                        {"key": "created_at", "value": repr(time.time())},
                    ],
                )
                migrations.stamp_head(conn)
                return
            migrations.upgrade(conn, legacy=not inspect(conn).has_table("alembic_version"))
            conn.execute(
                schema.store_info.update()
                .where(schema.store_info.c.key == "schema_version")
                .values(value=str(schema.SCHEMA_VERSION))
            )

    def _stored_version(self, conn: Connection | None = None) -> int | None:
        """The schema version the store records, or None for a store not created yet."""
        query = select(schema.store_info.c.value).where(schema.store_info.c.key == "schema_version")
        if conn is None:
            try:
                with self.reading() as reader:
                    value = reader.execute(query).scalar()
            except (StoreError, SQLAlchemyError):
                return None  # no store_info table yet; an unreachable database fails again when written
        else:
            value = conn.execute(query).scalar() if inspect(conn).has_table("store_info") else None
        return None if value is None else int(value)

    def dispose(self) -> None:
        self.engine.dispose()
