"""Cross-check against an encoder nobody here wrote: kafka-python's record batch v2 code.

Batches built by ``kafka.record.default_records.DefaultRecordBatchBuilder`` decode with ours,
and batches built by ours decode with its ``DefaultRecordBatch`` (CRC checked), for every codec.
kafka-python's snappy support needs the ``python-snappy`` package (a test dependency).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from tidelog.records import NewRecord, build_batch, decode_batch, validate_batch

CODECS = [0, 1, 2, 3, 4]

# Compressible values, so kafka-python does not fall back to an uncompressed batch.
SAMPLES = [
    NewRecord(
        b"hello world " * 20, key=b"key-1", headers=[("h1", b"v1")], timestamp=1_700_000_000_000
    ),
    NewRecord(None, key=b"", headers=[("h2", None), ("ünïcode", b"")], timestamp=1_700_000_000_005),
    NewRecord(b"", key=None, timestamp=1_699_999_999_000),
    NewRecord(b"x" * 9000, key=b"big", timestamp=1_700_000_000_001),
] + [NewRecord(b"value %d " % i * 10, timestamp=1_700_000_001_000 + i) for i in range(200)]


def _theirs_build(
    records: list[NewRecord], codec: int, producer: tuple[int, int, int] = (-1, -1, -1)
) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=False,
        producer_id=producer[0],
        producer_epoch=producer[1],
        base_sequence=producer[2],
        batch_size=1 << 30,
    )
    for offset, r in enumerate(records):
        meta = builder.append(offset, r.timestamp, r.key, r.value, list(r.headers))
        assert meta is not None
    return bytes(builder.build())


def _theirs_read(buf: bytes) -> list[tuple[object, ...]]:
    batch = DefaultRecordBatch(buf)
    assert batch.validate_crc()
    return [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in batch]


def _expected(records: list[NewRecord], base_offset: int = 0) -> list[tuple[object, ...]]:
    return [
        (base_offset + i, r.timestamp, r.key, r.value, list(r.headers))
        for i, r in enumerate(records)
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_theirs_decode_with_ours(codec: int) -> None:
    buf = _theirs_build(SAMPLES, codec, producer=(12, 3, 2**31 - 100))
    header = validate_batch(buf)
    assert header.compression == codec
    assert (header.producer_id, header.producer_epoch) == (12, 3)
    got = list(decode_batch(buf).records())
    assert [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in got] == _expected(
        SAMPLES
    )
    assert [r.sequence for r in got] == [(2**31 - 100 + i) % 2**31 for i in range(len(SAMPLES))]
    assert header.max_timestamp == max(r.timestamp for r in got)


@pytest.mark.parametrize("codec", CODECS)
def test_ours_decode_with_theirs(codec: int) -> None:
    buf = build_batch(SAMPLES, compression=codec, base_offset=500)
    batch = DefaultRecordBatch(buf)
    assert batch.compression_type == codec
    assert batch.base_offset == 500
    assert batch.last_offset == 500 + len(SAMPLES) - 1
    assert batch.max_timestamp == max(r.timestamp or 0 for r in SAMPLES)
    assert _theirs_read(buf) == _expected(SAMPLES, 500)


def test_byte_identical_uncompressed() -> None:
    # Uncompressed, both encoders must write the very same bytes (up to the header fields the
    # broker owns: kafka-python writes partitionLeaderEpoch 0, ours -1 as the Java client does).
    ours = bytearray(build_batch(SAMPLES, partition_leader_epoch=0))
    theirs = _theirs_build(SAMPLES, 0)
    assert bytes(ours) == theirs


def test_ours_with_producer_state_decode_with_theirs() -> None:
    buf = build_batch(
        SAMPLES[:3], producer_id=99, producer_epoch=7, base_sequence=2**31 - 2, compression=4
    )
    batch = DefaultRecordBatch(buf)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (99, 7, 2**31 - 2)
    assert batch.last_sequence == 0
    assert _theirs_read(buf) == _expected(SAMPLES[:3])


headers_st = st.lists(
    st.tuples(st.text(max_size=6), st.none() | st.binary(max_size=12)), max_size=3
).map(tuple)
record_st = st.builds(
    NewRecord,
    value=st.none() | st.binary(max_size=150),
    key=st.none() | st.binary(max_size=30),
    headers=headers_st,
    timestamp=st.integers(0, 2**42),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(record_st, min_size=1, max_size=8), st.sampled_from(CODECS))
def test_random_records_both_ways(records: list[NewRecord], codec: int) -> None:
    theirs = _theirs_build(records, codec)
    got = list(decode_batch(theirs).records())
    assert [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in got] == _expected(
        records
    )
    assert _theirs_read(build_batch(records, compression=codec)) == _expected(records)
