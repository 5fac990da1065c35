"""The data form in which message schemas are declared: fields with version ranges.

A schema is a tuple of :class:`Field` built with :func:`f`::

    f("topics", [f("name", "string"), f("topic_id", "uuid", "10+")], nullable="1+")

- ``type`` is a primitive name (``int8 int16 int32 int64 uint16 uint32 float64 bool uuid
  string bytes records``), ``"[]<primitive>"`` for an array of primitives, a ``list`` of
  fields for an array of structs, or a ``tuple`` of fields for a single nested struct.
- ``versions`` / ``nullable``: ``"3+"``, ``"0-12"``, ``"5"`` (Kafka's notation); a field is
  encoded only in the versions it names, and may be null only in its nullable versions.
- ``tag``: the field is a tagged field (only in flexible versions, encoded only when it
  differs from its default). In every API tidelog serves, a tagged field's tagged versions are
  its versions, so one range serves both.
- ``default``: the value for versions without the field and for tagged fields not sent;
  otherwise the type's zero (0, False, "", b"", [], zero UUID, null records, default struct).

Schemas carry facts about Kafka's wire format (names, types, version ranges) as read from
Apache Kafka's message definitions; nothing here depends on a message's class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_VERSION = 0x7FFF

PRIMITIVES = frozenset({
    "int8", "int16", "int32", "int64", "uint16", "uint32", "float64",
    "bool", "uuid", "string", "bytes", "records",
})

VersionRange = tuple[int, int]


def parse_versions(text: str | None) -> VersionRange | None:
    """Kafka's version notation: ``"3+"``, ``"0-12"``, ``"5"``; ``None``/``"none"`` = never."""
    if text is None or text == "none":
        return None
    if text.endswith("+"):
        return int(text[:-1]), MAX_VERSION
    if "-" in text:
        lo, hi = text.split("-")
        return int(lo), int(hi)
    return int(text), int(text)


def in_range(version: int, rng: VersionRange | None) -> bool:
    return rng is not None and rng[0] <= version <= rng[1]


_UNSET: Any = object()


@dataclass(frozen=True, eq=False)
class Field:
    name: str
    type: TypeSpec
    versions: VersionRange
    nullable: VersionRange | None
    tag: int | None
    default: Any


TypeSpec = str | list[Field] | tuple[Field, ...]


def f(
    name: str,
    type: TypeSpec,
    versions: str = "0+",
    *,
    nullable: str | None = None,
    tag: int | None = None,
    default: Any = _UNSET,
) -> Field:
    """Declare one field (see the module docstring)."""
    if isinstance(type, str):
        base = type[2:] if type.startswith("[]") else type
        if base not in PRIMITIVES:
            raise ValueError(f"unknown type {type!r} for field {name!r}")
    rng = parse_versions(versions)
    if rng is None:
        raise ValueError(f"field {name!r} has no versions")
    return Field(name, type, rng, parse_versions(nullable), tag, default)


@dataclass(frozen=True, eq=False)
class MessageSchema:
    """One request or response body: its fields and which versions are flexible."""

    name: str
    fields: tuple[Field, ...]
    flexible: VersionRange | None

    def is_flexible(self, version: int) -> bool:
        return in_range(version, self.flexible)


@dataclass(frozen=True, eq=False)
class ApiSchema:
    """An API: its key, name and request/response bodies (flexible versions are shared)."""

    key: int
    name: str
    request: MessageSchema
    response: MessageSchema

    def is_flexible(self, version: int) -> bool:
        return self.request.is_flexible(version)


def api(
    key: int, name: str, *, flexible: str, request: list[Field], response: list[Field]
) -> ApiSchema:
    """Declare an API's two bodies. ``flexible`` uses the version notation (or ``"none"``)."""
    flex = parse_versions(flexible)
    return ApiSchema(
        key,
        name,
        MessageSchema(f"{name}Request", tuple(request), flex),
        MessageSchema(f"{name}Response", tuple(response), flex),
    )
