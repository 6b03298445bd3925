"""What an endpoint serves and how it routes: one version, an A/B split by weights, or a shadow.

A ``Target`` names the model and its variants (each an alias, followed when it moves, or a
pinned version) with their traffic weights, plus an optional shadow variant that scores the
same inputs and is logged but never answers.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass

from ..errors import InvalidInputError
from ..refs import parse_model_ref


@dataclass(frozen=True)
class Variant:
    """An alias (followed when it moves) or a pinned version, with its share of the traffic."""

    label: str
    alias: str | None = None
    version: int | None = None
    weight: float = 100.0


@dataclass
class Target:
    name: str
    variants: list[Variant]
    shadow: Variant | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "variants": [asdict(v) for v in self.variants], "shadow": asdict(self.shadow) if self.shadow else None}

    @classmethod
    def from_dict(cls, data: dict) -> Target:
        shadow = data.get("shadow")
        return cls(data["name"], [Variant(**v) for v in data["variants"]], Variant(**shadow) if shadow else None)

    def shares(self) -> list[str]:
        """Each variant with its share of the traffic (``production 80%``); the label alone when there is one."""
        if len(self.variants) == 1:
            return [self.variants[0].label]
        total = sum(v.weight for v in self.variants)
        return [f"{v.label} {100 * v.weight / total:.0f}%" for v in self.variants]

    def describe(self) -> str:
        return f"{self.name} {', '.join(self.shares())}" + (f" (shadow: {self.shadow.label})" if self.shadow else "")


def parse_variant(text: str, weight: float = 100.0) -> Variant:
    """``production`` → the alias; ``3`` or ``v3`` → pinned version 3."""
    text = text.strip()
    digits = text[1:] if text[:1] in "vV" else text
    if digits.isdigit():
        return Variant(f"v{int(digits)}", version=int(digits), weight=weight)
    if not text:
        raise InvalidInputError("an empty variant: name an alias (production) or a version (v3).")
    return Variant(text, alias=text, weight=weight)


def parse_target(ref: str, split: str | None = None, shadow: str | None = None) -> Target:
    """A target from ``name@alias`` or ``name/N``, or ``name`` with ``split="a=90,b=10"``; ``shadow`` a variant."""
    name, version, alias = parse_model_ref(ref)
    if split:
        if alias or version is not None:
            raise InvalidInputError(f"--split routes between variants of a model: write {name} --split {split}, without @alias or /version.")
        variants = []
        for part in split.split(","):
            label, eq, weight = part.partition("=")
            try:
                value = float(weight)
            except ValueError:
                value = -1.0
            if not eq or value < 0:
                raise InvalidInputError(f"--split part {part!r} is not VARIANT=WEIGHT: write e.g. --split production=90,staging=10.")
            variants.append(parse_variant(label, value))
        if len({v.label for v in variants}) != len(variants) or sum(v.weight for v in variants) <= 0:
            raise InvalidInputError(f"--split {split!r} needs distinct variants and a positive total weight.")
    elif alias:
        variants = [Variant(alias, alias=alias)]
    elif version is not None:
        variants = [parse_variant(str(version))]
    else:
        raise InvalidInputError(f"serve {name!r} how? write {name}@ALIAS, {name}/VERSION, or add --split.")
    shadow_variant = parse_variant(shadow, 0.0) if shadow else None
    if shadow_variant is not None and shadow_variant.label in {v.label for v in variants}:
        raise InvalidInputError(f"--shadow {shadow} already answers traffic: shadow a different alias or version.")
    return Target(name, variants, shadow_variant)


class Router:
    """Picks the variant of a request: by its id's hash when given (so retries land alike), else at random."""

    def __init__(self, variants: list[Variant], seed: int | None = None):
        total = sum(v.weight for v in variants)
        self.variants = variants
        self._edges = []
        running = 0.0
        for variant in variants:
            running += variant.weight / total
            self._edges.append(running)
        self._random = random.Random(seed)

    def choose(self, request_id: str | None = None) -> Variant:
        if len(self.variants) == 1:
            return self.variants[0]
        if request_id:
            point = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64
        else:
            point = self._random.random()
        for variant, edge in zip(self.variants, self._edges):
            if point < edge:
                return variant
        return self.variants[-1]
