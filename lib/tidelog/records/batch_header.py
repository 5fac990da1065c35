"""The 61-byte header of a Kafka record batch v2 (magic 2), read and checked without touching
records.

Format (all big-endian), exactly as Apache Kafka's DefaultRecordBatch::

    offset  size  field
         0     8  baseOffset            first offset of the batch
         8     4  batchLength           bytes after this field (whole batch = batchLength + 12)
        12     4  partitionLeaderEpoch  stamped by the leader; outside the CRC
        16     1  magic                 always 2
        17     4  crc                   CRC32C (unsigned) of bytes 21 .. end of batch
        21     2  attributes            bits 0-2 codec, 3 timestamp type, 4 transactional,
                                        5 control, 6 delete horizon set
        23     4  lastOffsetDelta
        27     8  baseTimestamp         (the delete horizon when attribute bit 6 is set)
        35     8  maxTimestamp
        43     8  producerId
        51     2  producerEpoch
        53     4  baseSequence
        57     4  recordsCount
        61     .  records (compressed as one block when the codec is not 0)

Invariants: ``baseOffset``, ``batchLength``, ``partitionLeaderEpoch`` and ``magic`` are outside
the CRC, so a broker assigns offsets and stamps the leader epoch by rewriting them in place
without recomputing it. Anything from ``attributes`` on is covered; changing it (for example
LogAppendTime) needs :func:`restamp_crc`.

This module is sans-I/O and does no per-record work: it is what the broker's produce path and
the storage recovery scan use. Malformed input raises :class:`CorruptRecordError` (or its
subclass :class:`TruncatedBatchError` when the buffer simply ends early), never struct.error.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from tidelog.records.crc import BytesLike, crc32c
from tidelog.records.errors import CorruptRecordError, TruncatedBatchError

HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
#: The bytes before batchLength's count starts: baseOffset + batchLength.
LOG_OVERHEAD = 12
#: The smallest legal batchLength: a header with no records.
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD  # 49
MAGIC = 2

BASE_OFFSET_POS = 0
BATCH_LENGTH_POS = 8
LEADER_EPOCH_POS = 12
MAGIC_POS = 16
CRC_POS = 17
ATTRIBUTES_POS = 21
MAX_TIMESTAMP_POS = 35

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_OFFSET_AND_LENGTH = struct.Struct(">qi")

# Attribute bits.
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20
DELETE_HORIZON_BIT = 0x40

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
NO_PARTITION_LEADER_EPOCH = -1
NO_TIMESTAMP = -1


class Compression:
    """Codec ids of attribute bits 0-2, as Kafka numbers them."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4

    NAMES = ("none", "gzip", "snappy", "lz4", "zstd")


class TimestampType:
    """Attribute bit 3: who set the timestamps."""

    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class BatchHeader(NamedTuple):
    """The decoded header fields of one record batch."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies: batchLength + 12."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def compression_name(self) -> str:
        codec = self.attributes & COMPRESSION_MASK
        return Compression.NAMES[codec] if codec < len(Compression.NAMES) else f"unknown({codec})"

    @property
    def timestamp_type(self) -> int:
        return 1 if self.attributes & TIMESTAMP_TYPE_BIT else 0

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_BIT)

    @property
    def has_delete_horizon(self) -> bool:
        return bool(self.attributes & DELETE_HORIZON_BIT)

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record, wrapping at 2**31 as Kafka does; -1 when none."""
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) % (1 << 31)


def read_size(buf: BytesLike, pos: int = 0) -> int | None:
    """Total size of the batch starting at ``pos`` (batchLength + 12), or None if fewer than
    12 bytes are available. Used to frame batches in a stream before the whole batch is there."""
    if len(buf) - pos < LOG_OVERHEAD:
        return None
    _, length = _OFFSET_AND_LENGTH.unpack_from(buf, pos)
    return int(length) + LOG_OVERHEAD


def parse_header(buf: BytesLike, pos: int = 0) -> BatchHeader:
    """Decode the header at ``pos`` without any check beyond there being 61 bytes."""
    if len(buf) - pos < HEADER_SIZE:
        raise TruncatedBatchError(
            f"record batch header needs {HEADER_SIZE} bytes, {max(len(buf) - pos, 0)} available",
            pos,
        )
    return BatchHeader._make(HEADER.unpack_from(buf, pos))


def check_header(header: BatchHeader, available: int, pos: int = 0) -> None:
    """Structural checks that need no CRC: magic, sizes, counts, codec.

    ``available`` is how many bytes of the buffer start at ``pos``.
    """
    if header.magic != MAGIC:
        raise CorruptRecordError(
            f"record batch at byte {pos} has magic {header.magic}, only magic 2 is supported", pos
        )
    if header.batch_length < MIN_BATCH_LENGTH:
        raise CorruptRecordError(
            f"record batch at byte {pos} has batchLength {header.batch_length}, "
            f"less than the header's {MIN_BATCH_LENGTH}",
            pos,
        )
    if header.size > available:
        raise TruncatedBatchError(
            f"record batch at byte {pos} needs {header.size} bytes, {available} available", pos
        )
    if header.records_count < 0 or header.last_offset_delta < 0:
        raise CorruptRecordError(
            f"record batch at byte {pos} has recordsCount {header.records_count} and "
            f"lastOffsetDelta {header.last_offset_delta}",
            pos,
        )
    if header.records_count > header.last_offset_delta + 1:
        # Compaction may leave fewer records than the delta span, never more.
        raise CorruptRecordError(
            f"record batch at byte {pos} claims {header.records_count} records in an offset "
            f"span of {header.last_offset_delta + 1}",
            pos,
        )
    if header.compression >= len(Compression.NAMES):
        raise CorruptRecordError(
            f"record batch at byte {pos} uses unknown compression codec {header.compression}", pos
        )


def compute_crc(buf: BytesLike, pos: int, size: int) -> int:
    """CRC32C over attributes .. end of the batch at ``pos`` of total ``size`` bytes."""
    view = memoryview(buf)[pos + ATTRIBUTES_POS : pos + size]
    try:
        return crc32c(view)
    finally:
        view.release()


def validate_batch(buf: BytesLike, pos: int = 0) -> BatchHeader:
    """Parse and fully check the batch at ``pos``: structure and CRC32C, no per-record work.

    Returns the header; raises CorruptRecordError (TruncatedBatchError if the buffer ends early).
    """
    header = parse_header(buf, pos)
    check_header(header, len(buf) - pos, pos)
    actual = compute_crc(buf, pos, header.size)
    if actual != header.crc:
        raise CorruptRecordError(
            f"record batch at byte {pos} fails its CRC: stored {header.crc}, computed {actual}",
            pos,
        )
    return header


def iter_batches(buf: BytesLike, pos: int = 0, end: int | None = None) -> Iterator[
    tuple[int, BatchHeader]
]:
    """Yield ``(position, header)`` for each valid batch in ``buf[pos:end]``, in order.

    Stops silently at ``end``; raises CorruptRecordError at the first invalid or truncated batch
    (the position tells where), after yielding every valid one before it.
    """
    if end is None:
        end = len(buf)
    view = memoryview(buf)[:end]
    try:
        while pos < end:
            header = validate_batch(view, pos)
            yield pos, header
            pos += header.size
    finally:
        view.release()


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    """Rewrite baseOffset in place (outside the CRC: no recomputation needed)."""
    _INT64.pack_into(buf, pos + BASE_OFFSET_POS, base_offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    """Rewrite partitionLeaderEpoch in place (outside the CRC)."""
    _INT32.pack_into(buf, pos + LEADER_EPOCH_POS, epoch)


def set_log_append_time(buf: bytearray | memoryview, pos: int, timestamp_ms: int) -> None:
    """Mark the batch at ``pos`` as LogAppendTime with ``timestamp_ms`` as its max timestamp, and
    recompute the CRC, as Kafka's broker does for topics with
    message.timestamp.type=LogAppendTime."""
    (attributes,) = _INT16.unpack_from(buf, pos + ATTRIBUTES_POS)
    _INT16.pack_into(buf, pos + ATTRIBUTES_POS, attributes | TIMESTAMP_TYPE_BIT)
    _INT64.pack_into(buf, pos + MAX_TIMESTAMP_POS, timestamp_ms)
    restamp_crc(buf, pos)


def restamp_crc(buf: bytearray | memoryview, pos: int = 0) -> None:
    """Recompute and store the CRC of the batch at ``pos`` after a change inside the CRC range."""
    size = read_size(buf, pos)
    if size is None:
        raise TruncatedBatchError("too few bytes for a record batch", pos)
    _UINT32.pack_into(buf, pos + CRC_POS, compute_crc(buf, pos, size))
