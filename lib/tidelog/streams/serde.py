"""Serdes: how keys and values of a stream become bytes and back.

A :class:`Serde` pairs ``serialize`` (object -> bytes, None -> None: a null key or a tombstone)
with ``deserialize`` (the inverse). The standard ones:

* :data:`BYTES` -- bytes as they are; :data:`STR` -- UTF-8 text;
* :data:`INT64` -- a signed 64-bit big-endian integer, Kafka's ``LongSerde`` (what Kafka
  Streams' ``count()`` writes, so a Java reader decodes our changelogs);
* :data:`INT_TEXT` -- an integer as decimal text, for shells (``log-consume`` prints it);
* :data:`JSON` -- any JSON value through orjson.

Invariant: ``deserialize(serialize(x)) == x`` for every ``x`` a serde accepts. Bytes a serde
cannot read raise :class:`~tidelog.streams.errors.StreamsError` (never another exception), so a
source can name the record that was bad.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from tidelog.streams.errors import StreamsError

T = TypeVar("T")
_LONG = struct.Struct(">q")


@dataclass(frozen=True)
class Serde(Generic[T]):
    """A named pair of functions; ``None`` passes through both unchanged."""

    name: str
    to_bytes: Callable[[T], bytes]
    from_bytes: Callable[[bytes], T]

    def serialize(self, obj: T | None) -> bytes | None:
        return None if obj is None else self.to_bytes(obj)

    def deserialize(self, data: bytes | None) -> T | None:
        if data is None:
            return None
        try:
            return self.from_bytes(data)
        except StreamsError:
            raise
        except Exception as exc:  # a decoder's own error, whatever its class
            raise StreamsError(f"not {self.name}: {data[:32]!r}: {exc}") from None


def _long(data: bytes) -> int:
    if len(data) != 8:
        raise StreamsError(f"not a 64-bit integer ({len(data)} bytes)")
    return int(_LONG.unpack(data)[0])


def _int_text(data: bytes) -> int:
    return int(data.decode("ascii"))


BYTES: Serde[bytes] = Serde("bytes", bytes, bytes)
STR: Serde[str] = Serde("UTF-8 text", lambda s: s.encode(), lambda b: b.decode())
INT64: Serde[int] = Serde("a 64-bit integer", _LONG.pack, _long)
INT_TEXT: Serde[int] = Serde("a decimal integer", lambda i: str(i).encode(), _int_text)
JSON: Serde[Any] = Serde("JSON", orjson.dumps, orjson.loads)
