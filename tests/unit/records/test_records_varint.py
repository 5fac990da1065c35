"""Golden vectors and round trips for Kafka's zigzag Varint / Varlong.

The expected bytes are written out by hand from the definition: zigzag ``(v << 1) ^ (v >> 63)``,
then 7-bit groups, least significant first, top bit set on every byte but the last.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.records.errors import CorruptRecordError
from tidelog.records.varint import (
    TABLE_SIZE,
    UNZIGZAG,
    UVARINT,
    decode_varint,
    decode_varlong,
    encode_varint,
    encode_varlong,
    size_of_varint,
    size_of_varlong,
)

# (value, encoding) valid for both Varint and Varlong.
GOLDEN_32 = [
    (0, "00"),
    (-1, "01"),
    (1, "02"),
    (-2, "03"),
    (2, "04"),
    (63, "7e"),
    (-64, "7f"),
    (64, "8001"),
    (-65, "8101"),
    (150, "ac02"),
    (8191, "fe7f"),
    (-8192, "ff7f"),
    (8192, "808001"),
    (-8193, "818001"),
    (2**20 - 1, "feff7f"),
    (2**20, "80808001"),
    (2**27, "8080808001"),
    (2**31 - 1, "feffffff0f"),
    (-(2**31), "ffffffff0f"),
]

# Values only a Varlong can carry.
GOLDEN_64 = [
    (2**31, "8080808010"),
    (-(2**31) - 1, "8180808010"),
    (2**34 - 1, "feffffff7f"),
    (2**34, "808080808001"),
    (2**35 - 1, "feffffffff01"),
    (1_700_000_000_000, "80a0abfef962"),
    (2**63 - 1, "feffffffffffffffff01"),
    (-(2**63), "ffffffffffffffffff01"),
]


@pytest.mark.parametrize(("value", "hexbytes"), GOLDEN_32)
def test_varint_golden(value: int, hexbytes: str) -> None:
    raw = bytes.fromhex(hexbytes)
    assert encode_varint(value) == raw
    assert encode_varlong(value) == raw
    assert decode_varint(raw) == (value, len(raw))
    assert decode_varlong(raw) == (value, len(raw))
    assert size_of_varint(value) == len(raw)


@pytest.mark.parametrize(("value", "hexbytes"), GOLDEN_64)
def test_varlong_golden(value: int, hexbytes: str) -> None:
    raw = bytes.fromhex(hexbytes)
    assert encode_varlong(value) == raw
    assert decode_varlong(raw) == (value, len(raw))
    assert size_of_varlong(value) == len(raw)


def test_golden_1_700_000_000_000_by_hand() -> None:
    # Cross-check one long vector bit by bit, so the table above is not circular.
    u = 1_700_000_000_000 * 2
    groups = []
    while u:
        groups.append(u & 0x7F)
        u >>= 7
    expected = bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])
    assert encode_varlong(1_700_000_000_000) == expected


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_varint_encode_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        encode_varint(value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_varlong_encode_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        encode_varlong(value)


def test_decode_at_position_leaves_trailing_bytes() -> None:
    buf = b"\xff\xaa" + bytes.fromhex("8101") + b"\x02\xff"
    assert decode_varint(buf, 2) == (-65, 4)
    assert decode_varint(buf, 4) == (1, 5)


def test_non_minimal_encoding_is_accepted_like_kafka() -> None:
    assert decode_varint(b"\x80\x00") == (0, 2)
    assert decode_varint(b"\x81\x80\x80\x80\x00") == (-1, 5)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x80",
        b"\xff\xff",
        b"\xff\xff\xff\xff",
        b"\xff\xff\xff\xff\xff\x01",  # 6 bytes
        b"\xff\xff\xff\xff\x1f",  # 5th byte carries bits 32+
        b"\x80\x80\x80\x80\x80\x00",
    ],
)
def test_varint_malformed(raw: bytes) -> None:
    with pytest.raises(CorruptRecordError) as info:
        decode_varint(raw)
    assert info.value.position == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x80" * 9,
        b"\xff" * 10 + b"\x01",  # 11 bytes
        b"\xff" * 9 + b"\x02",  # 10th byte carries bit 64
        b"\xff" * 9 + b"\x7f",
    ],
)
def test_varlong_malformed(raw: bytes) -> None:
    with pytest.raises(CorruptRecordError):
        decode_varlong(raw)


def test_malformed_reports_its_position() -> None:
    with pytest.raises(CorruptRecordError) as info:
        decode_varint(b"\x00\x00\x80", 2)
    assert info.value.position == 2


def test_tables_agree_with_the_definition() -> None:
    for u in (0, 1, 127, 128, 8191, 8192, TABLE_SIZE - 1):
        value = (u >> 1) ^ -(u & 1)
        assert UNZIGZAG[u] == value
        assert UVARINT[u] == encode_varlong(value)


@settings(max_examples=150, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.binary(max_size=3))
def test_varint_round_trip(value: int, tail: bytes) -> None:
    raw = encode_varint(value)
    assert 1 <= len(raw) <= 5
    assert decode_varint(raw + tail) == (value, len(raw))
    assert decode_varlong(raw + tail) == (value, len(raw))


@settings(max_examples=150, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=3))
def test_varlong_round_trip(value: int, tail: bytes) -> None:
    raw = encode_varlong(value)
    assert 1 <= len(raw) <= 10
    assert decode_varlong(b"\x00" + raw + tail, 1) == (value, len(raw) + 1)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=12))
def test_decode_garbage_raises_only_corrupt(raw: bytes) -> None:
    for decode in (decode_varint, decode_varlong):
        try:
            value, pos = decode(raw)
        except CorruptRecordError:
            continue
        assert 0 < pos <= len(raw)
        assert isinstance(value, int)
