"""Kafka's key partitioner: murmur2, as Java's ``Utils.murmur2`` and librdkafka's
``murmur2_random`` compute it.

Format: MurmurHash2 (32-bit) with seed ``0x9747b28c`` over the key bytes, read as little-endian
32-bit words; the partition is ``(hash & 0x7fffffff) % partitions``. A null key has no hash:
the caller picks a partition (sticky, see :mod:`tidelog.client.producer`).

Speed: the words are unpacked with one precompiled ``struct`` call per key, not per byte.
"""

from __future__ import annotations

import struct
from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


@lru_cache(maxsize=64)
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(key: bytes) -> int:
    """The unsigned 32-bit murmur2 hash of ``key``."""
    length = len(key)
    h = (_SEED ^ length) & _MASK
    whole = length & ~3
    if whole:
        for k in _words(whole >> 2).unpack_from(key):
            k = (k * _M) & _MASK
            k ^= k >> 24
            k = (k * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        if tail == 3:
            h ^= key[whole + 2] << 16
        if tail >= 2:
            h ^= key[whole + 1] << 8
        h ^= key[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def murmur2_signed(key: bytes) -> int:
    """The hash as Java's signed int (what Kafka's test vectors list)."""
    h = murmur2(key)
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner and librdkafka's murmur2_random choose."""
    if partitions <= 0:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key) & 0x7FFFFFFF) % partitions
