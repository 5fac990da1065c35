"""Kafka's byte form of metadata records and control records (pure functions, no I/O).

Format (Kafka's ``AbstractApiMessageSerde`` and ``ControlRecordUtils``):

* A metadata record value is ``uvarint frame_version (1) | uvarint api_key | uvarint version |
  body``, the body encoded as a flexible message by the schema of
  :mod:`tidelog.protocol.messages.kraft` for that key and version. Its record key is null.
* A control record (in a control batch) has the key ``int16 version (0) | int16 type`` and a
  value that is the type's schema encoded at version 0 (the value's first field, ``version``,
  is the record's own version).

:func:`decode_metadata` / :func:`decode_control` check everything: frame version, known key,
version in range, the body ending exactly where the value does. Any failure raises
:class:`~tidelog.metadata.errors.MetadataError` naming what was wrong; nothing else escapes.
Encoding a value the schema cannot hold raises MetadataError too.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import tidelog.protocol.primitives as p
from tidelog.metadata.errors import MetadataError
from tidelog.protocol.codec import Writer, compile_body
from tidelog.protocol.data import Struct
from tidelog.protocol.exceptions import EncodeError, ProtocolError
from tidelog.protocol.messages.kraft import (
    CONTROL,
    CONTROL_NAMES,
    LEADER_CHANGE,
    RECORDS,
    RecordSchema,
)

FRAME_VERSION = 1
_CONTROL_KEY = struct.Struct(">hh")

BytesLike = bytes | bytearray | memoryview


def _encode(schema_name: str, codec_schema: Any, version: int,
            body: Struct | Mapping[str, Any], prefix: bytes) -> bytes:
    out = Writer()
    out += prefix
    try:
        compile_body(codec_schema, version).write(out, body)
    except EncodeError as exc:
        raise MetadataError(f"cannot encode {schema_name} v{version}: {exc}") from None
    return b"".join(bytes(part) for part in out.finish())  # type: ignore[call-overload]


def encode_metadata(api_key: int, version: int, body: Struct | Mapping[str, Any]) -> bytes:
    """The record value of a metadata record (frame and body)."""
    rs = RECORDS.get(api_key)
    if rs is None:
        raise MetadataError(f"unknown metadata record type {api_key}")
    if not rs.versions[0] <= version <= rs.versions[1]:
        raise MetadataError(f"{rs.name} has no version {version}")
    prefix = p.uvarint_bytes(FRAME_VERSION) + p.uvarint_bytes(api_key) + p.uvarint_bytes(version)
    return _encode(rs.name, rs.body, version, body, prefix)


def decode_metadata(value: BytesLike) -> tuple[RecordSchema, int, Struct]:
    """Split a metadata record value into (schema, version, body)."""
    buf = memoryview(value)
    try:
        frame, pos = p.read_uvarint(buf, 0)
        if frame != FRAME_VERSION:
            if bytes(buf[:1]) == b"{":
                raise MetadataError(
                    "metadata record is in the JSON format of earlier tidelog versions, not "
                    "Kafka's: the data dir needs converting")
            raise MetadataError(f"metadata record has frame version {frame}, not 1")
        api_key, pos = p.read_uvarint(buf, pos)
        version, pos = p.read_uvarint(buf, pos)
    except ProtocolError:
        raise MetadataError(f"metadata record frame is cut off ({len(buf)} bytes)") from None
    rs = RECORDS.get(api_key)
    if rs is None:
        raise MetadataError(f"unknown metadata record type {api_key}")
    if not rs.versions[0] <= version <= rs.versions[1]:
        raise MetadataError(
            f"{rs.name} version {version} is outside the {rs.versions[0]}-{rs.versions[1]} "
            "this tidelog reads")
    try:
        body = compile_body(rs.body, version).read_exact(buf, pos)
    except ProtocolError as exc:
        raise MetadataError(f"{rs.name} v{version}: {exc}") from None
    except (struct.error, IndexError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise MetadataError(f"{rs.name} v{version}: malformed: {exc}") from None
    return rs, version, body


def control_key(record_type: int) -> bytes:
    """Kafka's control record key (version 0) for ``record_type``."""
    return _CONTROL_KEY.pack(0, record_type)


def control_type(key: BytesLike | None) -> int:
    """The control record type a control record key names."""
    if key is None or len(key) < 4:
        raise MetadataError("control record key is missing or shorter than 4 bytes")
    _version, record_type = _CONTROL_KEY.unpack_from(key)
    return int(record_type)


def encode_control(record_type: int, body: Struct | Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) of a control record of ``record_type`` (LEADER_CHANGE, ...)."""
    schema = CONTROL.get(record_type)
    if schema is None:
        raise MetadataError(f"control record type {record_type} carries no value tidelog writes")
    return control_key(record_type), _encode(schema.name, schema, 0, body, b"")


def decode_control(key: BytesLike | None, value: BytesLike | None) -> tuple[int, Struct]:
    """(type, body) of a control record; COMMIT and ABORT markers have an empty body."""
    record_type = control_type(key)
    schema = CONTROL.get(record_type)
    name = CONTROL_NAMES.get(record_type, f"control record type {record_type}")
    if schema is None:
        if record_type in CONTROL_NAMES:  # a transaction marker: its value is not ours
            return record_type, Struct()
        raise MetadataError(f"unknown control record type {record_type}")
    if value is None:
        raise MetadataError(f"{name} control record has no value")
    try:
        return record_type, compile_body(schema, 0).read_exact(memoryview(value), 0)
    except ProtocolError as exc:
        raise MetadataError(f"{name} control record: {exc}") from None
    except (struct.error, IndexError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise MetadataError(f"{name} control record: malformed: {exc}") from None


def leader_change_value(leader_id: int, voters: tuple[int, ...] | list[int],
                        granting: tuple[int, ...] | list[int] = ()) -> bytes:
    """The value of the LeaderChange control record a new leader writes (version 0)."""
    return encode_control(LEADER_CHANGE, {
        "version": 0,
        "leader_id": leader_id,
        "voters": [{"voter_id": v} for v in voters],
        "granting_voters": [{"voter_id": v} for v in granting],
    })[1]

