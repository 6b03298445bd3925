"""Content-addressed artifact files: models (skops) and data samples (parquet), named by sha256.

A file's sha256 is checked before every load; a mismatch is refused, never loaded silently.
Models load with skops trusting exactly the types recorded when this store saved them.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, NotFoundError

_needed_types: dict[frozenset[str], list[str]] = {}  # model structure -> types skops must be told to trust


class ArtifactStore:
    """Files under ``root``, at ``ab/cdef...`` by their sha256."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Write ``data`` once (atomically: temp file, then rename) and return its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_of(sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return sha256

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, after checking they still hash to it."""
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"artifact {sha256[:12]} is missing from {self.root}: the store's files were moved or deleted.") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(
                f"artifact {path} was modified: sha256 is {actual[:12]}, the store recorded {sha256[:12]}. "
                "Refusing to load it; re-run the training cell to store a fresh copy."
            )
        return data

    def save_model(self, model: Any, types: frozenset[str] | None = None) -> tuple[str, int, list[str]]:
        """Serialise ``model`` with skops; return (sha256, size, the non-default types it needs).

        ``types``, the set of types the model is made of, lets a model of a structure saved
        before reuse the types skops reported then (asking skops costs as much as a third of a save).
        """
        import skops.io as sio

        data = sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        trusted = _needed_types.get(types) if types else None
        if trusted is None:
            trusted = sio.get_untrusted_types(data=data)
            if types:
                _needed_types[types] = trusted
        return self.put(data), len(data), trusted

    def load_model(self, sha256: str, trusted_types: list[str]) -> Any:
        """Load a model this store saved: hash checked first, then only its recorded types trusted."""
        import skops.io as sio

        data = self.get(sha256)
        try:
            return sio.loads(data, trusted=trusted_types)
        except Exception as exc:  # skops raises UntrustedTypesFoundException and friends
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IntegrityError(f"model artifact {self.path_of(sha256)} cannot be loaded safely: {first}") from exc

    def save_frame(self, frame) -> str:
        """Store a DataFrame as parquet; return its sha256."""
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, compression="zstd")
        return self.put(buffer.getvalue())

    def load_frame(self, sha256: str):
        import pandas as pd

        return pd.read_parquet(io.BytesIO(self.get(sha256)))
