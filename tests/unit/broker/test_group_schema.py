"""``__consumer_offsets`` keys and values: Kafka's exact bytes, round trips, older versions,
malformed input raising GroupRecordError, and Kafka's placement of groups in partitions."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.broker.groups.schema import (
    GroupKey,
    GroupRecordError,
    GroupValue,
    MemberValue,
    OffsetKey,
    OffsetValue,
    decode_group_value,
    decode_key,
    decode_offset_value,
    encode_group_key,
    encode_group_value,
    encode_offset_key,
    encode_offset_value,
    java_string_hash,
    partition_for,
)
from tidelog.errors import TidelogError


def test_offset_key_and_value_bytes_are_kafkas() -> None:
    key = encode_offset_key(OffsetKey("g", "t", 3))
    assert key == bytes.fromhex("0001" "0001 67" "0001 74" "00000003")
    value = encode_offset_value(OffsetValue(42, 7, "m", 1000))
    assert value == bytes.fromhex("0003" "000000000000002a" "00000007" "0001 6d"
                                  "00000000000003e8")
    assert decode_key(key) == OffsetKey("g", "t", 3)
    assert decode_offset_value(value) == OffsetValue(42, 7, "m", 1000)


def test_group_key_and_value_round_trip() -> None:
    member = MemberValue("m-1", "inst", "client", "/127.0.0.1", 30000, 10000, b"sub", b"asg")
    value = GroupValue("consumer", 5, "range", "m-1", 123, (member,))
    raw = encode_group_value(value)
    assert raw[:2] == b"\x00\x03"
    assert decode_group_value(raw) == value
    assert decode_key(encode_group_key(GroupKey("grp"))) == GroupKey("grp")
    empty = GroupValue("consumer", 6, None, None, 5, ())
    assert decode_group_value(encode_group_value(empty)) == empty


def test_older_offset_value_versions_are_read() -> None:
    v1 = bytes.fromhex("0001" "0000000000000005" "0000" "00000000000003e8" "00000000000007d0")
    assert decode_offset_value(v1) == OffsetValue(5, -1, "", 1000)
    v0_key = bytes.fromhex("0000" "0001 67" "0001 74" "00000001")
    assert decode_key(v0_key) == OffsetKey("g", "t", 1)


@pytest.mark.parametrize("raw", [
    b"", b"\x00", b"\x00\x09abc", bytes.fromhex("0001 0005 6162"),
    bytes.fromhex("0002 ffff"), bytes.fromhex("0001 0001 ff 0001 74 00000001"),
])
def test_malformed_keys_raise_group_record_error(raw: bytes) -> None:
    with pytest.raises(GroupRecordError):
        decode_key(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_crash_the_decoders(raw: bytes) -> None:
    for decode in (decode_key, decode_offset_value, decode_group_value):
        with contextlib.suppress(TidelogError):
            decode(raw)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20), st.integers(0, 2**31 - 1),
       st.integers(-1, 2**62), st.text(max_size=30))
def test_offset_round_trip(group: str, topic: str, partition: int, offset: int,
                           meta: str) -> None:
    assert decode_key(encode_offset_key(OffsetKey(group, topic, partition))) == \
        OffsetKey(group, topic, partition)
    v = OffsetValue(offset, -1, meta, 99)
    assert decode_offset_value(encode_offset_value(v)) == v


def test_group_placement_follows_java_hash_code() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(2**31)  # Integer.MIN_VALUE
    assert partition_for("hello", 50) == 99162322 % 50
    assert partition_for("polygenelubricants", 50) == 0  # abs() of MIN_VALUE is 0 in Kafka
    assert java_string_hash("é") == 0xE9
