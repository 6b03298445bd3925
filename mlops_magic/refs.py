"""Model references: ``name@alias``, ``name/VERSION`` or a bare ``name``, parsed in one place.

The API (``load_model``, ``serve``) and the serving target both read references with this parser.
"""

from __future__ import annotations

from .errors import InvalidInputError


def parse_model_ref(ref: str) -> tuple[str, int | None, str | None]:
    """``name@alias`` → (name, None, alias); ``name/3`` → (name, 3, None); ``name`` → (name, None, None)."""
    ref = ref.strip()
    if "@" in ref:
        name, alias = ref.split("@", 1)
        if not name or not alias:
            raise InvalidInputError(f"model reference {ref!r} is malformed: write NAME@ALIAS, e.g. wine-quality@production.")
        return name, None, alias
    if "/" in ref:
        name, version = ref.rsplit("/", 1)
        if not name or not version.isdigit():
            raise InvalidInputError(f"model reference {ref!r} is malformed: write NAME/VERSION, e.g. wine-quality/2.")
        return name, int(version), None
    if not ref:
        raise InvalidInputError("an empty model reference: write NAME@ALIAS, NAME/VERSION or NAME.")
    return ref, None, None
