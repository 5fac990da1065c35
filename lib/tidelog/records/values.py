"""A fast path of the batch builder for the commonest records: value only, no key, no headers,
one timestamp.

Format: exactly what :func:`tidelog.records.builder.build_batch` produces for
``[NewRecord(v, timestamp=ts) for v in values]`` (the tests compare the bytes): every record is
``length, attributes 0, timestampDelta 0, offsetDelta, key -1 (null), value length, value,
0 headers``.

Speed: instead of eight appends per record, one small prefix per record is made in a list
comprehension from lookup tables (the offsetDelta and the constant bytes around it come from a
table built once), and the prefixes and values are interleaved with slice assignment, so the
records section is a single ``b"".join``. Null values or records past the tables' range fall
back to the general builder.

Crash behaviour: as build_batch (ValueError for an empty list, TypeError for non-bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from tidelog.records.batch_header import Compression, TimestampType
from tidelog.records.builder import build_batch, finish_batch
from tidelog.records.record import NewRecord
from tidelog.records.varint import TABLE_SIZE, UVARINT, encode_uvarint

#: Records per fast batch: offset deltas below this come from _HEADS.
_MAX_FAST = 1 << 15
#: attributes 0, timestampDelta 0, offsetDelta d, key length -1: the bytes after the length.
_HEADS: list[bytes] = [b"\x00\x00" + encode_uvarint(d << 1) + b"\x01" for d in range(_MAX_FAST)]
#: The fixed part of a record's length for offset delta d (all but the value and its length),
#: the trailing header count included.
_FIXED: list[int] = [len(h) + 1 for h in _HEADS]
#: A zero byte (the previous record's header count) followed by a varint, so each record's
#: prefix needs no extra concatenation.
_ZUV: list[bytes] = [b"\x00" + enc for enc in UVARINT]


_CACHED_LENGTHS = 16


@lru_cache(maxsize=32)
def _prefixes(ln: int) -> list[bytes]:
    """Every record prefix (see encode_value_records) for values of length ``ln``."""
    vl = UVARINT[ln << 1]
    return [
        _ZUV[(fixed + len(vl) + ln) << 1] + head + vl
        for fixed, head in zip(_FIXED, _HEADS, strict=True)
    ]


def encode_value_records(values: Sequence[bytes]) -> bytes | None:
    """The records section for value-only records, or None when the fast path does not apply
    (a null value, too many records, a value over 8 KiB)."""
    n = len(values)
    if n == 0 or n > _MAX_FAST or None in values:
        return None
    lens = list(map(len, values))
    if max(lens) >= (TABLE_SIZE >> 1) - 16:
        return None
    distinct = set(lens)
    if len(distinct) <= _CACHED_LENGTHS:
        # Typical input (log lines, fixed-size payloads) has few distinct lengths: every
        # prefix then comes ready-made from a per-length table, one lookup per record, or a
        # single slice when all values are alike.
        if len(distinct) == 1:
            parts = _prefixes(lens[0])[:n]
        else:
            tables = {ln: _prefixes(ln) for ln in distinct}
            parts = [tables[ln][d] for d, ln in enumerate(lens)]
    else:
        uv = UVARINT
        zuv = _ZUV
        heads = _HEADS
        fixed = _FIXED
        parts = [
            zuv[(fixed[d] + len(uv[ln << 1]) + ln) << 1] + heads[d] + uv[ln << 1]
            for d, ln in enumerate(lens)
        ]
    # prefix_i = (header count 0 of record i-1) + length_i + head_i + valueLength_i; the first
    # prefix drops that leading zero and the last record's header count ends the section.
    parts[0] = parts[0][1:]
    parts.append(b"\x00")
    out: list[bytes] = [b""] * (2 * n + 1)
    out[0::2] = parts
    out[1::2] = values
    return b"".join(out)


def build_value_batch(
    values: Sequence[bytes | None],
    *,
    timestamp: int,
    compression: int = Compression.NONE,
    compression_level: int | None = None,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
) -> bytes:
    """One batch of value-only records sharing ``timestamp`` (ms)."""
    section = encode_value_records(values)  # type: ignore[arg-type]
    if section is None:
        return build_batch(
            [NewRecord(v, None, (), timestamp) for v in values],
            compression=compression, compression_level=compression_level,
            producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
        )
    return finish_batch(
        section, len(values), timestamp, timestamp,
        compression=compression, compression_level=compression_level,
        producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
        timestamp_type=TimestampType.CREATE_TIME,
    )
