"""Content-addressed artifact files: models (skops) and data samples (parquet), named by sha256.

A file's sha256 is checked before every load; a mismatch is refused, never loaded silently.
Models load with skops trusting exactly the types recorded when this store saved them.

The root is a folder (shared by a team: a network mount), a ``file://`` URL (the same), or any URL
``fsspec`` knows, e.g. ``s3://bucket/prefix`` for S3 or an S3-compatible store (with ``s3fs``;
credentials and endpoint from the usual ``AWS_*`` variables). What belongs to one machine (the
serving processes' journals and output) stays in a local folder: beside a local root, else ``./.mlops``.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import IntegrityError, NotFoundError, StoreError

_needed_types: dict[frozenset[str], list[str]] = {}  # model structure -> types skops must be told to trust

LOCAL_FOLDER = ".mlops"  # a remote root's local side, as the store's default folder


def is_remote(root: str | os.PathLike) -> bool:
    """Whether ``root`` is a URL other than ``file://`` (so its files are reached through fsspec)."""
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


def root_of(root: str | os.PathLike) -> Path | str:
    """``root`` as a local folder (a path or a ``file://`` URL), or as the URL of a remote one."""
    if isinstance(root, str) and root.startswith("file://"):
        return Path(unquote(urlsplit(root).path))
    return root.rstrip("/") if is_remote(root) else Path(root)


def local_folder(root: str | os.PathLike) -> Path:
    """The folder of this machine's side of a store whose artifacts are at ``root``: beside them, or ``./.mlops``."""
    found = root_of(root)
    return Path(LOCAL_FOLDER).resolve() if isinstance(found, str) else found.parent


class ArtifactStore:
    """Files under ``root``, at ``ab/cdef...`` by their sha256."""

    def __init__(self, root: str | os.PathLike):
        self.root = root_of(root)
        self.local_folder = local_folder(root)
        self._fs = None
        if isinstance(self.root, str):
            try:
                import fsspec

                self._fs, _ = fsspec.core.url_to_fs(self.root)
            except (ImportError, ValueError) as exc:  # fsspec, or its backend (s3fs for s3://), not installed
                raise StoreError(f"cannot reach the artifact root {self.root}: {exc}. Install mlops_magic[team] (fsspec, s3fs).") from exc

    def path_of(self, sha256: str) -> Path | str:
        if self._fs is not None:
            return f"{self.root}/{sha256[:2]}/{sha256[2:]}"
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Write ``data`` once (atomically: temp file then rename, or one object upload) and return its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_of(sha256)
        if self._fs is not None:
            if not self._fs.exists(path):
                self._fs.pipe_file(path, data)  # an object store shows an upload whole or not at all
            return sha256
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
            data = path.read_bytes() if self._fs is None else self._fs.cat_file(path)
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
