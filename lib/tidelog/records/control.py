"""Control records: the commit and abort markers that end a transaction on a partition.

Format (Kafka's EndTransactionMarker, all big-endian): a control batch (attributes bits 4
transactional and 5 control set, the transaction's producer id and epoch, base sequence -1)
holding exactly one record whose

- key is ``version int16 (0) | type int16`` (0 ABORT, 1 COMMIT), and
- value is ``version int16 (0) | coordinatorEpoch int32``.

Pure: bytes in, bytes out. A control record that does not decode raises CorruptRecordError;
a key with an unknown type decodes to that number (Kafka ignores unknown control types).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from tidelog.records.batch_header import BatchHeader
from tidelog.records.builder import build_batch
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import decode_batch
from tidelog.records.record import NewRecord

ABORT = 0
COMMIT = 1
_KEY = struct.Struct(">hh")
_VALUE = struct.Struct(">hi")


class Marker(NamedTuple):
    type: int  # ABORT or COMMIT
    coordinator_epoch: int


def encode_marker(marker: Marker) -> tuple[bytes, bytes]:
    """The (key, value) of a marker record."""
    return _KEY.pack(0, marker.type), _VALUE.pack(0, marker.coordinator_epoch)


def decode_marker(key: bytes | None, value: bytes | None) -> Marker:
    if key is None or len(key) < _KEY.size:
        raise CorruptRecordError("a control record needs a 4-byte key")
    _, kind = _KEY.unpack_from(key)
    epoch = -1
    if value is not None and len(value) >= _VALUE.size:
        _, epoch = _VALUE.unpack_from(value)
    return Marker(kind, epoch)


def build_marker_batch(producer_id: int, producer_epoch: int, marker: Marker,
                       timestamp_ms: int | None = None) -> bytes:
    """One control batch holding ``marker`` for the producer (offset 0: the log assigns it)."""
    key, value = encode_marker(marker)
    return build_batch(
        [NewRecord(value, key, (), timestamp_ms)], producer_id=producer_id,
        producer_epoch=producer_epoch, base_sequence=-1, is_transactional=True,
        is_control=True,
    )


def marker_of(buf: bytes | bytearray | memoryview, pos: int, header: BatchHeader) -> Marker:
    """The marker of the control batch at ``pos`` of ``buf`` (its first record)."""
    batch = decode_batch(buf, pos, verify_crc=False)
    for rec in batch.records():
        return decode_marker(rec.key, rec.value)
    raise CorruptRecordError(f"control batch at offset {header.base_offset} has no record")
