"""In-place header rewrites and header properties of batch_header.py."""

from __future__ import annotations

import pytest
from tidelog.records import (
    CorruptRecordError,
    NewRecord,
    TimestampType,
    build_batch,
    decode_batch,
    read_size,
    restamp_crc,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
    validate_batch,
)
from tidelog.records.batch_header import ATTRIBUTES_POS, parse_header

RECORDS = [NewRecord(b"a", timestamp=100), NewRecord(b"b", timestamp=130)]


def test_set_base_offset_keeps_crc_valid() -> None:
    buf = bytearray(b"pad" + build_batch(RECORDS, base_offset=0))
    crc = validate_batch(buf, 3).crc
    set_base_offset(buf, 3, 1_000_000)
    header = validate_batch(buf, 3)
    assert header.base_offset == 1_000_000 and header.crc == crc
    assert [r.offset for r in decode_batch(buf, 3).records()] == [1_000_000, 1_000_001]


def test_set_partition_leader_epoch_keeps_crc_valid() -> None:
    buf = bytearray(build_batch(RECORDS))
    crc = validate_batch(buf).crc
    set_partition_leader_epoch(buf, 0, 17)
    header = validate_batch(buf)
    assert header.partition_leader_epoch == 17 and header.crc == crc


@pytest.mark.parametrize("codec", [0, 4])
def test_set_log_append_time_recomputes_crc(codec: int) -> None:
    buf = bytearray(build_batch(RECORDS, compression=codec))
    old = validate_batch(buf)
    set_log_append_time(buf, 0, 5_000)
    header = validate_batch(buf)
    assert header.crc != old.crc
    assert header.timestamp_type == TimestampType.LOG_APPEND_TIME
    assert header.max_timestamp == 5_000
    assert header.compression == codec
    assert [r.timestamp for r in decode_batch(buf).records()] == [5_000, 5_000]


def test_changing_covered_bytes_without_restamp_fails_then_restamp_fixes() -> None:
    buf = bytearray(build_batch(RECORDS))
    buf[ATTRIBUTES_POS + 1] |= 0x10  # transactional bit, inside the CRC
    with pytest.raises(CorruptRecordError, match="CRC"):
        validate_batch(buf)
    restamp_crc(buf)
    assert validate_batch(buf).is_transactional


def test_properties() -> None:
    buf = build_batch(
        RECORDS, base_offset=10, producer_id=4, producer_epoch=0, base_sequence=2**31 - 1
    )
    h = validate_batch(buf)
    assert h.size == len(buf) == read_size(buf)
    assert h.last_offset == 11 and h.next_offset == 12
    assert h.last_sequence == 0  # wraps at 2**31
    assert h.compression_name == "none"
    assert not h.has_delete_horizon
    assert read_size(buf[:11]) is None


def test_last_sequence_without_producer() -> None:
    assert validate_batch(build_batch(RECORDS)).last_sequence == -1


def test_compression_names() -> None:
    names = [validate_batch(build_batch(RECORDS, compression=c)).compression_name for c in range(5)]
    assert names == ["none", "gzip", "snappy", "lz4", "zstd"]
    raw = bytearray(build_batch(RECORDS))
    raw[ATTRIBUTES_POS + 1] |= 0x07
    assert parse_header(raw).compression_name == "unknown(7)"
    restamp_crc(raw)
    with pytest.raises(CorruptRecordError, match="unknown compression"):
        validate_batch(raw)


def test_bad_magic() -> None:
    raw = bytearray(build_batch(RECORDS))
    raw[16] = 1
    with pytest.raises(CorruptRecordError, match="magic"):
        validate_batch(raw)
