"""Test helper: valid v2 record batches with opaque record bytes.

Storage never decodes records, so a batch here is a correct header (sizes, counts, CRC32C)
followed by filler bytes; each batch's bytes are unique so reads can be compared exactly.
"""

from __future__ import annotations

from tidelog.records.batch_header import HEADER, HEADER_SIZE, LOG_OVERHEAD, restamp_crc


def make_batch(
    count: int = 1,
    *,
    base_offset: int = 0,
    timestamp: int = 1_700_000_000_000,
    payload: int = 20,
    epoch: int = -1,
    tag: int = 0,
    producer_id: int = -1,
) -> bytearray:
    """One batch of ``count`` records, ``payload`` bytes of records, max timestamp given."""
    body = bytes((tag + i) % 251 for i in range(payload))
    length = HEADER_SIZE - LOG_OVERHEAD + len(body)
    buf = bytearray(
        HEADER.pack(
            base_offset, length, epoch, 2, 0, 0, count - 1, timestamp, timestamp,
            producer_id, -1, -1, count,
        )
    )
    buf += body
    restamp_crc(buf, 0)
    return buf


def concat(*batches: bytes | bytearray) -> bytearray:
    out = bytearray()
    for b in batches:
        out += b
    return out
