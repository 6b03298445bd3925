"""The state of one user's work: the store in use, its open handles, and the tracker.

The extension owns one session from ``%load_ext`` to ``%unload_ext`` (as IPython's autoreload
owns its reloader) and makes it the current one; ``mm.*`` outside a notebook uses a default one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import config

if TYPE_CHECKING:  # imported when first used: ``%load_ext`` must not pay for SQLAlchemy
    from .store import Store
    from .tracking.tracker import Tracker


class Session:
    """Which store is in use (chosen, else ``MLOPS_MAGIC_STORE``, else ``./.mlops``), the stores
    opened so far, and the tracker (started on first use)."""

    def __init__(self):
        self._chosen: tuple[str, str | None] | None = None
        self._stores: dict[tuple[str, str | None], Store] = {}
        self._tracker: Tracker | None = None
        self.snapshot_limit_mb: float = config.SNAPSHOT_LIMIT_MB

    def choose_store(self, location: str, artifact_root: str | None = None) -> None:
        from .store import normalise_url

        self._chosen = (normalise_url(location), artifact_root)

    def store(self) -> Store:
        """The store in use; runs still being written in the background are written first."""
        from .store import Store, normalise_url

        if self._tracker is not None:
            self._tracker.wait()
        key = self._chosen or (normalise_url(config.store_location()), config.artifact_root())
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = Store(*key)
        return store

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            from .tracking.tracker import Tracker

            self._tracker = Tracker(self.store, self.snapshot_limit_mb)
        return self._tracker

    def set_snapshot_limit(self, megabytes: float) -> None:
        self.snapshot_limit_mb = megabytes
        if self._tracker is not None:
            self._tracker.snapshot_limit_bytes = int(megabytes * 2**20)

    def close(self) -> None:
        """Write what is pending, then close every store this session opened."""
        if self._tracker is not None:
            self._tracker.close()
        for store in self._stores.values():
            store.close()
        self._stores.clear()
