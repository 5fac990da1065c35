"""The value-only fast paths of tidelog.records.values against the general builder and
reader: same bytes out, same values back, None (fall back) whenever the shape differs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.records.batch_header import HEADER_SIZE, Compression
from tidelog.records.builder import build_batch
from tidelog.records.reader import decode_batch
from tidelog.records.record import NewRecord
from tidelog.records.values import (
    build_value_batch,
    decode_values,
    encode_value_records,
    join_values,
)


def _general(values: list[bytes | None], ts: int = 1_700_000_000_000, **kw: int) -> bytes:
    return build_batch([NewRecord(v, None, (), ts) for v in values], **kw)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=200))
def test_builder_matches_general_builder(values: list[bytes]) -> None:
    ts = 1_700_000_000_000
    assert build_value_batch(values, timestamp=ts) == _general(list(values), ts)


@pytest.mark.parametrize("count", [1, 63, 64, 65, 8191, 8192, 8193, 20_000])
def test_builder_offset_delta_widths(count: int) -> None:
    values = [b"v" * 100] * count
    assert build_value_batch(values, timestamp=5) == _general(list(values), 5)


@pytest.mark.parametrize("codec", [Compression.GZIP, Compression.SNAPPY, Compression.LZ4,
                                   Compression.ZSTD])
def test_builder_compressed_and_idempotent(codec: int) -> None:
    values = [b"line %d" % i for i in range(500)]
    fast = build_value_batch(values, timestamp=9, compression=codec, producer_id=7,
                             producer_epoch=1, base_sequence=42)
    batch = decode_batch(fast)
    assert [r.value for r in batch.records()] == values
    assert (batch.header.producer_id, batch.header.base_sequence) == (7, 42)


def test_null_values_and_big_values_fall_back() -> None:
    assert encode_value_records([b"a", None]) is None  # type: ignore[list-item]
    assert encode_value_records([b"x" * 9000]) is None
    assert build_value_batch([b"a", None], timestamp=3) == _general([b"a", None], 3)


def _check_reads(batch: bytes) -> None:
    decoded = decode_batch(batch)
    expected = [r.value for r in decoded.records()]
    count = decoded.header.records_count
    got = decode_values(batch, HEADER_SIZE, len(batch), count)
    assert got == expected
    assert join_values(batch, HEADER_SIZE, len(batch), count, b"\n") == b"".join(
        v + b"\n" for v in expected)  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=300),
       st.lists(st.integers(-5000, 5000), min_size=1, max_size=300))
def test_readers_match_general_reader(values: list[bytes], deltas: list[int]) -> None:
    records = [NewRecord(v, None, (), 1_700_000_000_000 + deltas[i % len(deltas)])
               for i, v in enumerate(values)]
    _check_reads(build_batch(records))


@pytest.mark.parametrize("count", [1, 64, 8192, 9000])
def test_uniform_values_every_width(count: int) -> None:
    # Same-length values take the regex path; timestamps spread over 1-3 byte deltas.
    records = [NewRecord(b"%099d" % i, None, (), 1_000_000 + (i * 37) % 100_000)
               for i in range(count)]
    _check_reads(build_batch(records))


def test_values_that_look_like_record_bytes() -> None:
    # Values full of the bytes a record prefix is made of must not confuse the regex.
    values = [bytes([0xD6, 0x01, 0, 0, 0, 1, 0xC8, 0x01]) * 12 + b"\x00\x01\x00\x00"] * 300
    _check_reads(build_value_batch(values, timestamp=1))


@pytest.mark.parametrize("record", [
    NewRecord(b"v", key=b"k"),
    NewRecord(b"v", headers=[("h", b"x")]),
    NewRecord(None),
])
def test_other_shapes_are_refused(record: NewRecord) -> None:
    batch = build_batch([NewRecord(b"v"), record, NewRecord(b"v")])
    assert decode_values(batch, HEADER_SIZE, len(batch), 3) is None
    assert join_values(batch, HEADER_SIZE, len(batch), 3, b"\n") is None


def test_wrong_count_or_trailing_bytes_are_refused() -> None:
    batch = build_value_batch([b"x" * 10] * 5, timestamp=1)
    assert decode_values(batch, HEADER_SIZE, len(batch), 4) is None
    assert join_values(batch, HEADER_SIZE, len(batch), 6, b"\n") is None
    padded = batch + b"\x00"
    assert decode_values(padded, HEADER_SIZE, len(padded), 5) is None
    assert join_values(padded, HEADER_SIZE, len(padded), 5, b"\n") is None
    mixed = build_batch([NewRecord(b"x" * (i % 7)) for i in range(50)]) + b"\x05"
    assert decode_values(mixed, HEADER_SIZE, len(mixed), 50) is None


def test_separator_with_backslashes_is_literal() -> None:
    batch = build_value_batch([b"a" * 4] * 3, timestamp=1)
    assert join_values(batch, HEADER_SIZE, len(batch), 3, b"\\1\\g<0>") == (
        b"aaaa\\1\\g<0>" * 3)
