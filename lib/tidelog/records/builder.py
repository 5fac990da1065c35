"""Build one Kafka record batch v2 (magic 2) from a sequence of :class:`NewRecord`.

Format: the 61-byte header of :mod:`tidelog.records.batch_header`, then the records of
:mod:`tidelog.records.record`, compressed as one block when ``compression`` is not 0.

Invariants of every batch built here, matching Apache Kafka's producer:
- offset deltas are 0 .. n-1 and lastOffsetDelta is n-1;
- baseTimestamp is the first record's timestamp (deltas of later records may be negative),
  maxTimestamp the largest; a record without a timestamp gets the build time in ms, taken once
  per batch, so such records share one timestamp;
- the CRC32C covers attributes .. end and is correct; partitionLeaderEpoch and baseOffset are
  outside it (the broker rewrites them in place);
- record attributes are 0; null and empty keys, values and header values stay distinct.

Speed: the per-record loop does no per-byte work; lengths and deltas below 2**13 become bytes by
a lookup in the precomputed varint table, and the records section is joined once per batch.

Crash behaviour: an empty record list raises ValueError; a field out of its Kafka range
(timestamp delta beyond int64, producer epoch beyond int16, ...) raises ValueError; a non-bytes
key/value raises TypeError. Nothing is written anywhere: the result is a new ``bytes``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence

from tidelog.records.batch_header import (
    CONTROL_BIT,
    DELETE_HORIZON_BIT,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    Compression,
    TimestampType,
)
from tidelog.records.compression import compress
from tidelog.records.crc import crc32c
from tidelog.records.record import Header, NewRecord, Record
from tidelog.records.varint import (
    INT64_MAX,
    INT64_MIN,
    TABLE_SIZE,
    UVARINT,
    encode_uvarint,
    encode_varint,
)

# The header split at the CRC: the part before it is outside the checksum, the part after is in.
_HEAD = struct.Struct(">qiibI")
_TAIL = struct.Struct(">hiqqqhii")
assert _HEAD.size + _TAIL.size == HEADER_SIZE

_NULL = b"\x01"  # varint -1: null key, value or header value
_NO_HEADERS = b"\x00"  # varint 0 headers
_ATTR_AND_ZERO_DELTA = b"\x00\x00"  # record attributes 0 and timestampDelta 0
_ATTR = b"\x00"
#: Record attributes (0) followed by a small timestampDelta, by its zigzag value.
_ATTR_UVARINT = [_ATTR + enc for enc in UVARINT]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode_headers(headers: Sequence[Header]) -> bytes:
    parts = [encode_varint(len(headers))]
    for name, value in headers:
        raw = name.encode("utf-8")
        parts.append(encode_uvarint(len(raw) << 1))
        parts.append(raw)
        if value is None:
            parts.append(_NULL)
        else:
            parts.append(encode_uvarint(len(value) << 1))
            parts.append(value)
    return b"".join(parts)


def _timestamp_delta(td: int) -> bytes:
    if not INT64_MIN <= td <= INT64_MAX:
        raise ValueError(f"timestamp delta {td} is outside int64")
    return _ATTR + encode_uvarint((td << 1) ^ (td >> 63))


def encode_records(
    records: Sequence[NewRecord], base_timestamp: int, now: int
) -> tuple[bytes, int]:
    """The uncompressed records section for ``records`` against ``base_timestamp``.

    Returns ``(records_bytes, max_timestamp)``. ``now`` stands in for None timestamps.
    """
    parts: list[bytes] = []
    uv = UVARINT
    attr_uv = _ATTR_UVARINT
    table_size = TABLE_SIZE
    half = TABLE_SIZE >> 1
    max_ts = base_timestamp
    null = _NULL
    zero_delta = _ATTR_AND_ZERO_DELTA
    no_headers = _NO_HEADERS
    for delta, (value, key, headers, ts) in enumerate(records):
        # Record layout: length, attributes, timestampDelta, offsetDelta, key, value, headers.
        if ts is None:
            ts = now
        if ts == base_timestamp:
            head = zero_delta
        else:
            if ts > max_ts:
                max_ts = ts
            td = ts - base_timestamp
            # Small deltas (the usual case) come from the table, already behind the attributes.
            head = attr_uv[(td << 1) ^ (td >> 63)] if -half <= td < half else _timestamp_delta(td)
        u = delta << 1
        off = uv[u] if u < table_size else encode_uvarint(u)
        if key is None:
            kl = null
            kb = b""
        else:
            kb = key
            u = len(key) << 1
            kl = uv[u] if u < table_size else encode_uvarint(u)
        if value is None:
            vl = null
            vb = b""
        else:
            vb = value
            u = len(value) << 1
            vl = uv[u] if u < table_size else encode_uvarint(u)
        hdr = _encode_headers(headers) if headers else no_headers
        size = len(head) + len(off) + len(kl) + len(kb) + len(vl) + len(vb) + len(hdr)
        u = size << 1
        # One extend per record: cheaper than eight appends.
        parts += (uv[u] if u < table_size else encode_uvarint(u), head, off, kl, kb, vl, vb, hdr)
    try:
        return b"".join(parts), max_ts
    except TypeError as exc:
        raise TypeError(f"record keys, values and header values must be bytes: {exc}") from None


def encode_kept_records(records: Sequence[Record], base_offset: int, base_timestamp: int) -> bytes:
    """The records section for records kept from a batch (the log cleaner's rewrite): each
    keeps its absolute offset and timestamp, re-expressed against ``base_offset`` and
    ``base_timestamp`` (a delete horizon moves the base timestamp, KIP-534)."""
    parts: list[bytes] = []
    for rec in records:
        body = b"".join((
            _timestamp_delta(rec.timestamp - base_timestamp),
            encode_varint(rec.offset - base_offset),
            _NULL if rec.key is None else encode_uvarint(len(rec.key) << 1) + rec.key,
            _NULL if rec.value is None else encode_uvarint(len(rec.value) << 1) + rec.value,
            _encode_headers(rec.headers) if rec.headers else _NO_HEADERS,
        ))
        parts.append(encode_varint(len(body)))
        parts.append(body)
    return b"".join(parts)


def build_batch(
    records: Sequence[NewRecord],
    *,
    base_offset: int = 0,
    compression: int = Compression.NONE,
    compression_level: int | None = None,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    is_transactional: bool = False,
    is_control: bool = False,
    timestamp_type: int = TimestampType.CREATE_TIME,
) -> bytes:
    """Encode ``records`` as one record batch v2 and return its bytes."""
    count = len(records)
    if count == 0:
        raise ValueError("a record batch needs at least one record")
    now = _now_ms()
    base_ts = records[0][3]
    if base_ts is None:
        base_ts = now
    body, max_ts = encode_records(records, base_ts, now)
    return finish_batch(
        body, count, base_ts, max_ts,
        base_offset=base_offset, compression=compression, compression_level=compression_level,
        producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
        partition_leader_epoch=partition_leader_epoch, is_transactional=is_transactional,
        is_control=is_control, timestamp_type=timestamp_type,
    )


def finish_batch(
    body: bytes,
    count: int,
    base_ts: int,
    max_ts: int,
    *,
    base_offset: int = 0,
    compression: int = Compression.NONE,
    compression_level: int | None = None,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    is_transactional: bool = False,
    is_control: bool = False,
    timestamp_type: int = TimestampType.CREATE_TIME,
    last_offset_delta: int | None = None,
    delete_horizon: bool = False,
) -> bytes:
    """Compress an encoded records section of ``count`` records and put the header on it
    (shared by :func:`build_batch` and the fast paths of :mod:`tidelog.records.values`).

    The log cleaner passes ``last_offset_delta`` (a cleaned batch keeps its original offset
    span, so fewer records than the span is legal) and ``delete_horizon`` (``base_ts`` is then
    the delete horizon, attribute bit 6). An empty ``body`` is never compressed: Kafka writes
    record-less batches uncompressed."""
    if compression != Compression.NONE and count:
        body = compress(compression, body, compression_level)
    elif not count:
        compression = Compression.NONE
    attributes = compression
    if delete_horizon:
        attributes |= DELETE_HORIZON_BIT
    if timestamp_type == TimestampType.LOG_APPEND_TIME:
        attributes |= TIMESTAMP_TYPE_BIT
    if is_transactional:
        attributes |= TRANSACTIONAL_BIT
    if is_control:
        attributes |= CONTROL_BIT
    try:
        tail = _TAIL.pack(
            attributes,
            count - 1 if last_offset_delta is None else last_offset_delta,
            base_ts,
            max_ts,
            producer_id,
            producer_epoch,
            base_sequence,
            count,
        )
        crc = crc32c(body, crc32c(tail))
        head = _HEAD.pack(
            base_offset,
            HEADER_SIZE - LOG_OVERHEAD + len(body),
            partition_leader_epoch,
            MAGIC,
            crc,
        )
    except struct.error as exc:
        raise ValueError(f"record batch field out of range: {exc}") from None
    return b"".join((head, tail, body))
