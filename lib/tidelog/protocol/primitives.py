"""Primitive types of the Kafka wire protocol, as read and write functions.

Formats (big-endian, as Kafka's protocol guide defines them):

- int8/int16/int32/int64, uint16, uint32, float64: fixed width, two's complement / IEEE 754.
- bool: one byte, 0 false, anything else true (Kafka decodes any non-zero byte as true).
- uuid: 16 raw bytes; the all-zero UUID is Kafka's "no id".
- unsigned varint (uvarint): 7 bits per byte, low group first, high bit = "more"; at most
  5 bytes for 32-bit values, 10 for 64-bit. varint/varlong: zigzag-encoded signed values.
- string: int16 length + UTF-8, -1 = null. compact string: uvarint (length + 1), 0 = null.
- bytes: int32 length + bytes, -1 = null. compact bytes: uvarint (length + 1), 0 = null.
- records: nullable bytes (classic or compact) whose payload is a run of record batches; the
  reader returns a memoryview slice of the frame, never a copy.

Readers are ``read_x(buf: memoryview, pos: int) -> (value, next_pos)``; every bound is
checked before reading, and malformed input raises :class:`TruncatedMessageError` or
:class:`MalformedMessageError` with the byte position. Writers are
``write_x(out: bytearray, value) -> None`` and raise :class:`EncodeError` on values that do not
fit. No per-byte loops: fixed fields use precompiled ``struct.Struct``; a varint loops at most
over its own 5 (10) bytes, and small varints come from a precomputed table.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from tidelog.protocol.exceptions import EncodeError, MalformedMessageError, TruncatedMessageError

INT8 = struct.Struct(">b")
INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")
INT64 = struct.Struct(">q")
UINT16 = struct.Struct(">H")
UINT32 = struct.Struct(">I")
FLOAT64 = struct.Struct(">d")

ZERO_UUID = uuid.UUID(int=0)

# Encoded unsigned varints for 0 .. 2**14-1: every compact length and tag of a normal message.
_UVARINT_TABLE: list[bytes] = [bytes((v,)) for v in range(128)] + [
    bytes(((v & 0x7F) | 0x80, v >> 7)) for v in range(128, 1 << 14)
]
_UVARINT_SMALL = len(_UVARINT_TABLE)


def _truncated(what: str, pos: int) -> TruncatedMessageError:
    return TruncatedMessageError(f"message ends inside {what}", pos)


def _fixed_reader(st: struct.Struct, what: str) -> Any:
    size = st.size
    unpack_from = st.unpack_from

    def read(buf: memoryview, pos: int) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            raise _truncated(what, pos)
        return unpack_from(buf, pos)[0], end

    return read


def _fixed_writer(st: struct.Struct, what: str) -> Any:
    pack = st.pack

    def write(out: bytearray, value: Any) -> None:
        try:
            out += pack(value)
        except struct.error as exc:
            raise EncodeError(f"{what} cannot hold {value!r}: {exc}") from None

    return write


read_int8 = _fixed_reader(INT8, "int8")
read_int16 = _fixed_reader(INT16, "int16")
read_int32 = _fixed_reader(INT32, "int32")
read_int64 = _fixed_reader(INT64, "int64")
read_uint16 = _fixed_reader(UINT16, "uint16")
read_uint32 = _fixed_reader(UINT32, "uint32")
read_float64 = _fixed_reader(FLOAT64, "float64")
write_int8 = _fixed_writer(INT8, "int8")
write_int16 = _fixed_writer(INT16, "int16")
write_int32 = _fixed_writer(INT32, "int32")
write_int64 = _fixed_writer(INT64, "int64")
write_uint16 = _fixed_writer(UINT16, "uint16")
write_uint32 = _fixed_writer(UINT32, "uint32")
write_float64 = _fixed_writer(FLOAT64, "float64")


def read_bool(buf: memoryview, pos: int) -> tuple[bool, int]:
    if pos >= len(buf):
        raise _truncated("bool", pos)
    return buf[pos] != 0, pos + 1


def write_bool(out: bytearray, value: bool) -> None:
    out.append(1 if value else 0)


def read_uuid(buf: memoryview, pos: int) -> tuple[uuid.UUID, int]:
    end = pos + 16
    if end > len(buf):
        raise _truncated("uuid", pos)
    return uuid.UUID(bytes=bytes(buf[pos:end])), end


def write_uuid(out: bytearray, value: uuid.UUID | None) -> None:
    if value is None:
        value = ZERO_UUID
    if not isinstance(value, uuid.UUID):
        raise EncodeError(f"uuid field needs a uuid.UUID, got {type(value).__name__}")
    out += value.bytes


# -- varints -------------------------------------------------------------------------------


def _read_uvar(buf: memoryview, pos: int, max_bytes: int, what: str) -> tuple[int, int]:
    n = len(buf)
    if pos >= n:
        raise _truncated(what, pos)
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    p = pos + 1
    limit = pos + max_bytes
    # At most max_bytes iterations: a varint is one field, not bulk data.
    while True:
        if p >= n:
            raise _truncated(what, pos)
        if p >= limit:
            raise MalformedMessageError(f"{what} longer than {max_bytes} bytes", pos)
        b = buf[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7


def read_uvarint(buf: memoryview, pos: int) -> tuple[int, int]:
    """An unsigned varint of at most 32 bits (compact lengths, tags, tag sizes)."""
    if pos < len(buf) and buf[pos] < 0x80:  # one byte: nearly every length and tag
        return buf[pos], pos + 1
    value, end = _read_uvar(buf, pos, 5, "unsigned varint")
    if value > 0xFFFFFFFF:
        raise MalformedMessageError("unsigned varint exceeds 32 bits", pos)
    return value, end


def read_uvarlong(buf: memoryview, pos: int) -> tuple[int, int]:
    value, end = _read_uvar(buf, pos, 10, "unsigned varlong")
    if value > 0xFFFFFFFFFFFFFFFF:
        raise MalformedMessageError("unsigned varlong exceeds 64 bits", pos)
    return value, end


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """A zigzag-encoded signed 32-bit varint."""
    raw, end = read_uvarint(buf, pos)
    return (raw >> 1) ^ -(raw & 1), end


def read_varlong(buf: memoryview, pos: int) -> tuple[int, int]:
    """A zigzag-encoded signed 64-bit varint."""
    raw, end = read_uvarlong(buf, pos)
    return (raw >> 1) ^ -(raw & 1), end


def uvarint_bytes(value: int) -> bytes:
    """The encoding of an unsigned varint (no range check beyond non-negative)."""
    if 0 <= value < _UVARINT_SMALL:
        return _UVARINT_TABLE[value]
    if value < 0:
        raise EncodeError(f"unsigned varint cannot hold {value}")
    parts = bytearray()
    while value >= 0x80:
        parts.append((value & 0x7F) | 0x80)
        value >>= 7
    parts.append(value)
    return bytes(parts)


def write_uvarint(out: bytearray, value: int) -> None:
    if not 0 <= value <= 0xFFFFFFFF:
        raise EncodeError(f"unsigned varint cannot hold {value}")
    out += uvarint_bytes(value)


def write_uvarlong(out: bytearray, value: int) -> None:
    if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
        raise EncodeError(f"unsigned varlong cannot hold {value}")
    out += uvarint_bytes(value)


def write_varint(out: bytearray, value: int) -> None:
    if not -(1 << 31) <= value < (1 << 31):
        raise EncodeError(f"varint cannot hold {value}")
    out += uvarint_bytes(((value << 1) ^ (value >> 31)) & 0xFFFFFFFF)


def write_varlong(out: bytearray, value: int) -> None:
    if not -(1 << 63) <= value < (1 << 63):
        raise EncodeError(f"varlong cannot hold {value}")
    out += uvarint_bytes(((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF)


# -- lengths -------------------------------------------------------------------------------


def read_length(buf: memoryview, pos: int, compact: bool, wide: bool) -> tuple[int, int]:
    """A length prefix: -1 means null. ``wide`` picks int32 (bytes, arrays) over int16."""
    if compact:
        raw, end = read_uvarint(buf, pos)
        return raw - 1, end
    if wide:
        value, end = read_int32(buf, pos)
    else:
        value, end = read_int16(buf, pos)
    if value < -1:
        raise MalformedMessageError(f"negative length {value}", pos)
    return int(value), end


def write_length(out: bytearray, length: int, compact: bool, wide: bool) -> None:
    """Write a length prefix; ``length`` -1 encodes null."""
    if compact:
        out += uvarint_bytes(length + 1)
    elif wide:
        out += INT32.pack(length)
    else:
        if length > 0x7FFF:
            raise EncodeError(f"string of {length} bytes exceeds the int16 length limit")
        out += INT16.pack(length)


# -- strings and bytes ---------------------------------------------------------------------


def read_string(
    buf: memoryview, pos: int, compact: bool, nullable: bool
) -> tuple[str | None, int]:
    length, p = read_length(buf, pos, compact, False)
    if length < 0:
        if not nullable:
            raise MalformedMessageError("null in a non-nullable string", pos)
        return None, p
    end = p + length
    if end > len(buf):
        raise _truncated("string", pos)
    try:
        return str(buf[p:end], "utf-8"), end
    except UnicodeDecodeError:
        raise MalformedMessageError("string is not valid UTF-8", pos) from None


def write_string(out: bytearray, value: str | None, compact: bool, nullable: bool) -> None:
    if value is None:
        if not nullable:
            raise EncodeError("None in a non-nullable string")
        write_length(out, -1, compact, False)
        return
    if not isinstance(value, str):
        raise EncodeError(f"string field needs str, got {type(value).__name__}")
    data = value.encode("utf-8")
    write_length(out, len(data), compact, False)
    out += data


def read_bytes_view(
    buf: memoryview, pos: int, compact: bool, nullable: bool
) -> tuple[memoryview | None, int]:
    """Nullable/compact bytes as a zero-copy slice of ``buf``."""
    length, p = read_length(buf, pos, compact, True)
    if length < 0:
        if not nullable:
            raise MalformedMessageError("null in non-nullable bytes", pos)
        return None, p
    end = p + length
    if end > len(buf):
        raise _truncated("bytes", pos)
    return buf[p:end], end


def read_bytes(
    buf: memoryview, pos: int, compact: bool, nullable: bool
) -> tuple[bytes | None, int]:
    view, end = read_bytes_view(buf, pos, compact, nullable)
    return (None if view is None else bytes(view)), end


def write_bytes(out: bytearray, value: Any, compact: bool, nullable: bool) -> None:
    if value is None:
        if not nullable:
            raise EncodeError("None in non-nullable bytes")
        write_length(out, -1, compact, True)
        return
    if not isinstance(value, bytes | bytearray | memoryview):
        raise EncodeError(f"bytes field needs a bytes-like value, got {type(value).__name__}")
    write_length(out, len(value), compact, True)
    out += value
