"""One log segment: a ``.log`` file of record batches plus its ``.index`` and ``.timeindex``.

The ``.log`` file is a plain concatenation of v2 record batches exactly as Kafka stores them;
the segment's base offset (its file name) is at most the first batch's base offset, and every
batch's last offset minus the base offset fits an int32 (the indexes store relative offsets).
Only batch headers are read (``os.pread`` of 61 bytes); records are decoded only by
:meth:`LogSegment.record_for_timestamp`, which reads the one batch a time lookup lands in (as
Kafka does for ListOffsets by time), never on the produce or fetch paths.

Index entries follow Kafka: when more than ``index.interval.bytes`` were appended since the
last entry, the next batch gets an offset index entry (its last offset, its position) and the
time index gets (max timestamp so far, last offset of the batch that reached it). When the
segment stops being active the time index receives a final entry with the segment's max
timestamp and both indexes are trimmed.

The log fd and index mappings are opened through the shared
:class:`~tidelog.storage.handles.HandleCache`, so an inactive segment holds no descriptor.
Crash behaviour: :meth:`LogSegment.recover` re-validates every batch (structure, CRC32C,
increasing offsets), cuts the file at the first bad or torn batch and rebuilds both indexes.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from tidelog.records.batch_header import (
    HEADER_SIZE,
    BatchHeader,
    TimestampType,
    parse_header,
    validate_batch,
)
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import decode_batch
from tidelog.storage.config import LogConfig
from tidelog.storage.epoch_cache import LeaderEpochCache
from tidelog.storage.files import (
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    segment_file_name,
)
from tidelog.storage.handles import FdHandle, HandleCache
from tidelog.storage.index import OffsetIndex, TimeIndex
from tidelog.storage.region import FileRegion

log = logging.getLogger("tidelog.storage.segment")

INT32_MAX = (1 << 31) - 1
_HANDLE_IDS = itertools.count()
TIMESTAMP_TYPE_BIT = 0x08
NO_TIMESTAMP = -1


class LogSegment:
    def __init__(
        self,
        directory: Path,
        base_offset: int,
        config: LogConfig,
        cache: HandleCache,
        suffix: str = "",
    ) -> None:
        self.dir = Path(directory)
        self.base_offset = base_offset
        #: Appended to every file name: "" for a live segment, ".cleaned" / ".swap" while the
        #: log cleaner builds and installs a replacement (see tidelog.storage.swap).
        self.suffix = suffix
        self.log_path = self.dir / (segment_file_name(base_offset, LOG_SUFFIX) + suffix)
        self.offset_index = OffsetIndex(
            self.dir / (segment_file_name(base_offset, INDEX_SUFFIX) + suffix),
            base_offset,
            config.segment_index_bytes,
            cache=cache,
        )
        self.time_index = TimeIndex(
            self.dir / (segment_file_name(base_offset, TIME_INDEX_SUFFIX) + suffix),
            base_offset,
            config.segment_index_bytes,
            cache=cache,
        )
        self.index_interval_bytes = config.index_interval_bytes
        self._cache = cache
        self._key = f"{self.log_path}#{next(_HANDLE_IDS)}"
        #: Bytes of whole batches in the file (the file may be longer only during recovery).
        self.size = 0
        #: Offset after the last batch; None until known (inactive segments loaded lazily).
        self.next_offset: int | None = None
        self._max_ts: int | None = None
        self._offset_of_max_ts = base_offset
        self.bytes_since_last_index_entry = 0
        #: When the segment's age for segment.ms starts; None while empty or not yet known.
        self._rolling_ms: int | None = None

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        base_offset: int,
        config: LogConfig,
        cache: HandleCache,
        suffix: str = "",
    ) -> LogSegment:
        """A new empty segment; its files are created (any stale ones are replaced)."""
        seg = cls(directory, base_offset, config, cache, suffix)
        fd = os.open(seg.log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        os.close(fd)
        seg.offset_index.recreate()
        seg.time_index.recreate()
        seg.next_offset = base_offset
        seg._max_ts = NO_TIMESTAMP
        return seg

    @classmethod
    def load(
        cls, directory: Path, base_offset: int, config: LogConfig, cache: HandleCache
    ) -> LogSegment:
        """An existing segment; only its size is read (stat), nothing is opened."""
        seg = cls(directory, base_offset, config, cache)
        seg.size = os.stat(seg.log_path).st_size
        return seg

    # -- file access -------------------------------------------------------------------------

    def _open_fd(self) -> FdHandle:
        return FdHandle(os.open(self.log_path, os.O_RDWR | os.O_CLOEXEC))

    def read_header(self, position: int) -> BatchHeader | None:
        """The header of the batch at ``position``, or None past the end or when torn."""
        if position + HEADER_SIZE > self.size:
            return None
        with self._cache.pin(self._key, self._open_fd) as h:
            data = os.pread(h.fd, HEADER_SIZE, position)
        if len(data) < HEADER_SIZE:
            return None
        header = parse_header(data)
        if header.batch_length < HEADER_SIZE - 12 or position + header.size > self.size:
            return None
        return header

    def read_at(self, position: int, size: int) -> bytes:
        """``size`` bytes of the log file from ``position`` (fewer at its end)."""
        with self._cache.pin(self._key, self._open_fd) as h:
            return os.pread(h.fd, size, position)

    def headers(self, start: int, end: int | None = None) -> Iterator[tuple[int, BatchHeader]]:
        """(position, header) of each batch from ``start`` (a batch boundary) to ``end``."""
        stop = self.size if end is None else min(end, self.size)
        pos = start
        while pos < stop:
            header = self.read_header(pos)
            if header is None:
                return
            yield pos, header
            pos += header.size

    @property
    def handle_cache(self) -> HandleCache:
        return self._cache

    def rename_file(self, suffix_of: str, new_suffix: str) -> None:
        """Rename one of the segment's files (``suffix_of`` is ``.log``, ``.index`` or
        ``.timeindex``) to end in ``new_suffix`` instead of its current suffix; one step of
        the swap protocol of :mod:`tidelog.storage.swap`, which decides the order."""
        target = self.dir / (segment_file_name(self.base_offset, suffix_of) + new_suffix)
        if suffix_of == LOG_SUFFIX:
            self._cache.discard(self._key)
            os.replace(self.log_path, target)
            self.log_path = target
            self._key = f"{self.log_path}#{next(_HANDLE_IDS)}"
        elif suffix_of == INDEX_SUFFIX:
            self.offset_index.rename(target)
        else:
            self.time_index.rename(target)

    def dup_fd(self) -> int:
        with self._cache.pin(self._key, self._open_fd) as h:
            return os.dup(h.fd)

    # -- state -------------------------------------------------------------------------------

    @property
    def max_timestamp(self) -> int:
        """Largest batch max timestamp in the segment (from the time index when loaded)."""
        if self._max_ts is None:
            ts, offset = self.time_index.last_entry()
            self._max_ts, self._offset_of_max_ts = ts, offset
        return self._max_ts

    @property
    def largest_timestamp(self) -> int:
        """What retention.ms compares: the max timestamp, or the file's mtime if none."""
        ts = self.max_timestamp
        if ts >= 0:
            return ts
        try:
            return int(os.stat(self.log_path).st_mtime * 1000)
        except FileNotFoundError:
            return 0

    def rolling_ms(self) -> int | None:
        """Start of the segment's age for segment.ms (None while empty)."""
        if self._rolling_ms is None and self.size > 0:
            header = self.read_header(0)
            if header is not None and header.max_timestamp >= 0:
                self._rolling_ms = header.max_timestamp
        return self._rolling_ms

    def find(self, offset: int) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset is >= ``offset``."""
        _, start = self.offset_index.lookup(offset)
        for pos, header in self.headers(start):
            if header.last_offset >= offset:
                return pos, header
        return None

    # -- writing -----------------------------------------------------------------------------

    def make_active(self) -> None:
        self.offset_index.make_writable()
        self.time_index.make_writable()
        if self.next_offset is None:
            self.next_offset = self._scan_next_offset()

    def _scan_next_offset(self) -> int:
        _, start = self.offset_index.last_entry()
        next_offset = self.base_offset
        end = start
        for pos, header in self.headers(start):
            next_offset = header.next_offset
            end = pos + header.size
        if end != self.size:
            raise CorruptRecordError(
                f"segment {self.log_path} has a torn or corrupt batch at byte {end}", end
            )
        return next_offset

    def append(
        self,
        view: memoryview,
        batches: Sequence[tuple[int, BatchHeader]],
        now_ms: int,
    ) -> None:
        """Write ``batches`` (positions in ``view``, contiguous, final headers) with one write."""
        if not batches:
            return
        start = batches[0][0]
        end = batches[-1][0] + batches[-1][1].size
        position = self.size
        with self._cache.pin(self._key, self._open_fd) as h:
            chunk = view[start:end]
            try:
                written = 0
                while written < len(chunk):
                    written += os.pwrite(h.fd, chunk[written:], position + written)
            except OSError:
                os.ftruncate(h.fd, position)  # leave no torn batch behind
                raise
            finally:
                chunk.release()
        if self._rolling_ms is None:
            self._rolling_ms = now_ms
        max_ts = self.max_timestamp
        for pos, header in batches:
            file_pos = position + (pos - start)
            if header.max_timestamp > max_ts:
                max_ts = header.max_timestamp
                self._offset_of_max_ts = header.last_offset
            self._max_ts = max_ts
            self._maybe_index(header, file_pos)
        self.size = position + (end - start)
        self.next_offset = batches[-1][1].next_offset

    def _maybe_index(self, header: BatchHeader, file_pos: int) -> None:
        if self.bytes_since_last_index_entry > self.index_interval_bytes:
            if not self.offset_index.entries >= self.offset_index.max_entries:
                self.offset_index.append(header.last_offset, file_pos)
            if not self.time_index.is_full:
                self.time_index.maybe_append(self.max_timestamp, self._offset_of_max_ts)
            self.bytes_since_last_index_entry = 0
        self.bytes_since_last_index_entry += header.size

    def on_become_inactive(self) -> None:
        """The segment rolled or the log closes: final time index entry, trim the indexes."""
        if not self.time_index.writable:
            self.time_index.make_writable()
        self.time_index.maybe_append(
            self.max_timestamp, self._offset_of_max_ts, skip_full_check=True
        )
        self.offset_index.trim()
        self.time_index.trim()

    # -- recovery and truncation -------------------------------------------------------------

    def recover(self, epochs: LeaderEpochCache | None) -> int:
        """Re-validate every batch, cut at the first bad one, rebuild both indexes.

        Returns the number of bytes cut from the end of the file.
        """
        self.offset_index.recreate()
        self.time_index.recreate()
        self.offset_index.make_writable()
        self.time_index.make_writable()
        self._cache.discard(self._key)
        self._max_ts = NO_TIMESTAMP
        self._offset_of_max_ts = self.base_offset
        self.bytes_since_last_index_entry = 0
        self._rolling_ms = None
        file_size = os.stat(self.log_path).st_size
        pos = 0
        expected = self.base_offset
        if file_size:
            fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                mm = mmap.mmap(fd, file_size, access=mmap.ACCESS_READ)
            finally:
                os.close(fd)
            view = memoryview(mm)
            try:
                pos, expected = self._recover_batches(view, file_size, epochs)
            finally:
                view.release()
                mm.close()
        cut = file_size - pos
        if cut:
            log.warning(
                "%s: cutting %d bytes of torn or corrupt data at byte %d", self.log_path, cut, pos
            )
            os.truncate(self.log_path, pos)
        self.size = pos
        self.next_offset = expected
        return cut

    def _recover_batches(
        self, mm: memoryview, file_size: int, epochs: LeaderEpochCache | None
    ) -> tuple[int, int]:
        pos = 0
        expected = self.base_offset
        while pos < file_size:
            try:
                header = validate_batch(mm, pos)
            except CorruptRecordError as exc:
                log.warning("%s: %s", self.log_path, exc)
                break
            if header.base_offset < expected:
                log.warning(
                    "%s: batch at byte %d has base offset %d, expected at least %d",
                    self.log_path, pos, header.base_offset, expected,
                )
                break
            if header.last_offset - self.base_offset > INT32_MAX:
                log.warning(
                    "%s: batch at byte %d has last offset %d, too far from the base offset",
                    self.log_path, pos, header.last_offset,
                )
                break
            if header.max_timestamp > (self._max_ts or NO_TIMESTAMP):
                self._max_ts = header.max_timestamp
                self._offset_of_max_ts = header.last_offset
            if self._rolling_ms is None and header.max_timestamp >= 0:
                self._rolling_ms = header.max_timestamp
            self._maybe_index(header, pos)
            if epochs is not None and header.partition_leader_epoch >= 0:
                epochs.assign(header.partition_leader_epoch, header.base_offset, persist=False)
            expected = header.next_offset
            pos += header.size
        return pos, expected

    def truncate_to(self, offset: int) -> int:
        """Drop every batch holding ``offset`` or later; returns the new next offset."""
        found = self.find(offset)
        if found is None:
            return self.next_offset if self.next_offset is not None else offset
        pos, header = found
        self.offset_index.truncate_to_position(pos)
        self.time_index.truncate_to_offset(header.base_offset)
        with self._cache.pin(self._key, self._open_fd) as h:
            os.ftruncate(h.fd, pos)
        self.size = pos
        self.next_offset = min(offset, header.base_offset)
        # Recompute the max timestamp from the last kept time entry and the unindexed tail.
        ts, ts_offset = self.time_index.last_entry()
        _, start = self.offset_index.last_entry()
        for _, h2 in self.headers(start):
            if h2.max_timestamp > ts:
                ts, ts_offset = h2.max_timestamp, h2.last_offset
        self._max_ts, self._offset_of_max_ts = ts, ts_offset
        self.bytes_since_last_index_entry = pos - start
        if pos == 0:
            self._rolling_ms = None
        return self.next_offset

    # -- region reads ------------------------------------------------------------------------

    def read_region(
        self, offset: int, max_bytes: int, max_offset: int | None, min_one_batch: bool
    ) -> FileRegion | None:
        """The region from the batch holding ``offset`` (None if no batch here holds it)."""
        found = self.find(offset)
        if found is None:
            return None
        start, first = found
        if max_offset is not None and first.last_offset >= max_offset:
            return FileRegion.empty(offset)
        if first.size > max_bytes and not min_one_batch:
            return FileRegion.empty(offset)
        limit = start + max(max_bytes, first.size)
        end = start + first.size
        next_offset = first.next_offset
        if end < self.size and end < limit:
            # Jump over whole batches with the index instead of reading every header.
            _, jump = self.offset_index.lookup_position(limit)
            if max_offset is not None:
                _, below = self.offset_index.lookup(max_offset - 1)
                jump = min(jump, below)
            if jump > end:
                header = self.read_header(jump)
                if header is not None:
                    end, next_offset = jump, header.base_offset
        for pos, header in self.headers(end):
            if pos + header.size > limit:
                break
            if max_offset is not None and header.last_offset >= max_offset:
                break
            end = pos + header.size
            next_offset = header.next_offset
        return FileRegion(self.dup_fd(), start, end - start, first.base_offset, next_offset)

    def _timestamp_candidates(
        self, timestamp: int, min_offset: int
    ) -> Iterator[tuple[int, BatchHeader]]:
        """(position, header) of each batch, in order, whose max timestamp is >= ``timestamp``
        and that holds offsets >= ``min_offset``, starting where the time index points."""
        ts, ts_offset = self.time_index.lookup(timestamp)
        start = 0
        if ts >= 0:
            _, start = self.offset_index.lookup(ts_offset)
        lo_offset = max(min_offset, self.base_offset)
        _, lo_pos = self.offset_index.lookup(lo_offset)
        for pos, header in self.headers(max(start, lo_pos)):
            if header.max_timestamp >= timestamp and header.last_offset >= min_offset:
                yield pos, header

    def find_timestamp(self, timestamp: int, min_offset: int) -> tuple[int, int] | None:
        """(offset, max timestamp) of the first batch whose max timestamp is >= ``timestamp``
        and that holds offsets >= ``min_offset`` (batch granularity: no record is decoded)."""
        for _, header in self._timestamp_candidates(timestamp, min_offset):
            return max(header.base_offset, min_offset), header.max_timestamp
        return None

    def record_for_timestamp(self, timestamp: int, min_offset: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first *record* at or above ``min_offset`` whose timestamp
        is >= ``timestamp``, as Kafka answers ListOffsets by time: the candidate batch is read
        and decoded (CorruptRecordError if it does not decode). A LogAppendTime batch gives
        every record the batch's max timestamp, so its first record answers undecoded."""
        for pos, header in self._timestamp_candidates(timestamp, min_offset):
            if header.timestamp_type == TimestampType.LOG_APPEND_TIME:
                return max(header.base_offset, min_offset), header.max_timestamp
            with self._cache.pin(self._key, self._open_fd) as h:
                data = os.pread(h.fd, header.size, pos)
            for record in decode_batch(data).records():
                if record.offset >= min_offset and record.timestamp >= timestamp:
                    return record.offset, record.timestamp
            # Only records below min_offset reach the timestamp: the next batch may.
        return None

    # -- durability and lifetime -------------------------------------------------------------

    def flush(self, *, indexes: bool = True) -> None:
        """fdatasync the log file and, with ``indexes``, both index files."""
        try:
            with self._cache.pin(self._key, self._open_fd) as h:
                os.fdatasync(h.fd)
            if indexes:
                self.flush_indexes()
        except FileNotFoundError:
            pass  # deleted by retention or truncation meanwhile: nothing left to flush

    def flush_indexes(self) -> None:
        try:
            self.offset_index.flush()
            self.time_index.flush()
        except FileNotFoundError:
            pass  # deleted meanwhile

    def close(self) -> None:
        self._cache.discard(self._key)
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        self.close()
        self.log_path.unlink(missing_ok=True)
        self.offset_index.delete()
        self.time_index.delete()

    def __repr__(self) -> str:
        return f"LogSegment({self.log_path}, size={self.size}, next_offset={self.next_offset})"

