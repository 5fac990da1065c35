"""Zigzag varints as Kafka's record batch v2 uses them: ``Varint`` (int32), ``Varlong`` (int64).

Format: the signed value ``v`` is first zigzag-mapped to an unsigned ``u`` (0, -1, 1, -2, 2 ...
become 0, 1, 2, 3, 4 ...; ``u = (v << 1) ^ (v >> 63)``), then written little-endian in groups of
7 bits, each byte's top bit saying "another byte follows". An int32 takes 1 to 5 bytes, an int64
1 to 10.

Invariants:
- Encoding is canonical (the shortest form). The unsigned encodings of every ``u`` below
  :data:`TABLE_SIZE` are precomputed in :data:`UVARINT`, so the record builder turns lengths and
  offset deltas into bytes with one list lookup instead of a loop.
- Decoding accepts what Apache Kafka's reader accepts: at most 5 (varint) or 10 (varlong) bytes.
  It is stricter in one point: bits beyond 32 / 64 in the last byte are rejected instead of
  being silently dropped, because a valid encoder never sets them. Non-minimal forms inside that
  length (``80 00`` for 0) are accepted, as Kafka's reader does.

Crash behaviour: encoding a value outside int32 / int64 range raises ValueError (a caller bug);
decoding input that ends mid-varint, runs past 5 / 10 bytes, or overflows raises
:class:`CorruptRecordError` with the position of the varint's first byte. Decoders take any
buffer indexable to ints (bytes, bytearray, memoryview) and return ``(value, new_position)``.
"""

from __future__ import annotations

from tidelog.records.crc import BytesLike
from tidelog.records.errors import CorruptRecordError

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: Unsigned (already zigzagged) values below this have their encoding precomputed: 1- and
#: 2-byte forms, which covers offset deltas and lengths up to 8191 and timestamp deltas up to
#: about 8 s.
TABLE_SIZE = 1 << 14


def _encode_unsigned(u: int) -> bytes:
    # At most 10 iterations (7 bits each): this is per varint, not per byte of payload.
    out = bytearray()
    while u > 0x7F:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


#: ``UVARINT[u]`` is the varint encoding of the unsigned value ``u`` (u < TABLE_SIZE).
UVARINT: list[bytes] = [_encode_unsigned(u) for u in range(TABLE_SIZE)]

#: ``UNZIGZAG[u]`` is the signed value of the unsigned zigzag value ``u`` (u < TABLE_SIZE): the
#: value of a one-byte varint ``b`` is ``UNZIGZAG[b]``, of a two-byte one ``b1 b2`` is
#: ``UNZIGZAG[(b1 & 0x7f) | (b2 << 7)]``. The reader inlines these two cases.
UNZIGZAG: tuple[int, ...] = tuple((u >> 1) ^ -(u & 1) for u in range(TABLE_SIZE))


def zigzag32(value: int) -> int:
    """Map an int32 to its unsigned zigzag form."""
    return (value << 1) ^ (value >> 31)


def zigzag64(value: int) -> int:
    """Map an int64 to its unsigned zigzag form."""
    return (value << 1) ^ (value >> 63)


def unzigzag(u: int) -> int:
    """Inverse of the zigzag map."""
    return (u >> 1) ^ -(u & 1)


def encode_uvarint(u: int) -> bytes:
    """Encoding of an unsigned (already zigzagged) value; no range check."""
    if u < TABLE_SIZE:
        return UVARINT[u]
    return _encode_unsigned(u)


def encode_varint(value: int) -> bytes:
    """Kafka ``Varint``: zigzag int32, 1 to 5 bytes."""
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"varint value {value} is outside int32")
    u = (value << 1) ^ (value >> 31)
    if u < TABLE_SIZE:
        return UVARINT[u]
    return _encode_unsigned(u)


def encode_varlong(value: int) -> bytes:
    """Kafka ``Varlong``: zigzag int64, 1 to 10 bytes."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"varlong value {value} is outside int64")
    u = (value << 1) ^ (value >> 63)
    if u < TABLE_SIZE:
        return UVARINT[u]
    return _encode_unsigned(u)


def size_of_varint(value: int) -> int:
    """Bytes :func:`encode_varint` writes for ``value``."""
    return len(encode_varint(value))


def size_of_varlong(value: int) -> int:
    """Bytes :func:`encode_varlong` writes for ``value``."""
    return len(encode_varlong(value))


def _decode(buf: BytesLike, pos: int, max_bytes: int, bits: int, kind: str) -> tuple[int, int]:
    start = pos
    end = len(buf)
    u = 0
    shift = 0
    for _ in range(max_bytes):
        if pos >= end:
            raise CorruptRecordError(
                f"{kind} at byte {start} is cut off by the end of input", start
            )
        b = buf[pos]
        pos += 1
        u |= (b & 0x7F) << shift
        if b < 0x80:
            if u >> bits:
                raise CorruptRecordError(f"{kind} at byte {start} overflows {bits} bits", start)
            return (u >> 1) ^ -(u & 1), pos
        shift += 7
    raise CorruptRecordError(f"{kind} at byte {start} is longer than {max_bytes} bytes", start)


def decode_varint(buf: BytesLike, pos: int = 0) -> tuple[int, int]:
    """Decode a Kafka ``Varint`` at ``pos``; returns ``(value, position after it)``."""
    if pos + 1 < len(buf):
        b = buf[pos]
        if b < 0x80:
            return UNZIGZAG[b], pos + 1
        b2 = buf[pos + 1]
        if b2 < 0x80:
            return UNZIGZAG[(b & 0x7F) | (b2 << 7)], pos + 2
    return _decode(buf, pos, 5, 32, "varint")


def decode_varlong(buf: BytesLike, pos: int = 0) -> tuple[int, int]:
    """Decode a Kafka ``Varlong`` at ``pos``; returns ``(value, position after it)``."""
    if pos + 1 < len(buf):
        b = buf[pos]
        if b < 0x80:
            return UNZIGZAG[b], pos + 1
        b2 = buf[pos + 1]
        if b2 < 0x80:
            return UNZIGZAG[(b & 0x7F) | (b2 << 7)], pos + 2
    return _decode(buf, pos, 10, 64, "varlong")
