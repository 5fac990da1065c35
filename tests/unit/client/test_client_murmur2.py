"""murmur2 partitioning: the test vectors of Apache Kafka's UtilsTest and librdkafka's
rdmurmur2 unit test, and the partition formula both use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.client.murmur2 import murmur2, murmur2_signed, partition_for_key

# Apache Kafka clients/src/test/.../UtilsTest.java (Java's signed ints).
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "expected"), sorted(JAVA_VECTORS.items()))
def test_java_vectors(key: bytes, expected: int) -> None:
    assert murmur2_signed(key) == expected


def test_librdkafka_vector() -> None:
    assert murmur2(b"kafka") == 0xD067CF64


def test_partition_is_positive_hash_modulo_count() -> None:
    for key, signed in JAVA_VECTORS.items():
        for count in (1, 3, 7, 100):
            assert partition_for_key(key, count) == (signed & 0x7FFFFFFF) % count


def test_empty_key_and_every_tail_length() -> None:
    # Lengths 0..8 cover every tail (0-3 bytes after whole words); values stay 32-bit.
    hashes = {murmur2(b"x" * n) for n in range(9)}
    assert len(hashes) == 9
    assert all(0 <= h < 2**32 for h in hashes)


def test_zero_partitions_is_refused() -> None:
    with pytest.raises(ValueError):
        partition_for_key(b"k", 0)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 64))
def test_partition_in_range(key: bytes, count: int) -> None:
    assert 0 <= partition_for_key(key, count) < count
