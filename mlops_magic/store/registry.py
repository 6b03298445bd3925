"""Registered models in the store: integer versions tied to runs, aliases, and the alias history."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from ..errors import NotFoundError
from . import schema as s
from .loop import write_event


@dataclass
class ModelVersion:
    """Version ``version`` of model ``name``: the model ``variable`` saved by run ``run_id``."""

    name: str
    version: int
    run_id: str
    variable: str
    created_at: float
    aliases: list[str]


class RegistryWrite:
    """The registry of one model inside one write transaction that holds that model's lock.

    Whatever is read here (the champion an alias points at, the versions) stays true until the
    transaction commits, so a decision taken on it (a promotion's gates) cannot be overtaken.
    """

    def __init__(self, conn: Connection, name: str):
        self.conn, self.name = conn, name
        self._lock()

    def _lock(self) -> None:
        """Lock the model's row (created if new): SQLite's BEGIN IMMEDIATE holds the whole store
        already; on other backends SELECT ... FOR UPDATE makes concurrent promotions of this model wait."""
        locked = select(s.registered_models.c.name).where(s.registered_models.c.name == self.name).with_for_update()
        if self.conn.execute(locked).first() is not None:
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(s.registered_models.insert().values(name=self.name, created_at=time.time()))
        except IntegrityError:  # another transaction created it first: wait for its lock
            self.conn.execute(locked).one()

    def alias_target(self, alias: str) -> ModelVersion | None:
        """The version ``alias`` points at now, or None."""
        v = s.model_versions
        row = self.conn.execute(
            select(v).join(s.aliases, (s.aliases.c.name == v.c.name) & (s.aliases.c.version == v.c.version))
            .where(s.aliases.c.name == self.name, s.aliases.c.alias == alias)
        ).first()
        return None if row is None else ModelVersion(row.name, row.version, row.run_id, row.variable, row.created_at, [alias])

    def version_of(self, run_id: str, variable: str) -> int | None:
        """The version already registered for model ``variable`` of run ``run_id``, if any."""
        v = s.model_versions
        return self.conn.execute(select(v.c.version).where(v.c.name == self.name, v.c.run_id == run_id, v.c.variable == variable)).scalar()

    def add_version(self, run_id: str, variable: str) -> int:
        """Register a new version (the next number), with its ``model_version.created`` event; return it."""
        latest = self.conn.execute(select(func.max(s.model_versions.c.version)).where(s.model_versions.c.name == self.name)).scalar()
        version = (latest or 0) + 1
        self.conn.execute(
            s.model_versions.insert().values(name=self.name, version=version, run_id=run_id, variable=variable, created_at=time.time())
        )
        write_event(self.conn, "model_version.created", self.name, version=version, run_id=run_id, detail={"variable": variable})
        return version

    def set_alias(self, alias: str, version: int, user: str, reason: str | None = None, forced: bool = False, **context: Any) -> int | None:
        """Point ``alias`` at ``version`` and record the move (history and ``model_version_alias.created``
        event; ``forced``: past a failed gate; ``context``: how it was made, e.g. the gates passed, kept in
        the event's detail); return the version it pointed at before."""
        run_id = self.conn.execute(
            select(s.model_versions.c.run_id).where(s.model_versions.c.name == self.name, s.model_versions.c.version == version)
        ).scalar()
        if run_id is None:
            raise NotFoundError(f"model {self.name!r} has no version {version}: see %mlops_models.")
        where = (s.aliases.c.name == self.name) & (s.aliases.c.alias == alias)
        previous = self.conn.execute(select(s.aliases.c.version).where(where)).scalar()
        if previous is None:
            self.conn.execute(s.aliases.insert().values(name=self.name, alias=alias, version=version))
        else:
            self.conn.execute(s.aliases.update().where(where).values(version=version))
        self.conn.execute(
            s.alias_history.insert().values(
                name=self.name, alias=alias, from_version=previous, to_version=version, user=user, time=time.time(), reason=reason
            )
        )
        detail = {"alias": alias, "from_version": previous, "forced": forced, "user": user, "reason": reason, **context}
        write_event(self.conn, "model_version_alias.created", self.name, version=version, run_id=run_id, detail=detail)
        return previous


class RegistryStore:
    """Mixin of ``Store``: model names, versions, aliases and who moved them when."""

    @contextlib.contextmanager
    def registry_write(self, name: str) -> Iterator[RegistryWrite]:
        """One write transaction on model ``name``'s registry, holding its lock: all of it is
        committed, or (on any error, a refused gate included) none of it."""
        with self.db.writing() as conn:
            yield RegistryWrite(conn, name)

    def model_names(self) -> list[str]:
        with self.db.reading() as conn:
            return list(conn.execute(select(s.registered_models.c.name).order_by(s.registered_models.c.name)).scalars())

    def model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first, with the aliases that point at each."""
        with self.db.reading() as conn:
            rows = conn.execute(select(s.model_versions).where(s.model_versions.c.name == name).order_by(s.model_versions.c.version)).all()
            alias_rows = conn.execute(select(s.aliases.c.alias, s.aliases.c.version).where(s.aliases.c.name == name)).all()
        if not rows:
            raise NotFoundError(f"no registered model {name!r}: promote a run first with %mlops_promote.")
        by_version: dict[int, list[str]] = {}
        for alias, version in alias_rows:
            by_version.setdefault(version, []).append(alias)
        return [
            ModelVersion(r.name, r.version, r.run_id, r.variable, r.created_at, sorted(by_version.get(r.version, [])))
            for r in rows
        ]

    def model_version(self, name: str, version: int | None = None, alias: str | None = None) -> ModelVersion:
        """One version of ``name``, by number, by alias, or else the latest."""
        versions = self.model_versions(name)
        if alias is not None:
            found = [v for v in versions if alias in v.aliases]
            if not found:
                known = sorted({a for v in versions for a in v.aliases})
                raise NotFoundError(f"model {name!r} has no alias {alias!r} (it has: {', '.join(known) or 'none'}).")
            return found[0]
        if version is not None:
            found = [v for v in versions if v.version == version]
            if not found:
                raise NotFoundError(f"model {name!r} has no version {version} (latest is {versions[-1].version}).")
            return found[0]
        return versions[-1]

    def alias_history_frame(self, name: str | None = None):
        """Every alias move (of ``name``) as a DataFrame, oldest first."""
        import pandas as pd

        query = select(s.alias_history).order_by(s.alias_history.c.event_id)
        if name is not None:
            query = query.where(s.alias_history.c.name == name)
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in s.alias_history.columns])
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame
