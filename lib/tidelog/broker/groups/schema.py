"""Keys and values of ``__consumer_offsets`` records, in Apache Kafka's own binary format.

Every record of the internal topic has a key that starts with an int16 version telling which
kind of record it is, and a value (``None`` for a tombstone: the key's entry is deleted):

* offset commit: key **OffsetCommitKey v1** ``(int16 1, string group, string topic, int32
  partition)``, value **OffsetCommitValue v3** ``(int16 3, int64 offset, int32 leader_epoch,
  string metadata, int64 commit_timestamp)``;
* group metadata: key **GroupMetadataKey v2** ``(int16 2, string group)``, value
  **GroupMetadataValue v3** ``(int16 3, string protocol_type, int32 generation, nullable
  string protocol, nullable string leader, int64 current_state_timestamp, array of members:
  string member_id, nullable string group_instance_id, string client_id, string client_host,
  int32 rebalance_timeout, int32 session_timeout, bytes subscription, bytes assignment)``.

Strings are int16 length + UTF-8 (-1 for null), bytes int32 length, arrays int32 count: the
non-flexible Kafka encoding, so Kafka's tools could read these records. Older value versions
(offset value v1-v3, group value v0-v3) are read too; a flexible version (which Kafka 3.x may
write) is refused.

Decoding is pure and never raises anything but :class:`GroupRecordError` (a TidelogError)
on malformed input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tidelog.errors import TidelogError

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_COMMIT_V3 = struct.Struct(">hqi")  # version, offset, leader epoch (metadata string follows)


class GroupRecordError(TidelogError):
    """A ``__consumer_offsets`` key or value that cannot be decoded."""


@dataclass(frozen=True, slots=True)
class OffsetKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupKey:
    group: str


@dataclass(frozen=True, slots=True)
class OffsetValue:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int


@dataclass(frozen=True, slots=True)
class MemberValue:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int
    members: tuple[MemberValue, ...]


# -- encoding ---------------------------------------------------------------------------------


def _str(s: str | None) -> bytes:
    if s is None:
        return _I16.pack(-1)
    raw = s.encode()
    return _I16.pack(len(raw)) + raw


def _bytes(b: bytes) -> bytes:
    return _I32.pack(len(b)) + b


def encode_offset_key(key: OffsetKey) -> bytes:
    return b"".join((_I16.pack(1), _str(key.group), _str(key.topic), _I32.pack(key.partition)))


def encode_group_key(key: GroupKey) -> bytes:
    return _I16.pack(2) + _str(key.group)


def encode_offset_value(value: OffsetValue) -> bytes:
    return b"".join((
        _COMMIT_V3.pack(3, value.offset, value.leader_epoch),
        _str(value.metadata),
        _I64.pack(value.commit_timestamp),
    ))


def encode_group_value(value: GroupValue) -> bytes:
    parts = [
        _I16.pack(3), _str(value.protocol_type), _I32.pack(value.generation),
        _str(value.protocol), _str(value.leader), _I64.pack(value.current_state_timestamp),
        _I32.pack(len(value.members)),
    ]
    for m in value.members:
        parts += [
            _str(m.member_id), _str(m.group_instance_id), _str(m.client_id), _str(m.client_host),
            _I32.pack(m.rebalance_timeout), _I32.pack(m.session_timeout),
            _bytes(m.subscription), _bytes(m.assignment),
        ]
    return b"".join(parts)


# -- decoding ---------------------------------------------------------------------------------


class _Reader:
    """A cursor over a buffer; every read checks the bounds first."""

    __slots__ = ("buf", "pos", "what")

    def __init__(self, buf: bytes, what: str) -> None:
        self.buf = buf
        self.pos = 0
        self.what = what

    def _take(self, n: int) -> int:
        pos = self.pos
        if n < 0 or pos + n > len(self.buf):
            raise GroupRecordError(
                f"{self.what}: truncated at byte {pos} (needs {n} more of {len(self.buf)})"
            )
        self.pos = pos + n
        return pos

    def num(self, s: struct.Struct) -> int:
        value: int = s.unpack_from(self.buf, self._take(s.size))[0]
        return value

    def nullable_str(self) -> str | None:
        n = self.num(_I16)
        if n == -1:
            return None
        if n < 0:
            raise GroupRecordError(f"{self.what}: negative string length {n}")
        start = self._take(n)
        try:
            return self.buf[start:start + n].decode()
        except UnicodeDecodeError as exc:
            raise GroupRecordError(f"{self.what}: string is not UTF-8: {exc}") from None

    def str(self) -> str:
        s = self.nullable_str()
        if s is None:
            raise GroupRecordError(f"{self.what}: null where a string is required")
        return s

    def bytes(self) -> bytes:
        n = self.num(_I32)
        if n == -1:
            return b""
        start = self._take(n)
        return bytes(self.buf[start:start + n])

    def array_len(self) -> int:
        n = self.num(_I32)
        if n < 0 or n > len(self.buf):
            raise GroupRecordError(f"{self.what}: bad array length {n}")
        return n


def decode_key(buf: bytes) -> OffsetKey | GroupKey:
    r = _Reader(buf, "__consumer_offsets key")
    version = r.num(_I16)
    if version in (0, 1):
        return OffsetKey(r.str(), r.str(), r.num(_I32))
    if version == 2:
        return GroupKey(r.str())
    raise GroupRecordError(f"__consumer_offsets key version {version} is not known")


def decode_offset_value(buf: bytes) -> OffsetValue:
    r = _Reader(buf, "offset commit value")
    version = r.num(_I16)
    if version not in (0, 1, 2, 3):
        raise GroupRecordError(f"offset commit value version {version} is not supported")
    offset = r.num(_I64)
    epoch = r.num(_I32) if version >= 3 else -1
    metadata = r.str()
    ts = r.num(_I64)
    if version == 1:
        r.num(_I64)  # expire timestamp: gone since Kafka 2.1, ignored
    return OffsetValue(offset, epoch, metadata, ts)


def decode_group_value(buf: bytes) -> GroupValue:
    r = _Reader(buf, "group metadata value")
    version = r.num(_I16)
    if version not in (0, 1, 2, 3):
        raise GroupRecordError(f"group metadata value version {version} is not supported")
    protocol_type = r.str()
    generation = r.num(_I32)
    protocol = r.nullable_str()
    leader = r.nullable_str()
    ts = r.num(_I64) if version >= 2 else -1
    members = []
    for _ in range(r.array_len()):
        member_id = r.str()
        instance = r.nullable_str() if version >= 3 else None
        client_id = r.str()
        host = r.str()
        rebalance = r.num(_I32) if version >= 1 else -1
        session = r.num(_I32)
        members.append(MemberValue(
            member_id, instance, client_id, host, rebalance, session, r.bytes(), r.bytes()
        ))
    return GroupValue(protocol_type, generation, protocol, leader, ts, tuple(members))


def java_string_hash(s: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as a signed 32-bit int: Kafka
    places a group in ``abs(hash) % partitions`` of ``__consumer_offsets``."""
    h = 0
    raw = s.encode("utf-16-be")
    for (unit,) in struct.iter_unpack(">H", raw):  # group ids are short; not a hot path
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition of ``group`` (Kafka's ``Utils.abs(hash) % n``)."""
    return (java_string_hash(group) & 0x7FFFFFFF) % partitions
