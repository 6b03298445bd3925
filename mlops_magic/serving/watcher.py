"""Hot swap: the versions an endpoint serves, and a thread that follows its aliases in the store.

Requests read ``Slots.current`` once and keep that mapping to the end, so a swap (one reference
assignment, atomic) never changes the model under a request in flight. New versions are loaded
in the watcher thread, off the request path.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from .models import ServedVersion, load_version
from .router import Target, Variant


class Slots:
    """The loaded version behind each variant label (shadow included), replaced as a whole."""

    def __init__(self, store, target: Target):
        self.store = store
        self.target = target
        variants = [*target.variants, *([target.shadow] if target.shadow else [])]
        self.variants: dict[str, Variant] = {v.label: v for v in variants}
        self.current: dict[str, ServedVersion] = {
            label: load_version(store, target.name, version=v.version, alias=v.alias) for label, v in self.variants.items()
        }
        self.swaps = 0

    def refresh(self, on_swap: Callable[[str, ServedVersion, ServedVersion], None] | None = None) -> None:
        """Load the version each followed alias points at now, if it moved, and swap it in."""
        aliased = {label: v.alias for label, v in self.variants.items() if v.alias}
        if not aliased:
            return
        pointed = {alias: mv.version for mv in self.store.model_versions(self.target.name) for alias in mv.aliases}
        current = self.current
        moved = {label: pointed[alias] for label, alias in aliased.items() if alias in pointed and pointed[alias] != current[label].version}
        if not moved:
            return
        fresh = dict(current)
        for label, version in moved.items():
            fresh[label] = load_version(self.store, self.target.name, version=version)
        self.current = fresh
        self.swaps += len(moved)
        for label in moved:
            if on_swap:
                on_swap(label, current[label], fresh[label])


class AliasWatcher(threading.Thread):
    """Polls the store every ``interval`` seconds and swaps in versions whose alias moved."""

    def __init__(self, slots: Slots, interval: float = 0.5, on_swap=None):
        super().__init__(name="mlops-alias-watcher", daemon=True)
        self.slots = slots
        self.interval = interval
        self.on_swap = on_swap
        self._halt = threading.Event()
        self._last_error = ""

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.slots.refresh(self.on_swap)
            except Exception as exc:  # a bad version or a busy store must not stop the endpoint
                if str(exc) != self._last_error:
                    print(f"mlops-serving: alias check failed, still serving the current versions: {exc}", file=sys.stderr)
                self._last_error = str(exc)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
