"""Torn, flipped and random bytes: every failure is a CorruptRecordError, never a crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.records import (
    CorruptRecordError,
    NewRecord,
    TruncatedBatchError,
    build_batch,
    decode_batch,
    iter_batches,
    iter_decoded_batches,
    validate_batch,
)
from tidelog.records.batch_header import BASE_OFFSET_POS, LEADER_EPOCH_POS

RECORDS = [
    NewRecord(b"first value", key=b"k1", headers=[("trace", b"abc")], timestamp=1_000),
    NewRecord(None, key=None, timestamp=1_003),
    NewRecord(b"", key=b"", headers=[("n", None)], timestamp=999),
]
BATCHES = {codec: build_batch(RECORDS, compression=codec, base_offset=7) for codec in range(5)}


def _decode_all(buf: bytes, verify_crc: bool = True) -> None:
    list(decode_batch(buf, verify_crc=verify_crc).records())


@pytest.mark.parametrize("codec", range(5))
def test_every_proper_prefix_is_truncated(codec: int) -> None:
    buf = BATCHES[codec]
    for cut in range(len(buf)):
        prefix = buf[:cut]
        with pytest.raises(TruncatedBatchError):
            validate_batch(prefix)
        with pytest.raises(TruncatedBatchError):
            decode_batch(prefix)
        if cut:  # an empty buffer simply holds no batches
            with pytest.raises(TruncatedBatchError):
                list(iter_batches(prefix))
    assert list(iter_batches(b"")) == []


def test_byte_at_a_time_feeding() -> None:
    # A reader that gets bytes one at a time sees TruncatedBatchError until the batch is whole,
    # then exactly the batch, whatever follows.
    stream = BATCHES[0] + BATCHES[3]
    buf = bytearray()
    found: list[int] = []
    pos = 0
    for byte in stream:
        buf.append(byte)
        try:
            header = validate_batch(bytes(buf), pos)
        except TruncatedBatchError:
            continue
        found.append(len(buf))
        pos += header.size
    assert found == [len(BATCHES[0]), len(stream)]


@pytest.mark.parametrize("codec", range(5))
def test_trailing_bytes_are_left_alone(codec: int) -> None:
    buf = BATCHES[codec] + b"\x00\x01junk"
    assert validate_batch(buf).size == len(BATCHES[codec])
    assert len(list(decode_batch(buf).records())) == 3
    end = len(BATCHES[codec])
    assert [pos for pos, _ in iter_batches(buf, 0, end)] == [0]
    assert len([b for b in iter_decoded_batches(buf, 0, end)]) == 1
    with pytest.raises(TruncatedBatchError):
        list(iter_decoded_batches(buf))


@pytest.mark.parametrize("codec", range(5))
def test_every_single_byte_flip_is_detected(codec: int) -> None:
    buf = BATCHES[codec]
    # baseOffset and partitionLeaderEpoch are outside the CRC by Kafka's design (the broker
    # rewrites them in place); a flip there yields a valid batch with other values.
    unchecked = set(range(BASE_OFFSET_POS, BASE_OFFSET_POS + 8)) | set(
        range(LEADER_EPOCH_POS, LEADER_EPOCH_POS + 4)
    )
    for index in range(len(buf)):
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(buf)
            damaged[index] ^= flip
            if index in unchecked:
                batch = decode_batch(bytes(damaged))
                assert len(list(batch.records())) == 3
                continue
            with pytest.raises(CorruptRecordError):
                validate_batch(bytes(damaged))
            with pytest.raises(CorruptRecordError):
                _decode_all(bytes(damaged))


@pytest.mark.parametrize("codec", range(5))
def test_flips_without_crc_check_raise_only_corrupt(codec: int) -> None:
    # With the CRC check off, damage reaches the decompressor and the record parser: they may
    # decode something else, but may only fail with CorruptRecordError.
    buf = BATCHES[codec]
    for index in range(len(buf)):
        damaged = bytearray(buf)
        damaged[index] ^= 0x5A
        with contextlib.suppress(CorruptRecordError):
            _decode_all(bytes(damaged), verify_crc=False)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_raise_only_corrupt(raw: bytes, verify_crc: bool) -> None:
    with contextlib.suppress(CorruptRecordError):
        validate_batch(raw)
    with contextlib.suppress(CorruptRecordError):
        _decode_all(raw, verify_crc=verify_crc)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(range(5)), st.data())
def test_random_overwrite_raise_only_corrupt(codec: int, data: st.DataObject) -> None:
    buf = bytearray(BATCHES[codec])
    start = data.draw(st.integers(0, len(buf) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=8))
    buf[start : start + len(patch)] = patch
    with contextlib.suppress(CorruptRecordError):
        _decode_all(bytes(buf), verify_crc=data.draw(st.booleans()))
