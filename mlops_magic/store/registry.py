"""Registered models in the store: integer versions tied to runs, aliases, and the alias history."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select

from ..errors import NotFoundError
from . import schema as s


@dataclass
class ModelVersion:
    """Version ``version`` of model ``name``: the model ``variable`` saved by run ``run_id``."""

    name: str
    version: int
    run_id: str
    variable: str
    created_at: float
    aliases: list[str]


class RegistryStore:
    """Mixin of ``Store``: model names, versions, aliases and who moved them when."""

    def add_model_version(self, name: str, run_id: str, variable: str) -> int:
        """Register a new version of ``name`` (created on first use); return its number."""
        with self.db.writing() as conn:
            if conn.execute(select(s.registered_models.c.name).where(s.registered_models.c.name == name)).first() is None:
                conn.execute(s.registered_models.insert().values(name=name, created_at=time.time()))
            latest = conn.execute(select(func.max(s.model_versions.c.version)).where(s.model_versions.c.name == name)).scalar()
            version = (latest or 0) + 1
            conn.execute(
                s.model_versions.insert().values(name=name, version=version, run_id=run_id, variable=variable, created_at=time.time())
            )
        return version

    def set_alias(self, name: str, alias: str, version: int, user: str, reason: str | None = None) -> int | None:
        """Point ``alias`` of ``name`` at ``version``, record the move; return the previous version."""
        with self.db.writing() as conn:
            if conn.execute(
                select(s.model_versions.c.version).where(s.model_versions.c.name == name, s.model_versions.c.version == version)
            ).first() is None:
                raise NotFoundError(f"model {name!r} has no version {version}: see %mlops_models.")
            previous = conn.execute(
                select(s.aliases.c.version).where(s.aliases.c.name == name, s.aliases.c.alias == alias)
            ).scalar()
            if previous is None:
                conn.execute(s.aliases.insert().values(name=name, alias=alias, version=version))
            else:
                conn.execute(s.aliases.update().where(s.aliases.c.name == name, s.aliases.c.alias == alias).values(version=version))
            conn.execute(
                s.alias_history.insert().values(
                    name=name, alias=alias, from_version=previous, to_version=version, user=user, time=time.time(), reason=reason
                )
            )
        return previous

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
