"""The log cleaner's key scan: per record of a batch, its offset, its key and whether its value
is null, without building records (:func:`scan_keys`).

Format: a batch is the header of :mod:`tidelog.records.batch_header` and its records section
(one record's layout in :mod:`tidelog.records.record`), decompressed once when the codec bits
are not 0. Values and headers are skipped over; nothing but keys is copied.

Two ways to the same answer:

- **Shape patterns** (C speed, no per-record Python). Nearly every batch a producer writes is
  uniform: every record has the same key length, the same value length (or a null value), no
  headers, and offset deltas 0 .. n-1. For such a *shape* (key length, value length, record
  count) one regular expression describes the whole records section: per record its length
  varint (the exact number of bytes its fields must then take), attributes, a timestamp delta
  of 1 to 5 bytes, the literal offset delta, the key length, a group around the key, the value
  length and value, and header count 0. One ``fullmatch`` checks the section and its groups are
  the keys. Each record has exactly one way to match (a varint's end is fixed by its bytes), so
  matching is linear and a match means the walk below would give the same answer. Compiling
  costs what walking a few dozen batches does, so a shape is compiled once it has been seen
  :data:`SHAPE_AFTER` times, and at most :data:`MAX_SHAPES` patterns are kept (the least
  recently used goes).
- **A varint walk** in Python, for every other batch and for a batch whose shape pattern does
  not match (it then finds the same keys or the defect).

Invariants (both ways): the header and CRC are checked; every record's length, offset delta
(0 .. lastOffsetDelta) and key lie inside it, a value is present or null, and the records fill
the section exactly; else :class:`CorruptRecordError`, never a low-level exception. Offsets
are ascending when the deltas are (the fast path returns a ``range``).

No I/O; the pattern cache is process-wide and safe to share between threads (a race compiles
a pattern twice, nothing worse).
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

from tidelog.records.batch_header import (
    HEADER_SIZE,
    BatchHeader,
    Compression,
    check_header,
    compute_crc,
    parse_header,
)
from tidelog.records.compression import DEFAULT_MAX_DECOMPRESSED_SIZE, decompress
from tidelog.records.errors import CorruptRecordError
from tidelog.records.varint import UNZIGZAG, UVARINT, decode_varint, decode_varlong, encode_varint

#: A shape is compiled on its this-many-th sighting (0: at once, for tests).
SHAPE_AFTER = 8
#: Compiled shape patterns kept.
MAX_SHAPES = 32
#: Batches with more records are always walked (a pattern grows with the record count).
MAX_SHAPE_RECORDS = 1024
#: Timestamp deltas of up to this many varint bytes (2^34 ms, about 200 days) fit a pattern.
_MAX_TS_BYTES = 5

_CONT = b"[\x80-\xff]"  # a varint byte with another after it
_LAST = b"[\x00-\x7f]"  # a varint's last byte

_Shape = tuple[int, int, int]  # key length, value length (-1: null), record count
_patterns: OrderedDict[_Shape, re.Pattern[bytes]] = OrderedDict()
_seen: dict[_Shape, int] = {}
_last_by_count: dict[int, _Shape] = {}  # record count -> the shape that matched last


class KeyScan(NamedTuple):
    header: BatchHeader
    #: Per record: its offset, its key (None: no key), whether its value is null.
    offsets: Sequence[int]
    keys: Sequence[bytes | None]
    nulls: Sequence[bool]
    #: The length of every key when all have one length (a shape batch), else -1.
    key_size: int = -1


def scan_keys(
    buf: bytes,
    pos: int = 0,
    *,
    header: BatchHeader | None = None,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> KeyScan:
    """Offsets, keys and null flags of the batch at ``pos`` (see the module docstring);
    ``header``, if given, is the caller's :func:`parse_header` of it (checked here)."""
    if header is None:
        header = parse_header(buf, pos)
    check_header(header, len(buf) - pos, pos)
    crc = compute_crc(buf, pos, header.size)
    if crc != header.crc:
        raise CorruptRecordError(
            f"record batch at byte {pos} fails its CRC: stored {header.crc}, computed {crc}", pos
        )
    start = pos + HEADER_SIZE
    end = pos + header.size
    if header.compression == Compression.NONE:
        data = buf
    else:
        with memoryview(buf) as view:
            try:
                data = decompress(header.compression, view[start:end], max_decompressed_size)
            except CorruptRecordError as exc:
                raise CorruptRecordError(f"record batch at byte {pos}: {exc}", pos) from exc
        start, end = 0, len(data)
    n = header.records_count
    if 0 < n <= MAX_SHAPE_RECORDS and header.last_offset_delta == n - 1:
        found = _match_shape(data, start, end, n)
        if found is not None:
            keys, null, key_size = found
            base = header.base_offset
            return KeyScan(header, range(base, base + n), keys, (null,) * n, key_size)
    return _walk(header, pos, data, start, end)


def _match_shape(
    data: bytes, start: int, end: int, n: int
) -> tuple[Sequence[bytes], bool, int] | None:
    """(keys, values are null, key length) if the section matches its first record's shape,
    else None."""
    # Most batches have the shape of the last one with as many records: try that first.
    last = _last_by_count.get(n)
    if last is not None:
        known = _patterns.get(last)
        if known is not None and (found := known.fullmatch(data, start, end)) is not None:
            return found.groups(), last[1] < 0, last[0]
    shape = _first_shape(data, start, end, n)
    if shape is None:
        return None
    pattern = _patterns.get(shape)
    if pattern is None:
        seen = _seen.get(shape, 0) + 1
        if seen < SHAPE_AFTER:
            if len(_seen) > 4096:
                _seen.clear()  # bounded: shapes seen once long ago are forgotten
            _seen[shape] = seen
            return None
        _seen.pop(shape, None)
        pattern = _compile(*shape)
        _patterns[shape] = pattern
        while len(_patterns) > MAX_SHAPES:
            with contextlib.suppress(KeyError):  # another thread emptied it meanwhile
                _patterns.popitem(last=False)
    else:
        with contextlib.suppress(KeyError):  # another thread evicted it meanwhile
            _patterns.move_to_end(shape)
    match = pattern.fullmatch(data, start, end)
    if match is None:
        return None
    if len(_last_by_count) > MAX_SHAPE_RECORDS:
        _last_by_count.clear()
    _last_by_count[n] = shape
    return match.groups(), shape[1] < 0, shape[0]


def _first_shape(data: bytes, start: int, end: int, n: int) -> _Shape | None:
    """The shape of the first record, None if it has none a pattern covers (or is bad: the
    walk then reports it)."""
    try:
        length, p = decode_varint(data, start)
        rec_end = p + length
        _, p = decode_varlong(data, p + 1)  # attributes, timestamp delta
        _, p = decode_varint(data, p)  # offset delta
        klen, p = decode_varint(data, p)
        if klen < 0 or p + klen >= rec_end:
            return None  # no key (a compacted log drops such records), or a bad one
        vlen, q = decode_varint(data, p + klen)
    except CorruptRecordError:
        return None
    if rec_end > end or vlen < -1 or q + max(vlen, 0) >= rec_end:
        return None
    return klen, vlen, n


def _compile(klen: int, vlen: int, n: int) -> re.Pattern[bytes]:
    # Bytes after the offset delta: key length, key (a group), value length and value, no
    # headers; before it: record length, attributes 0 and the timestamp delta.
    tail = re.escape(encode_varint(klen)) + b"(.{%d})" % klen + re.escape(encode_varint(vlen))
    if vlen > 0:
        tail += b".{%d}" % vlen
    tail += b"\x00"
    fixed = 1 + len(encode_varint(klen)) + klen + len(encode_varint(vlen)) + max(vlen, 0) + 1
    parts = []
    for delta in range(n):
        od = UVARINT[delta << 1]  # zigzag of a non-negative delta
        size = fixed + len(od)
        heads = [
            re.escape(encode_varint(size + ts)) + b"\x00" + _CONT * (ts - 1) + _LAST
            for ts in range(1, _MAX_TS_BYTES + 1)
        ]
        parts.append(b"(?:" + b"|".join(heads) + b")" + re.escape(od) + tail)
    return re.compile(b"".join(parts), re.DOTALL)


def _walk(header: BatchHeader, pos: int, data: bytes, p: int, end: int) -> KeyScan:
    zz = UNZIGZAG
    base = header.base_offset
    last_delta = header.last_offset_delta
    offsets: list[int] = []
    keys: list[bytes | None] = []
    nulls: list[bool] = []
    # The one- and two-byte varint cases are inlined, as in tidelog.records.reader.
    try:
        for index in range(header.records_count):
            b = data[p]
            if b < 0x80:
                length = zz[b]
                p += 1
            elif (b2 := data[p + 1]) < 0x80:
                length = zz[(b & 0x7F) | (b2 << 7)]
                p += 2
            else:
                length, p = decode_varint(data, p)
            rec_end = p + length
            if length < 0 or rec_end > end:
                raise ValueError(f"record {index} has length {length}")
            q = p + 1  # record attributes
            b = data[q]
            if b < 0x80:
                q += 1
            elif data[q + 1] < 0x80:
                q += 2
            else:
                _, q = decode_varlong(data, q)
            b = data[q]
            if b < 0x80:
                delta = zz[b]
                q += 1
            elif (b2 := data[q + 1]) < 0x80:
                delta = zz[(b & 0x7F) | (b2 << 7)]
                q += 2
            else:
                delta, q = decode_varint(data, q)
            if delta < 0 or delta > last_delta:
                raise ValueError(f"record {index} has offset delta {delta}")
            b = data[q]
            if b < 0x80:
                klen = zz[b]
                q += 1
            elif (b2 := data[q + 1]) < 0x80:
                klen = zz[(b & 0x7F) | (b2 << 7)]
                q += 2
            else:
                klen, q = decode_varint(data, q)
            key: bytes | None = None
            if klen >= 0:
                if q + klen > rec_end:
                    raise ValueError(f"record {index} key length {klen} runs past the record")
                key = data[q : q + klen]
                q += klen
            elif klen != -1:
                raise ValueError(f"record {index} has key length {klen}")
            # A null value is the single byte 0x01 (varint -1); anything else has a length.
            if q >= rec_end:
                raise ValueError(f"record {index} ends before its value")
            offsets.append(base + delta)
            keys.append(key)
            nulls.append(data[q] == 1)
            p = rec_end
    except (ValueError, IndexError, CorruptRecordError) as exc:
        what = str(exc) if not isinstance(exc, IndexError) else "a record runs past the data"
        raise CorruptRecordError(f"record batch at byte {pos}: {what}", pos) from exc
    if p != end:
        raise CorruptRecordError(
            f"record batch at byte {pos}: {end - p} bytes follow its {header.records_count} "
            f"records",
            pos,
        )
    return KeyScan(header, offsets, keys, nulls)
