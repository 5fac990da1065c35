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

import functools
import hashlib
import operator
from collections.abc import Sequence
from itertools import repeat
from typing import cast

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


def _digests(keys: Sequence[bytes | None], key_size: int = -1) -> Sequence[bytes | None]:
    """:func:`digest` of every key (None stays None): the keys themselves when all are short,
    MD5 digests through C-level loops when all are long, else key by key. ``key_size`` >= 0
    says every key has that length (none is None)."""
    if 0 <= key_size < SHORT_KEY:
        return keys
    present = list(filter(None, keys))  # without None (and empty keys, which are short)
    if not present or max(map(len, present)) < SHORT_KEY:
        return keys
    if len(present) == len(keys) and min(map(len, present)) >= SHORT_KEY:
        return list(map(_DIGEST, map(_MD5, present)))
    return [None if k is None else digest(k) for k in keys]


_MD5 = functools.partial(hashlib.md5, usedforsecurity=False)
_DIGEST = operator.methodcaller("digest")


class OffsetMap:
    def __init__(self, memory_bytes: int) -> None:
        if memory_bytes < ENTRY_COST:
            raise ValueError(
                f"a dedupe buffer of {memory_bytes} bytes holds no key ({ENTRY_COST} per key)"
            )
        self.capacity = memory_bytes // ENTRY_COST
        self._map: dict[bytes, int] = {}
        #: The largest offset put (the map's upper bound), -1 when empty.
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

    def put_batch(
        self,
        offsets: Sequence[int],
        keys: Sequence[bytes | None],
        first: int,
        key_size: int = -1,
    ) -> None:
        """Put every keyed record of one batch (``offsets[i]`` is the offset of ``keys[i]``,
        ascending) at or above offset ``first``: the cleaner's hot path, with no Python code
        per record when every key is short and the batch lies above ``first``. ``key_size``
        >= 0 says every key has that length (as :class:`~tidelog.records.keys.KeyScan`)."""
        if not offsets:
            return
        ascending = type(offsets) is range
        if (offsets[0] if ascending else min(offsets)) < first:
            pairs = [(o, k) for o, k in zip(offsets, keys, strict=True) if o >= first]
            offsets, keys = [o for o, _ in pairs], [k for _, k in pairs]
            ascending = False
            if not offsets:
                return
        has_none = key_size < 0 and None in keys
        m = self._map
        m.update(zip(_digests(keys, key_size), offsets, strict=True))  # type: ignore[arg-type]  # None: below
        if has_none:
            m.pop(None, None)  # type: ignore[call-overload]
            keyed = [o for o, k in zip(offsets, keys, strict=True) if k is not None]
            self.latest_offset = max(self.latest_offset, max(keyed, default=-1))
        else:
            top = offsets[-1] if ascending else max(offsets)
            self.latest_offset = max(self.latest_offset, top)

    def latest(self, keys: Sequence[bytes], key_size: int = -1) -> list[int]:
        """:meth:`get` of every key, in one C-level loop when the keys are short."""
        digests = cast("Sequence[bytes]", _digests(keys, key_size))
        return list(map(self._map.get, digests, repeat(-1)))

    def sorted_offsets(self) -> list[int]:
        """Every offset in the map, ascending: the records of the mapped section that stay."""
        return sorted(self._map.values())

    def get(self, key: bytes) -> int:
        return self._map.get(digest(key), -1)

    def clear(self) -> None:
        self._map = {}
        self.latest_offset = -1
