"""Connecting to the store's database: engine set-up, transactions, schema creation and migration.

SQLite is the default: WAL journal (readers never block the writer), a busy timeout, and
``BEGIN IMMEDIATE`` for write transactions, so several processes (kernel, serving process,
retraining job) write at once without losing a write. On PostgreSQL (or any other SQLAlchemy URL)
writes run at READ COMMITTED and reads at REPEATABLE READ, whatever the server's default, so a read
is one snapshot and a write that waited for a lock sees what the holder committed.

A URL's password is not shown: messages and ``repr``s name the store by ``safe_url``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, select, text
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import ConflictError, StoreError
from . import schema

BUSY_TIMEOUT_MS = 30_000
SCHEMA_LOCK_KEY = 0x6D6C6F7073  # PostgreSQL advisory lock held while a store is created or migrated


def safe_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` query option) shown as ``***``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def password_of(url: str) -> str | None:
    """The password ``url`` holds, if any (so a message that quotes it can be cleaned)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    found = parsed.password or parsed.query.get("password")
    return str(found) if isinstance(found, str) and found else None


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
    # READ COMMITTED by default (PostgreSQL's own default, set here in case a server says otherwise):
    # a write that waited for a row or advisory lock then sees what the holder committed.
    return create_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED")


def fetch_tuples(conn: Connection, query) -> list[tuple]:
    """All rows of ``query`` as the driver's plain tuples: for bulk reads, where building a
    SQLAlchemy ``Row`` per row would cost more than the query (columns must need no type conversion)."""
    return conn.execute(query).cursor.fetchall()


def insert_missing(conn: Connection, insert, present) -> None:
    """Run ``insert`` unless the row it adds is there already (``present``, a query, finds it).

    Safe when another writer adds the same row at this moment: SQLite's ``BEGIN IMMEDIATE`` keeps
    the other out; elsewhere (PostgreSQL) the losing insert fails inside its own savepoint, which is
    rolled back alone, and the transaction goes on. A clash on any other key is raised."""
    try:
        with conn.begin_nested():
            conn.execute(insert)
    except sqlalchemy_exc.IntegrityError:
        if conn.execute(present).first() is None:
            raise


class Database:
    """One store database: schema kept at ``SCHEMA_VERSION``, reads and writes in transactions."""

    def __init__(self, url: str):
        self.url, self.safe_url = url, safe_url(url)
        self._password = password_of(url)
        try:
            self.engine = make_engine(url)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(self.clean(f"cannot open store {self.safe_url!r}: {exc}. Check the URL (MLOPS_MAGIC_STORE).")) from exc
        is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE") if is_sqlite else self.engine
        # a read is one snapshot: a run's rows and its params, read by two statements, are of the same moment
        self._read_engine = self.engine if is_sqlite else self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._ensure_schema()

    def clean(self, message: str) -> str:
        """``message`` on one line and without the URL's password, should a driver's message quote it
        (PostgreSQL's come on several lines: the error, then ``DETAIL:`` and ``HINT:``)."""
        message = " ".join(line.strip() for line in message.splitlines() if line.strip())
        return message.replace(self._password, "***") if self._password else message

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot, never half of someone's write."""
        with self._errors(), self._read_engine.begin() as conn:
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
            raise StoreError(self.clean(f"store {self.safe_url!r} is unavailable: {exc.orig}")) from exc
        except sqlalchemy_exc.IntegrityError as exc:
            raise ConflictError(self.clean(f"store {self.safe_url!r} refused a write that clashes with what it holds: {exc.orig}")) from exc
        except sqlalchemy_exc.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            advice = "point the store at another folder, or restore this file from a copy" if self.engine.dialect.name == "sqlite" else "check the database"
            raise StoreError(self.clean(f"store {self.safe_url!r} cannot be read: {exc.orig}. It was left as it is: {advice}.")) from exc

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
                    f"store {self.safe_url!r} has schema version {found}, newer than this mlops_magic "
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
