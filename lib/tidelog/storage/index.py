"""Kafka's sparse offset and time indexes of a segment, memory-mapped.

Format (big-endian, fixed-size entries, no header), byte-compatible with Apache Kafka:

* ``.index``: 8-byte entries ``int32 relativeOffset, int32 position``: the batch whose last
  offset is ``baseOffset + relativeOffset`` starts at byte ``position`` of the ``.log`` file.
* ``.timeindex``: 12-byte entries ``int64 timestamp, int32 relativeOffset``: every batch before
  the one holding ``baseOffset + relativeOffset`` has a max timestamp below ``timestamp``.

Invariants: relative offsets strictly increase (offset index) or never decrease (time index),
positions and timestamps strictly increase, and no valid entry is all zero bytes (position 0 is
never indexed and timestamps are positive). The index of the active segment is preallocated to
``segment.index.bytes`` (rounded down to a whole entry) and trimmed to its entries on roll or
close, as Kafka does; a reader treats the all-zero tail of a preallocated file as empty, which
is found by binary search.

Lookups binary-search the mapped bytes with a precompiled ``struct.Struct``; entries are never
loaded into Python lists. Mappings are opened on first use through a shared
:class:`~tidelog.storage.handles.HandleCache` and may be closed by it at any time between
operations. Crash behaviour: the index is a cache of the log; after an unclean shutdown the
indexes of unflushed segments are rebuilt from the log, and a file whose size is not a multiple
of its entry size raises :class:`CorruptIndexError` and gets rebuilt.
"""

from __future__ import annotations

import itertools
import mmap
import os
import struct
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

from tidelog.storage.errors import CorruptIndexError, StorageError
from tidelog.storage.handles import HandleCache

OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")
_INT32_MAX = (1 << 31) - 1
_HANDLE_IDS = itertools.count()
NO_TIMESTAMP = -1


class _EmptyMap(bytearray):
    """Stands in for the mapping of an empty file (mmap cannot map zero bytes)."""

    def close(self) -> None:
        pass

    def flush(self) -> None:
        pass


_Map = mmap.mmap | _EmptyMap


def _count_before(
    mm: _Map, n: int, entry: struct.Struct, field: int, value: int, *, inclusive: bool
) -> int:
    """How many of the first ``n`` entries have ``field`` <= ``value`` (``inclusive``) or
    < ``value``: a binary search, valid because every indexed field is sorted."""
    unpack, size = entry.unpack_from, entry.size
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        got = unpack(mm, mid * size)[field]
        if got < value or (inclusive and got == value):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _count_nonzero(mm: _Map | mmap.mmap, n: int, entry_size: int) -> int:
    """Entries before the all-zero tail of a preallocated file (valid entries are never zero)."""
    zero = bytes(entry_size)
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if mm[mid * entry_size : mid * entry_size + entry_size] == zero:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _check_size(path: Path, size: int, entry_size: int) -> None:
    if size % entry_size:
        raise CorruptIndexError(
            f"index file {path} has {size} bytes, not a multiple of its {entry_size}-byte entries",
            size - size % entry_size,
        )


class _Index:
    ENTRY: ClassVar[struct.Struct]
    ENTRY_SIZE: ClassVar[int]

    def __init__(
        self,
        path: Path,
        base_offset: int,
        max_index_size: int = 10485760,
        *,
        cache: HandleCache | None = None,
    ) -> None:
        self.path = Path(path)
        self.base_offset = base_offset
        self.max_entries = max(0, max_index_size) // self.ENTRY_SIZE
        self._cache = cache if cache is not None else HandleCache(4)
        # Unique per object: two objects for one file never share (or close) a mapping.
        self._key = f"{self.path}#{next(_HANDLE_IDS)}"
        self._entries: int | None = None
        self._writable = False

    # -- mapping -----------------------------------------------------------------------------

    def _open_map(self) -> _Map:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(fd).st_size
            full = self.max_entries * self.ENTRY_SIZE
            if self._writable and size != full and size <= full:
                # Preallocate the active segment's index as Kafka does (a sparse file).
                os.ftruncate(fd, full)
                size = full
            _check_size(self.path, size, self.ENTRY_SIZE)
            mm: _Map = _EmptyMap() if size == 0 else mmap.mmap(fd, size)
            if isinstance(mm, mmap.mmap) and hasattr(mmap, "MADV_RANDOM"):
                # Binary search is random access; without this the first touch of a sparse
                # preallocated file reads ahead over megabytes of holes (ms per segment).
                mm.madvise(mmap.MADV_RANDOM)
        finally:
            os.close(fd)
        return mm

    def _count_entries(self, mm: _Map) -> int:
        """Entries before the all-zero tail: a binary search, valid entries are never zero."""
        if isinstance(mm, _EmptyMap):
            return 0
        return _count_nonzero(mm, len(mm) // self.ENTRY_SIZE, self.ENTRY_SIZE)

    def _pin(self) -> AbstractContextManager[_Map]:
        return self._cache.pin(self._key, self._open_map)

    @property
    def entries(self) -> int:
        if self._entries is None:
            with self._pin() as mm:
                self._entries = self._count_entries(mm)
        return self._entries

    @property
    def is_full(self) -> bool:
        return self.entries >= self.max_entries

    @property
    def size_in_bytes(self) -> int:
        return self.entries * self.ENTRY_SIZE

    def sanity_check(self) -> None:
        """Raise CorruptIndexError unless the file exists with a whole number of entries."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            raise CorruptIndexError(f"index file {self.path} is missing") from None
        _check_size(self.path, size, self.ENTRY_SIZE)

    @property
    def writable(self) -> bool:
        return self._writable

    def make_writable(self) -> None:
        """Preallocate the file to the maximum size (for the active segment)."""
        if self._writable:
            return
        entries = self.entries  # counted before the file grows
        self._writable = True
        self._cache.discard(self._key)
        full = self.max_entries * self.ENTRY_SIZE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if os.fstat(fd).st_size < full:
                os.ftruncate(fd, full)
        finally:
            os.close(fd)
        self._entries = entries

    def trim(self) -> None:
        """Cut the file to its entries (the segment stops being active, or closes)."""
        entries = self.entries
        self._writable = False
        self._cache.discard(self._key)
        try:
            if os.stat(self.path).st_size != entries * self.ENTRY_SIZE:
                os.truncate(self.path, entries * self.ENTRY_SIZE)
        except FileNotFoundError:
            pass

    def truncate_to_entries(self, n: int) -> None:
        """Keep the first ``n`` entries; zero the rest so the file stays self-describing."""
        entries = self.entries
        if n >= entries:
            return
        es = self.ENTRY_SIZE
        with self._pin() as mm:
            mm[n * es : entries * es] = bytes((entries - n) * es)
        self._entries = n

    def reset(self) -> None:
        self.truncate_to_entries(0)

    def recreate(self) -> None:
        """Replace the file with an empty one (the index is about to be rebuilt)."""
        self._cache.discard(self._key)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        os.close(fd)
        self._entries = 0
        self._on_reset()

    def _on_reset(self) -> None:
        pass

    def flush(self) -> None:
        if self._entries is None and self._key not in self._cache:
            return
        with self._pin() as mm:
            mm.flush()

    def close(self) -> None:
        self._cache.discard(self._key)

    def delete(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def rename(self, path: Path) -> None:
        self.close()
        os.replace(self.path, path)
        self.path = Path(path)
        self._key = f"{self.path}#{next(_HANDLE_IDS)}"

    def _relative(self, offset: int) -> int:
        rel = offset - self.base_offset
        if rel < 0 or rel > _INT32_MAX:
            raise StorageError(
                f"offset {offset} does not fit the index of segment {self.base_offset}"
            )
        return rel

    def _writable_full_check(self) -> None:
        if not self._writable:
            raise StorageError(f"index {self.path} is not open for appending")


class OffsetIndex(_Index):
    """Sparse map from offsets to byte positions of one segment's ``.log`` file."""

    ENTRY = OFFSET_ENTRY
    ENTRY_SIZE = OFFSET_ENTRY.size

    def entry(self, i: int) -> tuple[int, int]:
        """The ``i``-th entry as (absolute offset, position)."""
        with self._pin() as mm:
            rel, pos = OFFSET_ENTRY.unpack_from(mm, i * 8)
        return self.base_offset + rel, pos

    def last_entry(self) -> tuple[int, int]:
        """The last entry, or (base offset, 0) when there is none."""
        n = self.entries
        return self.entry(n - 1) if n else (self.base_offset, 0)

    def append(self, offset: int, position: int) -> None:
        self._writable_full_check()
        rel = self._relative(offset)
        n = self.entries
        if n >= self.max_entries:
            raise StorageError(f"offset index {self.path} is full ({n} entries)")
        with self._pin() as mm:
            if n:
                last_rel, last_pos = OFFSET_ENTRY.unpack_from(mm, (n - 1) * 8)
                if rel <= last_rel or position <= last_pos:
                    raise StorageError(
                        f"offset index {self.path}: entry ({offset}, {position}) does not follow "
                        f"({self.base_offset + last_rel}, {last_pos})"
                    )
            OFFSET_ENTRY.pack_into(mm, n * 8, rel, position)
        self._entries = n + 1

    def lookup(self, offset: int) -> tuple[int, int]:
        """Largest entry whose offset is <= ``offset``, or (base offset, 0)."""
        n = self.entries
        rel = offset - self.base_offset
        if n == 0 or rel < 0:
            return self.base_offset, 0
        with self._pin() as mm:
            lo = _count_before(mm, n, OFFSET_ENTRY, 0, rel, inclusive=True)
            if lo == 0:
                return self.base_offset, 0
            r, pos = OFFSET_ENTRY.unpack_from(mm, (lo - 1) * 8)
        return self.base_offset + r, pos

    def lookup_position(self, position: int) -> tuple[int, int]:
        """Largest entry whose position is <= ``position``, or (base offset, 0)."""
        n = self.entries
        if n == 0:
            return self.base_offset, 0
        with self._pin() as mm:
            lo = _count_before(mm, n, OFFSET_ENTRY, 1, position, inclusive=True)
            if lo == 0:
                return self.base_offset, 0
            r, pos = OFFSET_ENTRY.unpack_from(mm, (lo - 1) * 8)
        return self.base_offset + r, pos

    def truncate_to_position(self, position: int) -> None:
        """Drop the entries pointing at ``position`` or beyond (the log is cut there)."""
        n = self.entries
        if n == 0:
            return
        with self._pin() as mm:
            lo = _count_before(mm, n, OFFSET_ENTRY, 1, position, inclusive=False)
        self.truncate_to_entries(lo)


class TimeIndex(_Index):
    """Sparse map from timestamps to offsets of one segment."""

    ENTRY = TIME_ENTRY
    ENTRY_SIZE = TIME_ENTRY.size

    def __init__(
        self,
        path: Path,
        base_offset: int,
        max_index_size: int = 10485760,
        *,
        cache: HandleCache | None = None,
    ) -> None:
        super().__init__(path, base_offset, max_index_size, cache=cache)
        self._last: tuple[int, int] | None = None

    def entry(self, i: int) -> tuple[int, int]:
        """The ``i``-th entry as (timestamp, absolute offset)."""
        with self._pin() as mm:
            ts, rel = TIME_ENTRY.unpack_from(mm, i * 12)
        return ts, self.base_offset + rel

    def last_entry(self) -> tuple[int, int]:
        """The last entry, or (-1, base offset) when there is none."""
        if self._last is None:
            n = self.entries
            self._last = self.entry(n - 1) if n else (NO_TIMESTAMP, self.base_offset)
        return self._last

    def maybe_append(self, timestamp: int, offset: int, *, skip_full_check: bool = False) -> bool:
        """Add (timestamp, offset) if the timestamp is larger than the last entry's.

        With ``skip_full_check`` the entry may use the last slot kept free for the final entry
        a segment gets when it stops being active. Returns whether an entry was added.
        """
        self._writable_full_check()
        last_ts, last_offset = self.last_entry()
        n = self.entries
        if timestamp <= last_ts or timestamp <= 0:
            return False
        if offset < last_offset:
            raise StorageError(
                f"time index {self.path}: offset {offset} is below the last entry's {last_offset}"
            )
        limit = self.max_entries if skip_full_check else self.max_entries - 1
        if n >= limit:
            if skip_full_check:
                return False
            raise StorageError(f"time index {self.path} is full ({n} entries)")
        rel = self._relative(offset)
        with self._pin() as mm:
            TIME_ENTRY.pack_into(mm, n * 12, timestamp, rel)
        self._entries = n + 1
        self._last = (timestamp, offset)
        return True

    @property
    def is_full(self) -> bool:
        # One slot stays free for the final entry written when the segment rolls.
        return self.entries >= self.max_entries - 1

    def lookup(self, timestamp: int) -> tuple[int, int]:
        """Largest entry whose timestamp is <= ``timestamp``, or (-1, base offset)."""
        n = self.entries
        if n == 0:
            return NO_TIMESTAMP, self.base_offset
        with self._pin() as mm:
            lo = _count_before(mm, n, TIME_ENTRY, 0, timestamp, inclusive=True)
            if lo == 0:
                return NO_TIMESTAMP, self.base_offset
            ts, rel = TIME_ENTRY.unpack_from(mm, (lo - 1) * 12)
        return ts, self.base_offset + rel

    def truncate_to_offset(self, offset: int) -> None:
        """Drop the entries for ``offset`` and beyond."""
        n = self.entries
        rel = offset - self.base_offset
        if n:
            with self._pin() as mm:
                lo = _count_before(mm, n, TIME_ENTRY, 1, rel, inclusive=False)
            self.truncate_to_entries(lo)
        self._last = None

    def truncate_to_entries(self, n: int) -> None:
        super().truncate_to_entries(n)
        self._last = None

    def _on_reset(self) -> None:
        self._last = None


def _read_entries(path: Path, entry: struct.Struct) -> Iterator[tuple[int, int]]:
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        _check_size(path, size, entry.size)
        if size == 0:
            return
        mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    try:
        # Find the zero tail by binary search so a preallocated file is not read whole.
        es = entry.size
        for i in range(_count_nonzero(mm, size // es, es)):
            yield entry.unpack_from(mm, i * es)
    finally:
        mm.close()


def read_offset_index(path: Path, base_offset: int) -> Iterator[tuple[int, int]]:
    """Yield (absolute offset, position) of each entry of an ``.index`` file.

    Stops at a preallocated zero tail; raises CorruptIndexError (before yielding anything) when
    the file size is not a multiple of 8.
    """
    for rel, pos in _read_entries(path, OFFSET_ENTRY):
        yield base_offset + rel, pos


def read_time_index(path: Path, base_offset: int) -> Iterator[tuple[int, int]]:
    """Yield (timestamp, absolute offset) of each entry of a ``.timeindex`` file.

    Stops at a preallocated zero tail; raises CorruptIndexError (before yielding anything) when
    the file size is not a multiple of 12.
    """
    for ts, rel in _read_entries(path, TIME_ENTRY):
        yield ts, base_offset + rel
