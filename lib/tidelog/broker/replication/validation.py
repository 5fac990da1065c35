"""Checks of a produce request's batches before they are appended (Kafka's LogValidator role).

Only batch headers are read — never a record — so the checks cost a few struct unpacks per
batch: structure (sizes, magic), no control batches from clients, a known codec, zstd only from
Produce v7 on, CreateTime not more than an hour in the future and not negative. The CRC is
checked by the append itself (:meth:`PartitionLog.append`), over a memoryview. A magic 0/1
message set (an old client's Produce v0-2) is refused with UNSUPPORTED_FOR_MESSAGE_FORMAT, which
clients do not retry, rather than CORRUPT_MESSAGE, which they do.
"""

from __future__ import annotations

import time

from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import (
    CONTROL_BIT,
    TIMESTAMP_TYPE_BIT,
    BatchHeader,
    Compression,
    check_header,
    parse_header,
)

#: Byte of the magic in a record batch and in a magic 0/1 message set alike.
_MAGIC_AT = 16
#: A v0 message's fixed part: crc, magic, attributes, key and value lengths.
_OLD_MESSAGE_MIN = 14
#: Kafka 4.0's message.timestamp.after.max.ms default: one hour into the future.
MAX_FUTURE_MS = 3_600_000


def old_message_set(view: memoryview) -> str | None:
    """Why ``view`` is refused as a magic 0/1 message set, or None. Its magic byte sits where a
    batch's does (after offset, size and CRC); the size must cover at least a v0 message's
    fixed fields inside the buffer, so zeros or noise stay CORRUPT_MESSAGE."""
    if len(view) <= _MAGIC_AT or view[_MAGIC_AT] >= 2:
        return None
    size = int.from_bytes(view[8:12], "big", signed=True)
    if not _OLD_MESSAGE_MIN <= size <= len(view) - 12:
        return None
    return f"magic {view[_MAGIC_AT]} message sets are not supported: send record batches (magic 2)"


def batch_headers(view: memoryview) -> list[BatchHeader]:
    """Batch headers of a produce request's records (structure checked, CRC left to append)."""
    headers = []
    pos, end = 0, len(view)
    while pos < end:
        header = parse_header(view, pos)
        check_header(header, end - pos, pos)
        headers.append(header)
        pos += header.size
    return headers


def check_batches(headers: list[BatchHeader], log_append_time: bool, version: int) -> tuple[
    ErrorCode, str | None
]:
    now = time.time_ns() // 1_000_000
    for h in headers:
        if h.attributes & CONTROL_BIT:
            return ErrorCode.INVALID_RECORD, "clients may not write control batches"
        if h.compression > Compression.ZSTD:
            return ErrorCode.CORRUPT_MESSAGE, f"unknown compression codec {h.compression}"
        if h.compression == Compression.ZSTD and version < 7:
            # Kafka's rule: zstd needs Produce v7+, so old consumers never meet it unasked.
            return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7 or later"
        if log_append_time or h.attributes & TIMESTAMP_TYPE_BIT:
            continue
        if h.max_timestamp > now + MAX_FUTURE_MS:
            return ErrorCode.INVALID_TIMESTAMP, (
                f"timestamp {h.max_timestamp} is more than {MAX_FUTURE_MS} ms in the future"
            )
        if h.base_timestamp < -1 or h.max_timestamp < -1:
            return ErrorCode.INVALID_TIMESTAMP, "negative record timestamp"
    return ErrorCode.NONE, None


