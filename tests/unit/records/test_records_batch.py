"""Build → validate → decode round trips, header fields, and strict record decoding."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.records import (
    HEADER_SIZE,
    Compression,
    CorruptRecordError,
    NewRecord,
    Record,
    TimestampType,
    build_batch,
    compress,
    decode_batch,
    encode_varint,
    encode_varlong,
    iter_decoded_batches,
    restamp_crc,
    validate_batch,
)

CODECS = [0, 1, 2, 3, 4]

headers_st = st.lists(
    st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=16)), max_size=4
).map(tuple)
record_st = st.builds(
    NewRecord,
    # Values around 8 KiB make the record length varint three bytes long.
    value=st.none() | st.binary(max_size=200) | st.integers(8180, 8300).map(lambda n: b"z" * n),
    key=st.none() | st.binary(max_size=40),
    headers=headers_st,
    timestamp=st.none() | st.integers(0, 2**45),
)


def _plain(records: list[Record]) -> list[tuple[object, ...]]:
    return [(r.key, r.value, r.headers) for r in records]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(record_st, min_size=1, max_size=12),
    st.sampled_from(CODECS),
    st.integers(0, 2**40),
)
def test_round_trip(records: list[NewRecord], codec: int, base_offset: int) -> None:
    before = time.time_ns() // 1_000_000
    buf = build_batch(records, compression=codec, base_offset=base_offset)
    after = time.time_ns() // 1_000_000
    header = validate_batch(buf)
    assert header.size == len(buf)
    assert header.compression == codec
    assert header.records_count == len(records)
    assert header.last_offset == base_offset + len(records) - 1
    decoded = list(decode_batch(buf).records())
    assert _plain(decoded) == [(r.key, r.value, tuple(r.headers)) for r in records]
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(records)))
    for new, got in zip(records, decoded, strict=True):
        if new.timestamp is None:
            assert before <= got.timestamp <= after
        else:
            assert got.timestamp == new.timestamp
        assert got.sequence == -1
    assert header.max_timestamp == max(r.timestamp for r in decoded)
    assert header.base_timestamp == decoded[0].timestamp
    if codec == Compression.NONE:
        assert sum(r.size for r in decoded) == len(buf) - HEADER_SIZE


def test_null_and_empty_stay_apart() -> None:
    records = [
        NewRecord(None),
        NewRecord(b""),
        NewRecord(b"v", key=b""),
        NewRecord(b"v", key=None, headers=[("h", None), ("h", b""), ("", b"x")]),
    ]
    got = list(decode_batch(build_batch(records)).records())
    assert [(r.key, r.value) for r in got] == [(None, None), (None, b""), (b"", b"v"), (None, b"v")]
    assert got[3].headers == (("h", None), ("h", b""), ("", b"x"))


def test_record_wire_layout_by_hand() -> None:
    buf = build_batch([NewRecord(b"abc", key=b"k", headers=[("é", None)], timestamp=5)])
    # length 14, attributes 0, ts delta 0, offset delta 0, key len 1 "k", value len 3 "abc",
    # one header: key len 2 "é" (UTF-8 c3 a9), value null.
    body = bytes.fromhex("1c 00 00 00 02 6b 06 616263 02 04 c3a9 01".replace(" ", ""))
    assert buf[HEADER_SIZE:] == body
    (record,) = decode_batch(buf).records()
    assert record.size == len(body)


def test_header_fields_and_attributes() -> None:
    buf = build_batch(
        [
            NewRecord(b"a", timestamp=1000),
            NewRecord(b"b", timestamp=900),
            NewRecord(b"c", timestamp=1200),
        ],
        base_offset=42,
        compression=Compression.LZ4,
        producer_id=77,
        producer_epoch=3,
        base_sequence=10,
        partition_leader_epoch=9,
        is_transactional=True,
    )
    h = validate_batch(buf)
    assert (h.base_offset, h.partition_leader_epoch, h.magic) == (42, 9, 2)
    assert (h.producer_id, h.producer_epoch, h.base_sequence) == (77, 3, 10)
    assert (h.base_timestamp, h.max_timestamp) == (1000, 1200)
    assert h.is_transactional and not h.is_control
    assert h.compression_name == "lz4"
    assert h.timestamp_type == TimestampType.CREATE_TIME
    assert h.last_offset_delta == 2 and h.last_sequence == 12
    got = list(decode_batch(buf).records())
    assert [r.timestamp for r in got] == [1000, 900, 1200]
    assert [r.sequence for r in got] == [10, 11, 12]
    assert [r.offset for r in got] == [42, 43, 44]


def test_sequence_wraps_at_2_pow_31() -> None:
    buf = build_batch(
        [NewRecord(b"x")] * 4, producer_id=1, producer_epoch=0, base_sequence=2**31 - 2
    )
    h = validate_batch(buf)
    assert h.last_sequence == 1
    assert [r.sequence for r in decode_batch(buf).records()] == [2**31 - 2, 2**31 - 1, 0, 1]


def test_log_append_time_records_report_max_timestamp() -> None:
    buf = build_batch(
        [NewRecord(b"x", timestamp=5), NewRecord(b"y", timestamp=7)],
        timestamp_type=TimestampType.LOG_APPEND_TIME,
    )
    h = validate_batch(buf)
    assert h.timestamp_type == TimestampType.LOG_APPEND_TIME
    assert [r.timestamp for r in decode_batch(buf).records()] == [7, 7]


def test_control_batch_decodes_like_any_other() -> None:
    # A COMMIT marker: key = version 0, type 1; value = version 0, coordinator epoch 5.
    key = struct.pack(">hh", 0, 1)
    value = struct.pack(">hi", 0, 5)
    buf = build_batch(
        [NewRecord(value, key=key)],
        is_control=True,
        is_transactional=True,
        producer_id=3,
        producer_epoch=1,
    )
    batch = decode_batch(buf)
    assert batch.header.is_control and batch.header.is_transactional
    (record,) = batch.records()
    assert record.key == key and record.value == value


def test_records_can_be_iterated_twice() -> None:
    batch = decode_batch(build_batch([NewRecord(b"a"), NewRecord(b"b")], compression=1))
    assert list(batch.records()) == list(batch.records())


def test_decode_from_bytearray_and_memoryview_and_offset() -> None:
    one = build_batch([NewRecord(b"a", key=b"k")], base_offset=0)
    two = build_batch([NewRecord(b"b")], base_offset=1)
    for buf in (bytearray(one + two), memoryview(one + two), one + two):
        batch = decode_batch(buf, len(one))
        assert batch.position == len(one)
        assert batch.next_position == len(one) + len(two)
        assert [r.value for r in batch.records()] == [b"b"]


def test_iter_decoded_batches_respects_end() -> None:
    batches = [build_batch([NewRecord(b"%d" % i)], base_offset=i) for i in range(3)]
    buf = b"".join(batches) + b"\xff" * 7  # trailing junk past end is never read
    end = len(buf) - 7
    got = [r.value for b in iter_decoded_batches(buf, 0, end) for r in b.records()]
    assert got == [b"0", b"1", b"2"]
    with pytest.raises(CorruptRecordError) as info:
        list(iter_decoded_batches(buf))
    assert info.value.position == end


def test_build_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        build_batch([])
    with pytest.raises(ValueError):
        build_batch([NewRecord(b"x")], producer_epoch=2**15)
    with pytest.raises(ValueError):
        build_batch([NewRecord(b"x", timestamp=-(2**62)), NewRecord(b"y", timestamp=2**62)])
    with pytest.raises(TypeError):
        build_batch([NewRecord("text")])  # type: ignore[arg-type]


def test_large_batch_offsets_and_varints() -> None:
    records = [NewRecord(b"v" * (i % 300), timestamp=10_000 + i * 37) for i in range(20_000)]
    got = list(decode_batch(build_batch(records, compression=Compression.ZSTD)).records())
    assert [r.offset for r in got] == list(range(20_000))
    assert [r.timestamp for r in got] == [10_000 + i * 37 for i in range(20_000)]
    assert all(len(r.value or b"") == i % 300 for i, r in enumerate(got))


# ---- hand-made records sections inside batches with a correct CRC ----


def _raw_batch(section: bytes, count: int, codec: int = 0, last_delta: int | None = None) -> bytes:
    """A batch around an arbitrary records section, with a correct length and CRC."""
    body = compress(codec, section) if codec else section
    last = count - 1 if last_delta is None else last_delta
    tail = struct.pack(">hiqqqhii", codec, max(last, 0), 0, 0, -1, -1, -1, count)
    buf = bytearray(struct.pack(">qiibI", 0, 49 + len(body), -1, 2, 0) + tail + body)
    restamp_crc(buf)
    return bytes(buf)


def _record(
    *,
    ts: bytes = b"\x00",
    delta: int = 0,
    key: bytes = b"\x01",
    value: bytes = b"\x02v",
    headers: bytes = b"\x00",
    length: int | None = None,
) -> bytes:
    body = b"\x00" + ts + encode_varint(delta) + key + value + headers
    return encode_varint(len(body) if length is None else length) + body


GOOD = _record()
BAD_SECTIONS = {
    "count says more": (GOOD + GOOD, 3),
    "count says fewer": (GOOD + GOOD + GOOD, 2),
    "trailing garbage": (GOOD + b"\x00", 1),
    "length too long": (_record(length=8) + b"\x00", 1),
    "length too short": (_record(length=6), 1),
    "length negative": (_record(length=-1), 1),
    "length overruns batch": (_record(length=500), 1),
    "length varint overrun": (b"\xff\xff\xff\xff\xff\x01" + GOOD, 1),
    "timestamp varlong overrun": (b"\x10\x00" + b"\xff" * 11 + b"\x00\x01\x00\x00", 1),
    "key length -2": (_record(key=b"\x03"), 1),
    "value length -5": (_record(value=b"\x09"), 1),
    "key runs past record": (_record(key=b"\x20abc"), 1),
    "negative header count": (_record(headers=b"\x01"), 1),
    "huge header count": (_record(headers=encode_varint(2**30)), 1),
    "header key null": (_record(headers=b"\x02\x01\x01"), 1),
    "header key bad utf8": (_record(headers=b"\x02\x02\xff\x01"), 1),
    "header value length -3": (_record(headers=b"\x02\x02h\x05"), 1),
    "header value runs past": (_record(headers=b"\x02\x02h\x40ab"), 1),
    "offset delta negative": (_record(delta=-1), 1),
    "offset delta beyond last": (_record(delta=1), 1),
    "empty section, count 1": (b"", 1),
    "record cut mid-field": (GOOD[:3], 1),
}


@pytest.mark.parametrize("codec", [0, 3])
@pytest.mark.parametrize("name", sorted(BAD_SECTIONS))
def test_malformed_records_raise_corrupt(name: str, codec: int) -> None:
    section, count = BAD_SECTIONS[name]
    buf = b"\xee" * 5 + _raw_batch(section, count, codec)
    batch = decode_batch(buf, 5)  # header and CRC are fine: only the records are wrong
    with pytest.raises(CorruptRecordError) as info:
        list(batch.records())
    if codec == 0:
        assert 5 + HEADER_SIZE <= info.value.position <= len(buf)
    else:
        assert info.value.position == 5


def test_hand_made_sections_that_are_valid() -> None:
    ok = _record(ts=encode_varlong(-3), key=b"\x02k", headers=b"\x02\x02h\x01")
    (record,) = decode_batch(_raw_batch(ok, 1)).records()
    assert (record.timestamp, record.key, record.headers) == (-3, b"k", (("h", None),))
    # Compaction may leave fewer records than the offset span: deltas 0 and 4 of 0..4.
    both = _record(delta=0) + _record(delta=4)
    got = list(decode_batch(_raw_batch(both, 2, last_delta=4)).records())
    assert [r.offset for r in got] == [0, 4]
    # An empty batch (all records compacted away) has no records.
    assert list(decode_batch(_raw_batch(b"", 0, last_delta=3)).records()) == []


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 4), st.sampled_from([0, 1, 4]))
def test_arbitrary_sections_raise_only_corrupt(section: bytes, count: int, codec: int) -> None:
    batch = decode_batch(_raw_batch(section, count, codec))
    try:
        records = list(batch.records())
    except CorruptRecordError:
        return
    assert len(records) == count


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_decompressed_size_bound_in_reader(codec: int) -> None:
    buf = b"\x00" * 3 + build_batch([NewRecord(bytes(100_000))], compression=codec)
    batch = decode_batch(buf, 3, max_decompressed_size=50_000)
    with pytest.raises(CorruptRecordError, match="more than 50000") as info:
        list(batch.records())
    assert info.value.position == 3
    assert len(list(decode_batch(buf, 3).records())) == 1


def test_verify_crc_off_skips_only_the_crc() -> None:
    buf = bytearray(build_batch([NewRecord(b"abc")]))
    buf[-2] ^= 0x01  # last value byte (before the header count): "abc" becomes "abb"
    with pytest.raises(CorruptRecordError, match="CRC"):
        decode_batch(buf)
    (record,) = decode_batch(buf, verify_crc=False).records()
    assert record.value == b"abb"
    buf[16] = 1  # structure is still checked
    with pytest.raises(CorruptRecordError, match="magic"):
        decode_batch(buf, verify_crc=False)
