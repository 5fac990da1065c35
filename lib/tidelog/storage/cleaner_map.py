"""The log cleaner's dedupe map: key -> offset of the latest record with that key, bounded.

Kafka's cleaner keeps a fixed array of (MD5 of the key, offset) slots sized by
``log.cleaner.dedupe.buffer.size``. This map is about as dense, in numpy arrays rather than
Python objects (a dict of bytes and ints cost ~200 bytes an entry: a 1 GiB log took 14 passes).

Format: every key becomes a 128-bit stand-in (k1, k2), two uint64:

- a key shorter than 16 bytes is exact: the key zero-padded to 15 bytes with its length in
  byte 15, read as two little-endian words (hi, lo); ``k2 = lo`` and
  ``k1 = fmix(hi ^ fmix(lo))`` (fmix, MurmurHash3's finaliser, is a bijection of uint64, so
  this is a bijection of the 16 bytes: equal stand-ins mean equal keys, and k1 is well spread
  even for keys that share their first bytes);
- a longer key is hashed, vectorised over all buffered keys of its length: two 64-bit lanes
  seeded with the length, each word of the zero-padded key folded in by xor (lane 1) or
  addition (lane 2) and fmix; k2 gets its top bit set, which no short key's stand-in has
  (byte 15 < 16), so a long key never equals a short one. Like Kafka's MD5, two long keys
  could share a stand-in (about n^2 / 2^128 by chance; the hash is not meant to resist keys
  crafted to collide, and MD5 no longer does either): the record of one could then be taken
  for an older version of the other.

The table is three parallel arrays (k1, k2, offset) sorted by k1, one entry per stand-in: 24
bytes an entry. Records put are first buffered per key length (the keys' bytes, and offsets as
runs: no Python object per record for uniform batches) and merged into the table once the
buffer holds 1/:data:`PENDING_SHARE` of the capacity: the buffer is sorted by k1 and reduced to
the largest offset per stand-in, then binary-searched in the table; a stand-in already there
takes the larger offset in place, new ones are inserted (one new column at a time). Two
stand-ins with the same k1 (a 64-bit collision) are told apart by k2 on slower exact paths.

Bound: ``capacity = memory_bytes // ENTRY_COST``, where :data:`ENTRY_COST` is the measured peak
bytes per key of the whole map (table, buffer and the transient copies of a merge). A log with
more distinct dirty keys than that is cleaned in several passes (:mod:`tidelog.storage.cleaner`
stops building the map at a batch boundary once it is :attr:`OffsetMap.full`).

Invariant: :meth:`OffsetMap.get` answers the largest offset put for the key since the last
:meth:`OffsetMap.clear`, or -1. No I/O; not thread-safe (one cleaner thread owns a map).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import repeat
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

#: Peak bytes per key of the whole map (tracemalloc over maps of 10^4 .. 10^6 keys of 13 and
#: 40 bytes, buffer and merges included: at most 38.7; rounded up).
ENTRY_COST = 40
#: The buffer is merged into the table when it holds this fraction of the capacity in records,
#: or that many times :data:`_BUFFER_RECORD` bytes (long keys).
PENDING_SHARE = 16
_BUFFER_RECORD = 32
#: Keys shorter than this are their own stand-in; longer ones are hashed.
SHORT_KEY = 16

_U64: TypeAlias = npt.NDArray[np.uint64]
_I64: TypeAlias = npt.NDArray[np.int64]
_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_SEED1 = 0x9E3779B97F4A7C15
_SEED2 = 0xD6E8FEB86659FD93
_TOP = np.uint64(1 << 63)


def _fmix(x: _U64) -> _U64:
    """MurmurHash3's 64-bit finaliser, in place (a bijection of uint64)."""
    x ^= x >> np.uint64(33)
    x *= _C1
    x ^= x >> np.uint64(33)
    x *= _C2
    x ^= x >> np.uint64(33)
    return x


def stand_ins(length: int, data: bytes | bytearray, count: int) -> tuple[_U64, _U64]:
    """(k1, k2) of the ``count`` keys of ``length`` bytes concatenated in ``data``."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if length < SHORT_KEY:
        padded = np.zeros((count, 16), dtype=np.uint8)
        if length:
            padded[:, :length] = raw.reshape(count, length)
        padded[:, 15] = length
        words = padded.view("<u8")
        k2 = words[:, 1].copy()
        k1 = _fmix(k2.copy())
        k1 ^= words[:, 0]
        return _fmix(k1), k2
    width = -(-length // 8)
    padded = np.zeros((count, width * 8), dtype=np.uint8)
    padded[:, :length] = raw.reshape(count, length)
    words = padded.view("<u8")
    h1 = np.full(count, (_SEED1 ^ length) & ((1 << 64) - 1), dtype=np.uint64)
    h2 = np.full(count, (_SEED2 + length) & ((1 << 64) - 1), dtype=np.uint64)
    for j in range(width):
        h1 ^= words[:, j]
        _fmix(h1)
        h2 += words[:, j]
        _fmix(h2)
        h2 *= _C1
    h2 |= _TOP
    return h1, h2


def _stand_ins_of(keys: Sequence[bytes]) -> tuple[_U64, _U64]:
    """(k1, k2) of keys of any lengths, in their order."""
    by_length: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(i)
    k1 = np.empty(len(keys), dtype=np.uint64)
    k2 = np.empty(len(keys), dtype=np.uint64)
    for length, where in by_length.items():
        a, b = stand_ins(length, b"".join(keys[i] for i in where), len(where))
        k1[where], k2[where] = a, b
    return k1, k2


def _runs(k1: _U64, k2: _U64) -> npt.NDArray[np.intp]:
    """Start index of every run of equal (k1, k2) in arrays where equal pairs are adjacent."""
    change = (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    return np.flatnonzero(np.concatenate(([True], change)))


def _reduce(k1: _U64, k2: _U64, off: _I64) -> tuple[_U64, _U64, _I64]:
    """Sorted by k1, one entry per (k1, k2), holding its largest offset."""
    order = np.argsort(k1)
    s1, s2 = k1[order], k2[order]
    if ((s1[1:] == s1[:-1]) & (s2[1:] != s2[:-1])).any():
        # A k1 shared by different stand-ins: order by k2 too so equal pairs are adjacent.
        order = np.lexsort((k2, k1))
        s1, s2 = k1[order], k2[order]
    del k1, k2
    starts = _runs(s1, s2)
    return s1[starts], s2[starts], np.maximum.reduceat(off[order], starts)


def _has_dup(k1: _U64) -> bool:
    return bool((k1[1:] == k1[:-1]).any())


class _Buffer:
    """Buffered records of one key length: their keys concatenated, offsets as runs."""

    __slots__ = ("counts", "data", "records", "starts")

    def __init__(self) -> None:
        self.data = bytearray()
        self.starts = array("q")
        self.counts = array("q")
        self.records = 0

    def offsets(self) -> _I64:
        counts = np.frombuffer(self.counts, dtype=np.int64)
        starts = np.frombuffer(self.starts, dtype=np.int64)
        before = np.cumsum(counts) - counts
        offsets: _I64 = np.arange(self.records, dtype=np.int64)
        offsets += np.repeat(starts - before, counts)
        return offsets


class OffsetMap:
    def __init__(self, memory_bytes: int) -> None:
        if memory_bytes < ENTRY_COST:
            raise ValueError(
                f"a dedupe buffer of {memory_bytes} bytes holds no key ({ENTRY_COST} per key)"
            )
        self.capacity = memory_bytes // ENTRY_COST
        self._pending_cap = max(1, self.capacity // PENDING_SHARE)
        self._pending_bytes_cap = self._pending_cap * _BUFFER_RECORD
        self.clear()

    def clear(self) -> None:
        self._k1: _U64 = np.empty(0, dtype=np.uint64)
        self._k2: _U64 = np.empty(0, dtype=np.uint64)
        self._off: _I64 = np.empty(0, dtype=np.int64)
        #: Two entries of the table share a k1 (then lookups take the exact slow path).
        self._dup = False
        self._buffers: dict[int, _Buffer] = {}
        self._pending = 0
        self._pending_bytes = 0
        self._sorted: _I64 | None = None
        #: The largest offset put (the map's upper bound), -1 when empty.
        self.latest_offset = -1

    def __len__(self) -> int:
        self._merge()
        return len(self._k1)

    @property
    def full(self) -> bool:
        if len(self._k1) + self._pending < self.capacity:
            return False
        self._merge()
        return len(self._k1) >= self.capacity

    # -- putting -----------------------------------------------------------------------------

    def _buffer(self, length: int) -> _Buffer:
        buf = self._buffers.get(length)
        if buf is None:
            buf = self._buffers[length] = _Buffer()
        return buf

    def put(self, key: bytes, offset: int) -> None:
        self.put_batch((offset,), (key,), offset)

    def put_batch(
        self,
        offsets: Sequence[int],
        keys: Sequence[bytes | None],
        first: int,
        key_size: int = -1,
    ) -> None:
        """Put every keyed record of one batch (``offsets[i]`` is the offset of ``keys[i]``,
        ascending) at or above offset ``first``: the cleaner's hot path, with no Python code
        per record when every key has one length (``key_size`` >= 0, as
        :class:`~tidelog.records.keys.KeyScan` says), the offsets are a ``range`` and the
        batch lies above ``first``."""
        if not offsets:
            return
        contiguous = type(offsets) is range
        if (offsets[0] if contiguous else min(offsets)) < first:
            pairs = [(o, k) for o, k in zip(offsets, keys, strict=True) if o >= first]
            offsets, keys = [o for o, _ in pairs], [k for _, k in pairs]
            contiguous = False
        if key_size >= 0 and contiguous:
            buf = self._buffer(key_size)
            buf.data += b"".join(keys)  # type: ignore[arg-type]  # key_size: no None
            buf.starts.append(offsets[0])
            buf.counts.append(len(offsets))
            buf.records += len(offsets)
            self._pending += len(offsets)
            self._pending_bytes += len(offsets) * (key_size + 16)
            top = offsets[-1]
        else:
            top = -1
            for o, k in zip(offsets, keys, strict=True):
                if k is None:
                    continue  # a record without a key has no place in a compacted log
                buf = self._buffer(len(k))
                buf.data += k
                buf.starts.append(o)
                buf.counts.append(1)
                buf.records += 1
                self._pending += 1
                self._pending_bytes += len(k) + 16
                top = max(top, o)
            if top < 0:
                return
        if top > self.latest_offset:
            self.latest_offset = top
        self._sorted = None
        if self._pending >= self._pending_cap or self._pending_bytes >= self._pending_bytes_cap:
            self._merge()

    def _merge(self) -> None:
        """Fold the buffered records into the table (see the module docstring)."""
        if not self._pending:
            return
        parts1, parts2, parts_off = [], [], []
        for length, buf in self._buffers.items():
            k1, k2 = stand_ins(length, buf.data, buf.records)
            parts1.append(k1)
            parts2.append(k2)
            parts_off.append(buf.offsets())
        self._buffers = {}
        self._pending = self._pending_bytes = 0
        p1, p2, poff = _reduce(np.concatenate(parts1), np.concatenate(parts2),
                               np.concatenate(parts_off))  # fmt: skip
        del parts1, parts2, parts_off
        n = len(self._k1)
        if n == 0:
            self._k1, self._k2, self._off = p1, p2, poff
            self._dup = _has_dup(p1)
            return
        if self._dup:
            # Exact slow path (a k1 collision in the table): reduce everything again.
            self._k1, self._k2, self._off = _reduce(
                np.concatenate((self._k1, p1)), np.concatenate((self._k2, p2)),
                np.concatenate((self._off, poff)),
            )  # fmt: skip
            self._dup = _has_dup(self._k1)
            return
        pos = np.searchsorted(self._k1, p1)
        at = np.minimum(pos, n - 1)
        same_k1 = self._k1[at] == p1
        found = same_k1 & (self._k2[at] == p2)
        where = at[found]
        self._off[where] = np.maximum(self._off[where], poff[found])
        new = ~found
        if not new.any():
            return
        collide = bool((same_k1 & new).any())
        pos, p1, p2, poff = pos[new], p1[new], p2[new], poff[new]
        # One column at a time, so the transient copy is one column of the table.
        self._k1 = np.insert(self._k1, pos, p1)
        self._k2 = np.insert(self._k2, pos, p2)
        self._off = np.insert(self._off, pos, poff)
        self._dup = collide or _has_dup(p1)

    # -- asking ------------------------------------------------------------------------------

    def latest(self, keys: Sequence[bytes], key_size: int = -1) -> list[int]:
        """:meth:`get` of every key, vectorised (``key_size`` >= 0: all have that length)."""
        if not keys:
            return []
        self._merge()
        n = len(self._k1)
        if n == 0:
            return list(repeat(-1, len(keys)))
        if key_size >= 0:
            q1, q2 = stand_ins(key_size, b"".join(keys), len(keys))
        else:
            q1, q2 = _stand_ins_of(keys)
        pos = np.searchsorted(self._k1, q1)
        at = np.minimum(pos, n - 1)
        found = (self._k1[at] == q1) & (self._k2[at] == q2)
        result: list[int] = np.where(found, self._off[at], -1).tolist()
        if self._dup:
            # The entry may lie further on in a run of equal k1.
            ends = np.searchsorted(self._k1, q1, side="right")
            for i in np.flatnonzero(~found & (ends - pos > 1)).tolist():
                for j in range(int(pos[i]) + 1, int(ends[i])):
                    if self._k2[j] == q2[i]:
                        result[i] = int(self._off[j])
        return result

    def get(self, key: bytes) -> int:
        return self.latest((key,))[0]

    def sorted_offsets(self) -> _I64:
        """Every offset in the map, ascending: the records of the mapped section that stay."""
        self._merge()
        if self._sorted is None:
            self._sorted = np.sort(self._off)
        return self._sorted
