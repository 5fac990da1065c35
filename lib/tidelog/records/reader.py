"""Decode Kafka record batches v2 into :class:`Record` tuples, lazily and strictly.

Format: a batch is the 61-byte header of :mod:`tidelog.records.batch_header` followed by its
records section (see :mod:`tidelog.records.record` for one record's layout), compressed as one
block when the codec bits are not 0.

:func:`decode_batch` checks the header (and by default the CRC) at once and returns a
:class:`DecodedBatch`; its :meth:`DecodedBatch.records` decompresses on the first call (the
result is kept) and then decodes one record per iteration step.

Invariants checked for every record, each failure raising :class:`CorruptRecordError`:
- its length varint is >= 0 and it lies inside the records section, and its fields use exactly
  that many bytes;
- key, value and header value lengths are >= 0 or exactly -1 (null); header keys are >= 0 long
  and valid UTF-8; the header count is >= 0 and fits the record;
- its offsetDelta lies in 0 .. lastOffsetDelta;
- the section holds exactly recordsCount records and nothing after them.

Error positions: for an uncompressed batch ``position`` is the byte in the caller's buffer where
the bad record starts; for a compressed one it is the batch's position (the message gives the
offset inside the decompressed data). Low-level exceptions (IndexError, UnicodeDecodeError, codec
errors) never escape.

Lifetime: a DecodedBatch keeps a reference to the caller's buffer, not a copy, until
``records()`` is first called; a ``bytes`` buffer is read in place, a bytearray or memoryview
section is copied once into ``bytes`` then. Mutating the buffer before that is the caller's bug
(the CRC was checked at decode time).
"""

from __future__ import annotations

from collections.abc import Iterator

from tidelog.records.batch_header import (
    HEADER_SIZE,
    BatchHeader,
    Compression,
    TimestampType,
    check_header,
    iter_batches,
    parse_header,
    validate_batch,
)
from tidelog.records.compression import DEFAULT_MAX_DECOMPRESSED_SIZE, decompress
from tidelog.records.crc import BytesLike
from tidelog.records.errors import CorruptRecordError
from tidelog.records.record import Header, Record
from tidelog.records.varint import UNZIGZAG, decode_varint, decode_varlong

_SEQUENCE_MODULUS = 1 << 31
_new_tuple = tuple.__new__


class DecodedBatch:
    """A checked batch header plus lazy access to its records."""

    __slots__ = ("_buf", "_data", "_max_size", "header", "position")

    def __init__(
        self, buf: BytesLike, position: int, header: BatchHeader, max_decompressed_size: int
    ) -> None:
        self.header = header
        self.position = position
        self._buf: BytesLike | None = buf
        self._max_size = max_decompressed_size
        # (data, start, end, origin): the records section is data[start:end]; origin is the
        # caller-buffer position of data[0], or None when data is decompressed.
        self._data: tuple[bytes, int, int, int | None] | None = None

    @property
    def next_position(self) -> int:
        """Position just after this batch in the caller's buffer."""
        return self.position + self.header.size

    def __repr__(self) -> str:
        h = self.header
        return (
            f"DecodedBatch(position={self.position}, base_offset={h.base_offset}, "
            f"count={h.records_count}, compression={h.compression_name})"
        )

    def _section(self) -> tuple[bytes, int, int, int | None]:
        if self._data is not None:
            return self._data
        buf = self._buf
        assert buf is not None
        start = self.position + HEADER_SIZE
        end = self.position + self.header.size
        codec = self.header.compression
        if codec == Compression.NONE:
            if type(buf) is bytes:
                data: tuple[bytes, int, int, int | None] = (buf, start, end, 0)
            else:
                with memoryview(buf) as view:
                    section = bytes(view[start:end])
                data = (section, 0, len(section), start)
        else:
            with memoryview(buf) as view:
                try:
                    plain = decompress(codec, view[start:end], self._max_size)
                except CorruptRecordError as exc:
                    raise CorruptRecordError(
                        f"record batch at byte {self.position}: {exc}", self.position
                    ) from exc
            data = (plain, 0, len(plain), None)
        self._data = data
        self._buf = None  # the caller's buffer is no longer needed
        return data

    def records(self) -> Iterator[Record]:
        """Decode the records one by one (decompressing the section on the first call)."""
        data, start, end, origin = self._section()
        return _decode_records(self.header, self.position, data, start, end, origin)


def _corrupt(
    batch_pos: int, origin: int | None, where: int, what: str
) -> CorruptRecordError:
    if origin is None:
        return CorruptRecordError(
            f"record batch at byte {batch_pos}: {what} at byte {where} of its decompressed "
            f"records",
            batch_pos,
        )
    return CorruptRecordError(
        f"record batch at byte {batch_pos}: {what} at byte {origin + where}", origin + where
    )


def _decode_headers(
    data: bytes, pos: int, rec_end: int
) -> tuple[tuple[Header, ...], int]:
    count, pos = decode_varint(data, pos)
    # Each header takes at least two bytes (two length varints): bounds the loop on garbage.
    if count < 0 or count * 2 > rec_end - pos:
        raise ValueError(f"header count {count} does not fit the record")
    headers: list[Header] = []
    for _ in range(count):
        klen, pos = decode_varint(data, pos)
        if klen < 0 or pos + klen > rec_end:
            raise ValueError(f"header key length {klen} is invalid")
        name = data[pos : pos + klen].decode("utf-8")
        pos += klen
        vlen, pos = decode_varint(data, pos)
        if vlen >= 0:
            if pos + vlen > rec_end:
                raise ValueError(f"header value length {vlen} runs past the record")
            headers.append((name, data[pos : pos + vlen]))
            pos += vlen
        elif vlen == -1:
            headers.append((name, None))
        else:
            raise ValueError(f"header value length {vlen} is invalid")
    return tuple(headers), pos


def _decode_records(
    header: BatchHeader,
    batch_pos: int,
    data: bytes,
    pos: int,
    end: int,
    origin: int | None,
) -> Iterator[Record]:
    base_offset = header.base_offset
    base_ts = header.base_timestamp
    last_delta = header.last_offset_delta
    log_append_ts = (
        header.max_timestamp if header.timestamp_type == TimestampType.LOG_APPEND_TIME else None
    )
    base_seq = header.base_sequence
    zz = UNZIGZAG
    new = _new_tuple
    record_type = Record
    rec_start = pos
    # The one- and two-byte varint cases are inlined: they are nearly every length and delta of
    # records under 8 KiB, and a function call per field would halve the speed.
    try:
        for index in range(header.records_count):
            rec_start = pos
            b = data[pos]
            if b < 0x80:
                length = zz[b]
                pos += 1
            elif (b2 := data[pos + 1]) < 0x80:
                length = zz[(b & 0x7F) | (b2 << 7)]
                pos += 2
            else:
                length, pos = decode_varint(data, pos)
            rec_end = pos + length
            if length < 0 or rec_end > end:
                raise ValueError(
                    f"record {index} has length {length}, {end - pos} bytes remain in the batch"
                )
            pos += 1  # record attributes: unused by Kafka
            b = data[pos]
            if b < 0x80:
                ts_delta = zz[b]
                pos += 1
            elif (b2 := data[pos + 1]) < 0x80:
                ts_delta = zz[(b & 0x7F) | (b2 << 7)]
                pos += 2
            else:
                ts_delta, pos = decode_varlong(data, pos)
            b = data[pos]
            if b < 0x80:
                offset_delta = zz[b]
                pos += 1
            elif (b2 := data[pos + 1]) < 0x80:
                offset_delta = zz[(b & 0x7F) | (b2 << 7)]
                pos += 2
            else:
                offset_delta, pos = decode_varint(data, pos)
            if offset_delta < 0 or offset_delta > last_delta:
                raise ValueError(
                    f"record {index} has offset delta {offset_delta} outside 0..{last_delta}"
                )
            b = data[pos]
            if b < 0x80:
                klen = zz[b]
                pos += 1
            elif (b2 := data[pos + 1]) < 0x80:
                klen = zz[(b & 0x7F) | (b2 << 7)]
                pos += 2
            else:
                klen, pos = decode_varint(data, pos)
            if klen >= 0:
                if pos + klen > rec_end:
                    raise ValueError(f"record {index} key length {klen} runs past the record")
                key: bytes | None = data[pos : pos + klen]
                pos += klen
            elif klen == -1:
                key = None
            else:
                raise ValueError(f"record {index} has key length {klen}")
            b = data[pos]
            if b < 0x80:
                vlen = zz[b]
                pos += 1
            elif (b2 := data[pos + 1]) < 0x80:
                vlen = zz[(b & 0x7F) | (b2 << 7)]
                pos += 2
            else:
                vlen, pos = decode_varint(data, pos)
            if vlen >= 0:
                if pos + vlen > rec_end:
                    raise ValueError(f"record {index} value length {vlen} runs past the record")
                value: bytes | None = data[pos : pos + vlen]
                pos += vlen
            elif vlen == -1:
                value = None
            else:
                raise ValueError(f"record {index} has value length {vlen}")
            if data[pos] == 0:
                headers: tuple[Header, ...] = ()
                pos += 1
            else:
                headers, pos = _decode_headers(data, pos, rec_end)
            if pos != rec_end:
                raise ValueError(
                    f"record {index} declares {length} bytes but its fields use "
                    f"{pos - rec_end + length}"
                )
            yield new(
                record_type,
                (
                    base_offset + offset_delta,
                    base_ts + ts_delta if log_append_ts is None else log_append_ts,
                    key,
                    value,
                    headers,
                    -1 if base_seq == -1 else (base_seq + offset_delta) % _SEQUENCE_MODULUS,
                    pos - rec_start,
                ),
            )
    except CorruptRecordError as exc:
        raise _corrupt(batch_pos, origin, rec_start, str(exc)) from exc
    except (ValueError, IndexError) as exc:
        # UnicodeDecodeError is a ValueError; IndexError means a field ran off the buffer.
        what = str(exc) if not isinstance(exc, IndexError) else "a record runs past the data"
        raise _corrupt(batch_pos, origin, rec_start, what) from exc
    if pos != end:
        raise _corrupt(
            batch_pos,
            origin,
            pos,
            f"{end - pos} bytes follow the batch's {header.records_count} records",
        )


def decode_batch(
    buf: BytesLike,
    pos: int = 0,
    *,
    verify_crc: bool = True,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> DecodedBatch:
    """Check the batch at ``pos`` (structure, and CRC unless ``verify_crc`` is False) and
    return it for lazy record decoding."""
    if verify_crc:
        header = validate_batch(buf, pos)
    else:
        header = parse_header(buf, pos)
        check_header(header, len(buf) - pos, pos)
    return DecodedBatch(buf, pos, header, max_decompressed_size)


def iter_decoded_batches(
    buf: BytesLike,
    pos: int = 0,
    end: int | None = None,
    *,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> Iterator[DecodedBatch]:
    """Yield every batch in ``buf[pos:end]`` in order, each CRC-checked.

    Raises CorruptRecordError at the first invalid or truncated batch, after yielding the valid
    ones before it. Bytes after ``end`` are never looked at.
    """
    for position, header in iter_batches(buf, pos, end):
        yield DecodedBatch(buf, position, header, max_decompressed_size)
