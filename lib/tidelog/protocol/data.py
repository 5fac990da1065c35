"""``Struct``: the plain container every decoded message (and nested struct) becomes.

A decoded message is a ``Struct`` whose attributes are the schema's fields in snake_case
(``body.topics[0].partitions[0].records``); nested structs are ``Struct`` too, arrays are
lists, strings ``str``, bytes ``bytes``, records ``memoryview``, uuids ``uuid.UUID``. Fields the
decoded version does not carry hold their schema default, so handlers can read any field of
any version. Encoders accept a ``Struct`` or any ``Mapping[str, Any]`` with the same names;
fields left out take their defaults.

Typing: ``__getattr__`` is declared to return ``Any`` so ``mypy --strict`` accepts attribute
access on decoded messages; it only runs for names that are not set and then raises
AttributeError, so a typo still fails loudly at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


class Struct:
    """An attribute bag with value equality and a readable repr."""

    __slots__ = ("__dict__",)

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"Struct has no field {name!r}")

    if TYPE_CHECKING:  # handlers fill response fields by assignment; typing only

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Struct):
            return self.__dict__ == other.__dict__
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Struct({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain dicts and lists (e.g. for JSON output)."""
        return {k: _plain(v) for k, v in self.__dict__.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
