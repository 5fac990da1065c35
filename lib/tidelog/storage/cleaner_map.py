"""The log cleaner's dedupe map: key -> offset of the latest record with that key, bounded.

Kafka's cleaner keeps a fixed array of (MD5 of the key, offset) slots sized by
``log.cleaner.dedupe.buffer.size``. Here the map is a dict from the key to the offset, where a
key longer than 16 bytes is replaced by its 16-byte MD5 digest (shorter keys are their own
digest: exact, and no hashing call per record; a digest never equals a short key because of
its length), and the bound is a count: ``capacity = memory_bytes // ENTRY_COST``, where
:data:`ENTRY_COST` is the measured peak cost of one entry in CPython (digest object, int, the
dict's slot and index, including the transient doubling of a resize). A log with more distinct
dirty keys than that is cleaned in several passes (:mod:`tidelog.storage.cleaner` stops
building the map at a batch boundary once it is :attr:`OffsetMap.full`).

Invariant: :meth:`OffsetMap.get` answers the largest offset put for the key since the last
:meth:`OffsetMap.clear`, or -1. Two long keys with the same MD5 would share an entry (the record
of one could then be taken for an older version of the other); Kafka accepts the same risk.
No I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: Bytes one entry may occupy at peak (measured: 130-185 with tracemalloc; rounded up).
ENTRY_COST = 200
#: Keys shorter than this are stored as they are (a short bytes object costs what a digest
#: costs); others as their MD5 digest, which is exactly this long, so the two never collide.
SHORT_KEY = 16


def digest(key: bytes) -> bytes:
    """The map's stand-in for ``key``."""
    if len(key) < SHORT_KEY:
        return key
    return hashlib.md5(key, usedforsecurity=False).digest()


class OffsetMap:
    def __init__(self, memory_bytes: int) -> None:
        if memory_bytes < ENTRY_COST:
            raise ValueError(
                f"a dedupe buffer of {memory_bytes} bytes holds no key ({ENTRY_COST} per key)"
            )
        self.capacity = memory_bytes // ENTRY_COST
        self._map: dict[bytes, int] = {}
        #: The offset after the last record put (the map's upper bound), -1 when empty.
        self.latest_offset = -1

    def __len__(self) -> int:
        return len(self._map)

    @property
    def full(self) -> bool:
        return len(self._map) >= self.capacity

    def put(self, key: bytes, offset: int) -> None:
        self._map[digest(key)] = offset
        if offset > self.latest_offset:
            self.latest_offset = offset

    def put_records(
        self, records: Iterable[tuple[int, bytes | None, bool]], first_offset: int
    ) -> None:
        """Put every keyed ``(offset, key, value is null)`` at or above ``first_offset`` (the
        cleaner's hot loop: one call per batch instead of one per record)."""
        m = self._map
        latest = self.latest_offset
        md5 = hashlib.md5
        for offset, key, _ in records:
            if key is None or offset < first_offset:
                continue
            if len(key) >= SHORT_KEY:
                key = md5(key, usedforsecurity=False).digest()
            m[key] = offset
            latest = offset
        self.latest_offset = max(self.latest_offset, latest)

    def get(self, key: bytes) -> int:
        return self._map.get(digest(key), -1)

    def clear(self) -> None:
        self._map = {}
        self.latest_offset = -1
