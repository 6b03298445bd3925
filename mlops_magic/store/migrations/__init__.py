"""Schema migrations with Alembic: every store is brought to the head revision when opened.

Revisions live in ``versions/``, one file per schema change, numbered ``0001``, ``0002``, ...; the
head's number is ``schema.SCHEMA_VERSION``, which the store also keeps in ``store_info`` so that an
up-to-date store opens without importing Alembic. Migrations only go forward: a store newer than
this mlops_magic is refused before anything is written. To change the schema, edit ``schema.py``,
add the next revision here (``down_revision`` = the previous head) and bump ``SCHEMA_VERSION``.

Stores written before migrations existed all say ``schema_version 1``, whatever the shape of their
tables (the schema changed twice under that number): ``legacy_revision`` tells their revision from
the tables themselves.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import SQLAlchemyError

from ...errors import StoreError

HERE = Path(__file__).parent


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def legacy_revision(conn: Connection) -> str:
    """The revision a store labelled ``schema_version 1`` (no Alembic version table) is really at."""
    inspector = inspect(conn)
    if "profile" in {c["name"] for c in inspector.get_columns("datasets")}:
        return "0001"  # the first schema: a profile column on each dataset row
    if inspector.has_table("feedback"):
        return "0002"  # profiles in data_profiles, feedback labels still in their own table
    if "confidence" not in {c["name"] for c in inspector.get_columns("predictions")}:
        return "0003"  # labels on the prediction rows
    return "0004"


def stamp_head(conn: Connection) -> None:
    """Record a store just created from ``schema.metadata`` as being at the head revision."""
    command.stamp(_config(conn), "head")


def upgrade(conn: Connection, legacy: bool) -> None:
    """Run every migration the store lacks, inside the caller's transaction (all or nothing)."""
    config = _config(conn)
    try:
        if legacy:
            command.stamp(config, legacy_revision(conn))
        command.upgrade(config, "head")
    except CommandError as exc:  # e.g. a revision this mlops_magic does not know: a newer store
        raise StoreError(f"cannot migrate the store: {exc}. Upgrade mlops_magic if the store is newer.") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"migrating the store failed, so it was left as it was: {exc.orig or exc}") from exc
