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

import re
from collections.abc import Sequence
from functools import lru_cache

from tidelog.records.batch_header import Compression, TimestampType
from tidelog.records.builder import build_batch, finish_batch
from tidelog.records.record import NewRecord
from tidelog.records.varint import TABLE_SIZE, UNZIGZAG, UVARINT, encode_uvarint

#: Records per fast batch: offset deltas below this come from the tables (every delta of
#: at most two varint bytes, so the tables are quick to build). Producers cap value-only
#: batches at this many records; a longer list falls back to the general builder.
MAX_FAST_RECORDS = TABLE_SIZE >> 1


@lru_cache(maxsize=1)
def _tables() -> tuple[list[bytes], list[int], list[bytes]]:
    """Lookup tables, built on first use (not at import: log-consume never needs them).

    heads[d]: attributes 0, timestampDelta 0, offsetDelta d, key length -1 (the bytes after a
    record's length); fixed[d]: the part of a record's length that is not the value or its
    length (the trailing header count included); zuv[u]: a zero byte (the previous record's
    header count) then the varint u, so each prefix needs no extra concatenation.
    """
    uv = UVARINT
    heads = [b"\x00\x00" + uv[d << 1] + b"\x01" for d in range(MAX_FAST_RECORDS)]
    fixed = [len(h) + 1 for h in heads]
    zuv = [b"\x00" + enc for enc in uv]
    return heads, fixed, zuv


_CACHED_LENGTHS = 16


@lru_cache(maxsize=32)
def _prefixes(ln: int) -> list[bytes]:
    """Every record prefix (see encode_value_records) for values of length ``ln``."""
    vl = UVARINT[ln << 1]
    heads, fixeds, zuv = _tables()
    return [
        zuv[(fixed + len(vl) + ln) << 1] + head + vl
        for fixed, head in zip(fixeds, heads, strict=True)
    ]


def encode_value_records(values: Sequence[bytes]) -> bytes | None:
    """The records section for value-only records, or None when the fast path does not apply
    (a null value, too many records, a value over 8 KiB)."""
    n = len(values)
    if n == 0 or n > MAX_FAST_RECORDS or None in values:
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
        heads, fixed, zuv = _tables()
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
    is_transactional: bool = False,
) -> bytes:
    """One batch of value-only records sharing ``timestamp`` (ms)."""
    section = encode_value_records(values)  # type: ignore[arg-type]
    if section is None:
        return build_batch(
            [NewRecord(v, None, (), timestamp) for v in values],
            compression=compression, compression_level=compression_level,
            producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
            is_transactional=is_transactional,
        )
    return finish_batch(
        section, len(values), timestamp, timestamp,
        compression=compression, compression_level=compression_level,
        producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
        is_transactional=is_transactional, timestamp_type=TimestampType.CREATE_TIME,
    )


# -- reading --------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _uniform_pattern(ln: int) -> re.Pattern[bytes]:
    """A regex for one value-only record whose value is ``ln`` bytes long (any width of its
    timestampDelta and offsetDelta, 1-3 bytes each), the value its one group."""
    vl = encode_uvarint(ln << 1)
    widths = {1: rb"[\x00-\x7f]", 2: rb"[\x80-\xff][\x00-\x7f]",
              3: rb"[\x80-\xff][\x80-\xff][\x00-\x7f]"}
    prefixes = []
    for ts_width in (1, 2, 3):
        for off_width in (1, 2, 3):
            size = 1 + ts_width + off_width + 1 + len(vl) + ln + 1
            prefixes.append(
                re.escape(encode_uvarint(size << 1)) + rb"\x00" + widths[ts_width]
                + widths[off_width] + rb"\x01" + re.escape(vl)
            )
    # The value is the one group, so findall returns the values themselves.
    one = rb"(?:" + rb"|".join(prefixes) + rb")(.{%d})\x00" % ln
    return re.compile(one, re.S)


def decode_values(section: bytes, start: int, end: int, count: int) -> list[bytes] | None:
    """The values of ``count`` records in ``section[start:end]`` when every record is value
    only (null key, no headers, non-null value), else None (use the general reader).

    Records are checked for their layout (lengths, null key, no headers, nothing left over);
    the CRC was checked with the batch header. Speed: when all values have the same length
    (fixed-size payloads) the whole section is matched by one compiled regex in C; otherwise
    one tight loop per record reads only the length fields.
    """
    if count <= 0:
        return [] if start == end and count == 0 else None
    found = _uniform_values(section, start, end, count)
    if found is not None:
        return found
    return _loop_values(section, start, end, count)


def _first_value_length(section: bytes, pos: int) -> int | None:
    """The value length of the value-only record at ``pos``, or None."""
    try:
        b = section[pos]
        pos += 1 if b < 0x80 else 2
        pos += 1  # attributes
        pos += 1 if section[pos] < 0x80 else 2  # timestampDelta
        pos += 1 if section[pos] < 0x80 else 2  # offsetDelta
        if section[pos] != 1:  # key must be null
            return None
        pos += 1
        b = section[pos]
        u = b if b < 0x80 else (b & 0x7F) | (section[pos + 1] << 7)
        return u >> 1 if not u & 1 else None
    except IndexError:
        return None


def _uniform_values(section: bytes, start: int, end: int, count: int) -> list[bytes] | None:
    ln = _first_value_length(section, start)
    if ln is None:
        return None
    one = _uniform_pattern(ln)
    # Every record of this shape is one of a few sizes: a cheap bound before any matching.
    smallest = ln + 6 + len(encode_uvarint(ln << 1))
    if not smallest * count <= end - start <= (smallest + 6) * count:
        return None
    with memoryview(section) as whole, whole[start:end] as view:
        # split() with the value as the one group: ["", v1, "", v2, ..., vN, ""] exactly when
        # the section is nothing but such records (anything else shows up between them).
        parts: list[bytes] = one.split(view)
    if len(parts) != 2 * count + 1 or any(parts[0::2]):
        return None
    return parts[1::2]


def _loop_values(section: bytes, start: int, end: int, count: int) -> list[bytes] | None:
    zz = UNZIGZAG
    values: list[bytes] = []
    append = values.append
    pos = start
    try:
        for _ in range(count):
            b = section[pos]
            if b < 0x80:
                length = zz[b]
                pos += 1
            else:
                length = zz[(b & 0x7F) | (section[pos + 1] << 7)] if section[pos + 1] < 0x80 \
                    else -1
                pos += 2
            rec_end = pos + length
            if length < 0 or rec_end > end:
                return None
            pos += 1  # attributes
            # timestampDelta and offsetDelta are not needed: skip their varints.
            while section[pos] & 0x80:
                pos += 1
            pos += 1
            while section[pos] & 0x80:
                pos += 1
            pos += 1
            if section[pos] != 1:  # a key: not value-only
                return None
            pos += 1
            b = section[pos]
            if b < 0x80:
                vlen = zz[b]
                pos += 1
            elif section[pos + 1] < 0x80:
                vlen = zz[(b & 0x7F) | (section[pos + 1] << 7)]
                pos += 2
            else:
                return None
            if vlen < 0 or pos + vlen + 1 != rec_end or section[rec_end - 1] != 0:
                return None
            append(section[pos:pos + vlen])
            pos = rec_end
    except IndexError:
        return None
    return values if pos == end else None


def join_values(section: bytes, start: int, end: int, count: int, sep: bytes) -> bytes | None:
    """The values of ``count`` value-only records in ``section[start:end]``, each followed by
    ``sep``, as one ``bytes``; None when not every record is value-only.

    When the values all have one length this is a single ``re.split`` over the section, in C,
    then one join: no Python code runs per record.
    """
    ln = _first_value_length(section, start) if count > 0 else None
    if ln is not None:
        one = _uniform_pattern(ln)
        with memoryview(section) as whole, whole[start:end] as view:
            # split() with the value as the one group: ["", v1, "", v2, ..., vN, ""] exactly
            # when the section is nothing but such records (anything else shows up between).
            parts: list[bytes] = one.split(view)
        if len(parts) == 2 * count + 1 and not any(parts[0::2]):
            parts[2::2] = [sep] * count
            return b"".join(parts)
    values = decode_values(section, start, end, count)
    if values is None:
        return None
    values.append(b"")
    return sep.join(values)
