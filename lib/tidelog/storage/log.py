"""One partition's log: a directory of segments with append, read, roll, retention,
truncation, flushing and crash recovery, byte-compatible with Apache Kafka's layout.

Directory layout (``<topic>-<partition>/``): segments ``<20-digit base offset>.log`` /
``.index`` / ``.timeindex`` (see :mod:`tidelog.storage.segment`), ``leader-epoch-checkpoint``
and, written by the LogManager, ``partition.metadata``.

Invariants: segments are sorted by base offset and only the last (active) one is appended to;
the log start offset lies in [first segment's base offset, log end offset (LEO)]; the recovery
point (everything below it is fsynced) is <= LEO; offsets of batches strictly increase.

Hot path: :meth:`PartitionLog.append` checks each batch header and CRC over a memoryview,
rewrites baseOffset and partitionLeaderEpoch in place (outside the CRC) and writes each
segment's share with one ``os.pwrite``; records are never decoded. :meth:`PartitionLog.read`
returns a :class:`~tidelog.storage.region.FileRegion` to ``sendfile``.

Crash behaviour: writes are not fsynced until :meth:`flush` (the explicit flush policy: the
broker calls it, via :meth:`flush_async` for group commit, when acks or flush.messages /
flush.ms say so). Opening without ``clean_shutdown`` re-validates every batch from the segment
holding the recovery point on, cuts a torn or corrupt tail together with any later segments and
rebuilds their indexes (:attr:`recovery_report`). Because that rebuild always covers the
segment holding the recovery point, a flush syncs the active segment's log file but not its
indexes (one device flush per group commit instead of three); indexes are synced once their
segment is inactive, and on close. A truncation is the exception: it is synced at once, with
everything before it, before the leader-epoch cache (written through on every change) is
cut, so a crash never brings back records the cache no longer describes — a follower would
keep them as if they were the new leader's. With ``clean_shutdown`` only index sizes are
checked, and the log is loaded lazily on first use. Deleted segments are unlinked at once:
regions already handed out keep their own descriptors, so no delay is needed
(``file.delete.delay.ms`` is not used here).

Thread safety: every method takes the log's lock; only :meth:`flush` fsyncs outside it, so
flushes can run on a worker thread while appends continue. A flush that a truncation overlaps
does not move the recovery point: the offsets above the cut may hold new records it never
synced (the recovery point is what a follower reports as durable).
"""

from __future__ import annotations

import bisect
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from tidelog.records.batch_header import (
    TRANSACTIONAL_BIT,
    BatchHeader,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
    validate_batch,
)
from tidelog.records.control import COMMIT, marker_of
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import decode_batch
from tidelog.storage import txn_files
from tidelog.storage.checkpoint import EpochEntry, fsync_dir
from tidelog.storage.config import LogConfig
from tidelog.storage.epoch_cache import LeaderEpochCache
from tidelog.storage.errors import (
    CorruptIndexError,
    InvalidBatchError,
    InvalidRecordError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
)
from tidelog.storage.files import (
    LEFTOVER_SUFFIXES,
    LOG_SUFFIX,
    SEGMENT_SUFFIXES,
    parse_segment_file_name,
)
from tidelog.storage.handles import HandleCache
from tidelog.storage.region import FileRegion
from tidelog.storage.segment import INT32_MAX, TIMESTAMP_TYPE_BIT, LogSegment
from tidelog.storage.swap import StepHook, install, recover_swaps
from tidelog.storage.topic_partition import TopicPartition, parse_partition_dir_name
from tidelog.storage.txn_state import AbortedTxn, OpenTxn, TxnState

log = logging.getLogger("tidelog.storage.log")

LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"

_executor_lock = threading.Lock()
_default_executor: concurrent.futures.ThreadPoolExecutor | None = None


def _shared_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _default_executor
    with _executor_lock:
        if _default_executor is None:
            _default_executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="tidelog-flush"
            )
        return _default_executor


#: Called with the seconds each flush's fdatasyncs took (on the flushing thread; the broker's
#: metrics). Observers must be quick and must not raise.
flush_observers: list[Callable[[float], None]] = []


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _check_keys(view: memoryview, pos: int, header: BatchHeader) -> None:
    """Refuse a batch holding a record without a key (a compacted log keeps the latest record
    per key, so a keyless one has no meaning there; Kafka answers INVALID_RECORD). This is the
    one append that decodes records, and only on compacted logs."""
    batch = decode_batch(view, pos, verify_crc=False)
    for index, rec in enumerate(batch.records()):
        if rec.key is None:
            raise InvalidRecordError(
                f"record {index} of the batch at byte {pos} has no key: "
                f"a compacted topic cannot accept a record without a key"
            )


class AppendInfo(NamedTuple):
    first_offset: int
    last_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int
    log_append_time_ms: int
    log_start_offset: int
    batch_count: int
    bytes: int


class CleanerView(NamedTuple):
    segments: tuple[LogSegment, ...]
    log_start_offset: int
    #: The last stable offset: the high watermark unless a transaction is open below it.
    high_watermark: int
    log_end_offset: int
    #: The aborted transactions, in marker order (their records are not kept by cleaning).
    aborted: tuple[AbortedTxn, ...] = ()


class RecoveryReport(NamedTuple):
    clean_shutdown: bool = True
    bytes_truncated: int = 0
    segments_recovered: int = 0
    segments_deleted: int = 0
    indexes_rebuilt: int = 0


class PartitionLog:
    """One partition's log. Build it with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        config: LogConfig,
        *,
        recovery_point: int,
        log_start_offset: int | None,
        clean_shutdown: bool,
        clock_ms: Callable[[], int] | None,
        handle_cache: HandleCache | None,
        executor: concurrent.futures.Executor | None,
    ) -> None:
        self._dir = Path(path)
        self.config = config
        self._clock = clock_ms or _wall_clock_ms
        self._cache = handle_cache if handle_cache is not None else HandleCache(64)
        self._executor = executor
        self._lock = threading.RLock()
        self._segments: list[LogSegment] = []
        self._bases: list[int] = []
        self._recovery_point = max(0, recovery_point)
        self._given_start = log_start_offset
        self._log_start_offset = log_start_offset if log_start_offset is not None else 0
        self._leo = 0
        self._hw: int | None = None
        self._clean_shutdown = clean_shutdown
        self._loaded = False
        self._closed = False
        self._dir_dirty = False
        #: Truncations so far: a flush that overlaps one leaves the recovery point alone.
        self._cuts = 0
        self._epochs = LeaderEpochCache(self._dir / LEADER_EPOCH_CHECKPOINT)
        self._last_flush_ms = self._clock()
        self._flush_state = threading.Lock()
        self._flush_running: concurrent.futures.Future[int] | None = None
        self._flush_pending: concurrent.futures.Future[int] | None = None
        self.recovery_report = RecoveryReport(clean_shutdown=clean_shutdown)
        self._swaps_completed = 0
        self._txns = TxnState()

    @classmethod
    def open(
        cls,
        path: Path,
        config: LogConfig,
        *,
        recovery_point: int = 0,
        log_start_offset: int | None = None,
        clean_shutdown: bool = False,
        clock_ms: Callable[[], int] | None = None,
        handle_cache: HandleCache | None = None,
        executor: concurrent.futures.Executor | None = None,
    ) -> PartitionLog:
        """Open (or create) the log in ``path``. Unclean opens recover now; clean ones load
        lazily on first use. ``clock_ms`` (default: wall clock) drives segment.ms,
        retention.ms, LogAppendTime and flush.ms."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        plog = cls(
            path,
            config,
            recovery_point=recovery_point,
            log_start_offset=log_start_offset,
            clean_shutdown=clean_shutdown,
            clock_ms=clock_ms,
            handle_cache=handle_cache,
            executor=executor,
        )
        if not clean_shutdown:
            plog._ensure_loaded()
        return plog

    # -- loading and recovery ----------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            if self._closed:
                raise StorageError(f"log {self._dir} is closed")
            self._load()
            self._loaded = True

    def _load(self) -> None:
        # An install of cleaned segments interrupted by a crash is finished first (it is
        # past its commit point); leftovers of an unfinished clean go with the others below.
        self._swaps_completed = recover_swaps(self._dir)
        bases: dict[int, set[str]] = {}
        for entry in os.scandir(self._dir):
            name = entry.name
            if any(name.endswith(s) for s in LEFTOVER_SUFFIXES) and entry.is_file():
                log.info("%s: removing leftover file %s", self._dir, name)
                os.unlink(entry.path)
                continue
            parsed = parse_segment_file_name(name)
            if parsed is not None and entry.is_file():
                bases.setdefault(parsed[0], set()).add(parsed[1])
        self._epochs = LeaderEpochCache.load(self._dir / LEADER_EPOCH_CHECKPOINT)
        needs_rebuild: set[int] = set()
        for base, suffixes in sorted(bases.items()):
            if LOG_SUFFIX not in suffixes:
                # Index files without their log: stale, remove them.
                for suffix in suffixes:
                    (self._dir / (f"{base:020d}" + suffix)).unlink(missing_ok=True)
                continue
            seg = LogSegment.load(self._dir, base, self.config, self._cache)
            self._segments.append(seg)
            if set(SEGMENT_SUFFIXES) - suffixes:
                needs_rebuild.add(base)
            else:
                try:
                    seg.offset_index.sanity_check()
                    seg.time_index.sanity_check()
                except CorruptIndexError as exc:
                    log.warning("%s: %s; rebuilding it", self._dir, exc)
                    needs_rebuild.add(base)
        if not self._segments:
            start = self._given_start if self._given_start is not None else 0
            self._segments.append(LogSegment.create(self._dir, start, self.config, self._cache))
            self._dir_dirty = True
        self._bases = [s.base_offset for s in self._segments]
        self._recover(needs_rebuild)
        active = self._segments[-1]
        try:
            active.make_active()
        except CorruptRecordError as exc:
            # A "clean" log whose tail does not parse: recover the active segment after all.
            log.warning("%s: %s; recovering the active segment", self._dir, exc)
            cut = active.recover(self._epochs)
            self._note_recovery(cut, 1, 0, 1)
            active.make_active()
        assert active.next_offset is not None
        self._leo = active.next_offset
        first = self._segments[0].base_offset
        given = self._given_start if self._given_start is not None else first
        self._log_start_offset = min(max(given, first), self._leo)
        self._epochs.truncate_from_end(self._leo, persist=False)
        self._epochs.truncate_from_start(self._log_start_offset, persist=False)
        self._epochs.save()
        if self.recovery_report.clean_shutdown:
            self._recovery_point = self._leo
        else:
            self._recovery_point = min(self._recovery_point, self._leo)
        self._txns = TxnState(aborted=txn_files.read_indexes(self._dir))
        self._rebuild_txns()

    def _recover(self, needs_rebuild: set[int]) -> None:
        clean = self._clean_shutdown
        start = 0 if clean else max(0, bisect.bisect_right(self._bases, self._recovery_point) - 1)
        for i, seg in enumerate(self._segments):
            if clean and seg.base_offset not in needs_rebuild:
                continue
            if not clean and i < start and seg.base_offset not in needs_rebuild:
                continue
            cut = seg.recover(self._epochs)
            if i < len(self._segments) - 1:
                if cut:
                    later = self._segments[i + 1 :]
                    for dead in later:
                        cut += dead.size
                        log.warning("%s: deleting %s after a corrupt tail", self._dir, dead)
                        dead.delete()
                    del self._segments[i + 1 :]
                    self._bases = [s.base_offset for s in self._segments]
                    self._note_recovery(cut, 1, len(later), 2)
                    seg.on_become_inactive()
                    break
                seg.on_become_inactive()
            self._note_recovery(cut, 1, 0, 2)

    def _note_recovery(self, cut: int, recovered: int, deleted: int, indexes: int) -> None:
        r = self.recovery_report
        self.recovery_report = r._replace(
            bytes_truncated=r.bytes_truncated + cut,
            segments_recovered=r.segments_recovered + recovered,
            segments_deleted=r.segments_deleted + deleted,
            indexes_rebuilt=r.indexes_rebuilt + indexes,
        )

    # -- properties --------------------------------------------------------------------------

    @property
    def dir(self) -> Path:
        return self._dir

    @property
    def topic_partition(self) -> TopicPartition | None:
        return parse_partition_dir_name(self._dir.name)

    @property
    def is_loaded(self) -> bool:
        return self._loaded

    @property
    def log_start_offset(self) -> int:
        if not self._loaded and self._given_start is not None:
            return self._given_start
        self._ensure_loaded()
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        self._ensure_loaded()
        return self._leo

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def high_watermark(self) -> int:
        """The high watermark; until set it is the log end offset (a single-replica log)."""
        self._ensure_loaded()
        with self._lock:
            hw = self._leo if self._hw is None else self._hw
            return max(self._log_start_offset, min(hw, self._leo))

    @high_watermark.setter
    def high_watermark(self, value: int) -> None:
        with self._lock:
            if not self._loaded:
                self._hw = value  # clamped when read, once the log is loaded
                return
            self._hw = max(self._log_start_offset, min(value, self._leo))

    @property
    def high_watermark_known(self) -> bool:
        """Whether the high watermark was set (or read from its checkpoint)."""
        with self._lock:
            return self._hw is not None

    def checkpoint_values(self) -> tuple[int, int | None, int | None]:
        """(recovery point, log start offset, high watermark) for the log dir's checkpoints,
        without loading a lazily opened log. The log start offset is None when it is the first
        segment's base offset (Kafka leaves those out), the high watermark None if unknown."""
        with self._lock:
            if not self._loaded:
                return self._recovery_point, self._given_start, self._hw
            start = self._log_start_offset
            return (
                self._recovery_point,
                start if start > self._bases[0] else None,
                self.high_watermark,
            )

    @property
    def size_in_bytes(self) -> int:
        self._ensure_loaded()
        return sum(s.size for s in self._segments)

    @property
    def segment_count(self) -> int:
        self._ensure_loaded()
        return len(self._segments)

    @property
    def segment_base_offsets(self) -> list[int]:
        self._ensure_loaded()
        return list(self._bases)

    @property
    def leader_epoch_entries(self) -> list[EpochEntry]:
        self._ensure_loaded()
        return self._epochs.entries

    @property
    def latest_epoch(self) -> int:
        self._ensure_loaded()
        return self._epochs.latest_epoch

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's OffsetForLeaderEpoch: (largest epoch <= ``epoch``, where it ends)."""
        self._ensure_loaded()
        with self._lock:
            return self._epochs.end_offset_for_epoch(epoch, self._leo)

    def start_leader_epoch(self, epoch: int) -> None:
        """This replica leads ``epoch`` from the current log end offset on (Kafka records the
        epoch when a broker becomes leader, before its first append in it)."""
        self._ensure_loaded()
        with self._lock:
            self._epochs.assign(epoch, self._leo)

    def update_config(self, config: LogConfig) -> None:
        """Take new settings; they apply to later appends, rolls and retention runs."""
        with self._lock:
            self.config = config

    # -- append ------------------------------------------------------------------------------

    def append(
        self, buf: bytearray | memoryview, *, leader_epoch: int, assign_offsets: bool = True
    ) -> AppendInfo:
        """Append the v2 batches in ``buf`` (modified in place: offsets, epoch, time).

        Everything is validated before anything is written: a bad batch raises
        CorruptRecordError or InvalidBatchError and leaves the log and ``buf`` unchanged.
        """
        self._ensure_loaded()
        view = memoryview(buf)
        try:
            if view.readonly:
                raise InvalidBatchError("append needs a writable buffer (bytearray)")
            if view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous:
                raise InvalidBatchError("append needs a contiguous byte buffer")
            with self._lock:
                if self._closed:
                    raise StorageError(f"log {self._dir} is closed")
                return self._append_locked(view, leader_epoch, assign_offsets)
        finally:
            view.release()

    def _validate(
        self, view: memoryview, assign_offsets: bool
    ) -> list[tuple[int, BatchHeader]]:
        total = len(view)
        if total == 0:
            raise InvalidBatchError("no record batches to append")
        limit = self.config.max_message_bytes
        batches: list[tuple[int, BatchHeader]] = []
        pos = 0
        next_offset = self._leo
        while pos < total:
            header = validate_batch(view, pos)
            if header.size > limit:
                raise RecordTooLargeError(
                    f"record batch at byte {pos} has {header.size} bytes, more than "
                    f"max.message.bytes {limit}"
                )
            if assign_offsets:
                if header.records_count == 0:
                    raise InvalidBatchError(f"record batch at byte {pos} has no records")
                if self.config.compact and not header.is_control:
                    _check_keys(view, pos, header)
                header = header._replace(base_offset=next_offset)
            else:
                # A leader's compacted log has gaps between batches, and a follower copies
                # them as they are (Kafka accepts a first batch beyond the log end too).
                if not batches and header.base_offset < self._leo:
                    raise InvalidBatchError(
                        f"follower append starts at offset {header.base_offset}, "
                        f"below the log end {self._leo}"
                    )
                if header.base_offset < next_offset:
                    raise InvalidBatchError(
                        f"record batch at byte {pos} has base offset {header.base_offset}, "
                        f"below the expected {next_offset}"
                    )
            next_offset = header.next_offset
            batches.append((pos, header))
            pos += header.size
        return batches

    def _append_locked(
        self, view: memoryview, leader_epoch: int, assign_offsets: bool
    ) -> AppendInfo:
        batches = self._validate(view, assign_offsets)
        now = self._clock()
        append_time = -1
        if assign_offsets:
            if self.config.log_append_time:
                append_time = now
            for i, (pos, header) in enumerate(batches):
                set_base_offset(view, pos, header.base_offset)
                set_partition_leader_epoch(view, pos, leader_epoch)
                if append_time >= 0:
                    set_log_append_time(view, pos, append_time)
                    header = header._replace(
                        max_timestamp=append_time,
                        attributes=header.attributes | TIMESTAMP_TYPE_BIT,
                    )
                batches[i] = (pos, header._replace(partition_leader_epoch=leader_epoch))
        max_ts, offset_of_max = -1, batches[0][1].last_offset
        transactional = False
        for _, header in batches:
            if header.max_timestamp > max_ts:
                max_ts, offset_of_max = header.max_timestamp, header.last_offset
            if header.attributes & TRANSACTIONAL_BIT:
                transactional = True
        i = 0
        while i < len(batches):
            seg = self._segments[-1]
            first = batches[i][1]
            if self._should_roll(seg, first, now):
                seg = self._roll_locked(first.base_offset)
            j = i + 1
            run_end = seg.size + first.size
            while j < len(batches):
                header = batches[j][1]
                if (
                    run_end + header.size > self.config.segment_bytes
                    or header.last_offset - seg.base_offset > INT32_MAX
                ):
                    break
                run_end += header.size
                j += 1
            seg.append(view, batches[i:j], now)
            assert seg.next_offset is not None
            self._leo = seg.next_offset
            i = j
        if assign_offsets:
            self._epochs.assign(leader_epoch, batches[0][1].base_offset)
        else:
            changed = False
            for _, header in batches:
                changed |= self._epochs.assign(
                    header.partition_leader_epoch, header.base_offset, persist=False
                )
            if changed:
                self._epochs.save()
        if transactional:
            for pos, header in batches:
                if header.attributes & TRANSACTIONAL_BIT:
                    self._track_txn(view, pos, header)
        last = batches[-1][1]
        return AppendInfo(
            first_offset=batches[0][1].base_offset,
            last_offset=last.last_offset,
            max_timestamp=max_ts,
            offset_of_max_timestamp=offset_of_max,
            log_append_time_ms=append_time,
            log_start_offset=self._log_start_offset,
            batch_count=len(batches),
            bytes=len(view),
        )

    def _should_roll(self, seg: LogSegment, header: BatchHeader, now: int) -> bool:
        if header.last_offset - seg.base_offset > INT32_MAX or header.base_offset < seg.base_offset:
            return True
        if seg.size == 0:
            return False
        if seg.size + header.size > self.config.segment_bytes:
            return True
        rolling = seg.rolling_ms()
        if rolling is not None and now - rolling > self.config.max_segment_ms:
            return True
        return seg.offset_index.is_full or seg.time_index.is_full

    # -- roll --------------------------------------------------------------------------------

    def roll(self) -> None:
        """Start a new active segment at the log end offset (no-op if the active one is empty)."""
        self._ensure_loaded()
        with self._lock:
            if self._segments[-1].size > 0:
                self._roll_locked(self._leo)

    def _roll_locked(self, base_offset: int) -> LogSegment:
        old = self._segments[-1]
        if old.size == 0:
            # An empty active segment is replaced rather than kept as an empty inactive one.
            old.delete()
            self._segments.pop()
            self._bases.pop()
        else:
            old.on_become_inactive()
        # The open transactions as of the new segment: a restart scans from here, not from
        # the log start (Kafka's producer snapshot at every roll).
        txn_files.write_snapshot(self._dir, base_offset, self._txns.open.values())
        seg = LogSegment.create(self._dir, base_offset, self.config, self._cache)
        seg.make_active()
        self._segments.append(seg)
        self._bases.append(base_offset)
        self._dir_dirty = True
        log.debug("%s: rolled a new segment at offset %d", self._dir, base_offset)
        return seg

    # -- read --------------------------------------------------------------------------------

    def read(
        self,
        offset: int,
        max_bytes: int,
        *,
        max_offset: int | None = None,
        min_one_batch: bool = True,
    ) -> FileRegion:
        """The file region from the batch holding ``offset``, on batch boundaries, within
        ``max_bytes`` (at least one batch with ``min_one_batch``), below ``max_offset``."""
        self._ensure_loaded()
        with self._lock:
            if offset < self._log_start_offset or offset > self._leo:
                raise OffsetOutOfRangeError(
                    f"offset {offset} is outside [{self._log_start_offset}, {self._leo}] of "
                    f"{self._dir.name}",
                    offset,
                    self._log_start_offset,
                    self._leo,
                )
            if offset == self._leo or (max_offset is not None and offset >= max_offset):
                return FileRegion.empty(offset)
            i = max(0, bisect.bisect_right(self._bases, offset) - 1)
            for seg in self._segments[i:]:
                region = seg.read_region(
                    max(offset, seg.base_offset), max(0, max_bytes), max_offset, min_one_batch
                )
                if region is not None:
                    return region
            return FileRegion.empty(offset)

    def offset_for_timestamp(self, timestamp_ms: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first batch whose max timestamp is >= ``timestamp_ms``
        (Kafka's ListOffsets by time, at batch granularity: the offset is the batch's base
        offset, or the log start offset if that is inside it); None if there is none."""
        return self._first_at_time(timestamp_ms, LogSegment.find_timestamp)

    def record_for_timestamp(self, timestamp_ms: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record at or after the log start offset whose
        timestamp is >= ``timestamp_ms`` (Kafka's ListOffsets by time: the batch found through
        the time index is decoded); None if there is none. A batch that does not decode raises
        CorruptRecordError."""
        return self._first_at_time(timestamp_ms, LogSegment.record_for_timestamp)

    def _first_at_time(
        self, timestamp_ms: int,
        lookup: Callable[[LogSegment, int, int], tuple[int, int] | None],
    ) -> tuple[int, int] | None:
        """``lookup`` in each segment, oldest first, that may hold a timestamp at or after
        ``timestamp_ms`` at or after the log start offset; its first answer."""
        self._ensure_loaded()
        with self._lock:
            for seg in self._segments:
                if seg.size == 0 or seg.max_timestamp < timestamp_ms:
                    continue
                if seg.next_offset is not None and seg.next_offset <= self._log_start_offset:
                    continue
                found = lookup(seg, timestamp_ms, self._log_start_offset)
                if found is not None:
                    return found
            return None

    # -- retention and log start offset -------------------------------------------------------

    def delete_old_segments(self) -> int:
        """Delete inactive segments past retention.ms / retention.bytes, or wholly below the
        log start offset; never the active one nor any above the high watermark."""
        self._ensure_loaded()
        with self._lock:
            now = self._clock()
            cfg = self.config
            upper = self.high_watermark
            total = sum(s.size for s in self._segments)
            doomed = 0
            for i, seg in enumerate(self._segments[:-1]):
                next_base = self._segments[i + 1].base_offset
                if next_base > upper:
                    break
                below_start = next_base <= self._log_start_offset
                # A compact-only log keeps its segments however old or big (the cleaner
                # bounds it by key); "compact,delete" applies both, as Kafka does.
                expired = (
                    cfg.delete
                    and cfg.retention_ms >= 0
                    and now - seg.largest_timestamp > cfg.retention_ms
                )
                oversize = (
                    cfg.delete
                    and cfg.retention_bytes >= 0
                    and total - seg.size >= cfg.retention_bytes
                )
                if not (below_start or expired or oversize):
                    break
                total -= seg.size
                doomed += 1
            if doomed:
                self._delete_first_segments(doomed)
            return doomed

    def _delete_first_segments(self, n: int) -> None:
        for seg in self._segments[:n]:
            log.info("%s: deleting segment %d", self._dir, seg.base_offset)
            seg.delete()
        del self._segments[:n]
        del self._bases[:n]
        self._dir_dirty = True
        self._log_start_offset = max(self._log_start_offset, self._segments[0].base_offset)
        self._epochs.truncate_from_start(self._log_start_offset)
        self._txns.drop_aborted_below(self._bases[0])
        txn_files.rewrite_indexes(self._dir, self._bases, self._txns.aborted)
        txn_files.delete_snapshots_below(self._dir, self._bases[0])

    def advance_log_start_offset(self, offset: int) -> None:
        """Move the log start offset up (DeleteRecords); delete wholly covered segments."""
        self._ensure_loaded()
        with self._lock:
            if offset > self._leo:
                raise OffsetOutOfRangeError(
                    f"cannot start the log at {offset}, beyond its end {self._leo}",
                    offset,
                    self._log_start_offset,
                    self._leo,
                )
            if offset <= self._log_start_offset:
                return
            self._log_start_offset = offset
            n = 0
            while n < len(self._segments) - 1 and self._segments[n + 1].base_offset <= offset:
                n += 1
            if n:
                self._delete_first_segments(n)
            else:
                self._epochs.truncate_from_start(offset)

    # -- truncation (followers) --------------------------------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Drop every batch holding ``offset`` or later (a batch straddling it goes whole)."""
        self._ensure_loaded()
        with self._lock:
            if offset < 0:
                raise StorageError(f"cannot truncate to negative offset {offset}")
            if offset >= self._leo:
                # Nothing to cut, but an epoch this replica started as leader and never wrote
                # to begins at the log end: the leader it now follows does not have it, and
                # kept it would be the follower's last_fetched_epoch on every fetch, each
                # answered with the same diverging epoch (Kafka does this too).
                self._epochs.truncate_from_end(self._leo)
                return
            if offset < self._log_start_offset:
                self.truncate_fully_and_start_at(offset)
                return
            while len(self._segments) > 1 and self._segments[-1].base_offset > offset:
                self._segments.pop().delete()
                self._bases.pop()
                self._dir_dirty = True
            active = self._segments[-1]
            self._leo = active.truncate_to(offset)
            active.make_active()
            self._make_cut_durable()
            self._after_truncation()
            if self._leo < self._log_start_offset:
                # The batch holding the log start offset was cut: nothing readable is left.
                self.truncate_fully_and_start_at(self._log_start_offset)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Delete every segment and start an empty log at ``offset``."""
        self._ensure_loaded()
        if offset < 0:
            raise StorageError(f"cannot start a log at negative offset {offset}")
        with self._lock:
            for seg in self._segments:
                seg.delete()
            seg = LogSegment.create(self._dir, offset, self.config, self._cache)
            seg.make_active()
            self._segments = [seg]
            self._bases = [offset]
            self._dir_dirty = True
            self._leo = offset
            self._log_start_offset = offset
            self._make_cut_durable()
            self._epochs.clear()
            self._after_truncation()

    def _make_cut_durable(self) -> None:
        """fdatasync a truncation (and whatever was unsynced below it) and the directory, on
        the caller's thread: truncations are rare (a follower meeting a new leader), and the
        epoch cache changes right after (see the module docstring)."""
        self._recovery_point = min(self._recovery_point, self._leo)
        self.flush()
        self._segments[-1].flush(indexes=False)  # the cut itself, also with nothing unsynced

    def _after_truncation(self) -> None:
        self._cuts += 1
        self._epochs.truncate_from_end(self._leo)
        self._recovery_point = min(self._recovery_point, self._leo)
        if self._hw is not None:
            self._hw = min(self._hw, self._leo)
        self._rebuild_txns()

    # -- transactions (see tidelog.storage.txn_state) ------------------------------------------

    def _track_txn(self, view: memoryview | bytes, pos: int, header: BatchHeader) -> None:
        """One transactional batch, appended or scanned (offsets assigned)."""
        if not header.is_control:
            self._txns.on_data(header)
            return
        try:
            commit = marker_of(view, pos, header).type == COMMIT
        except CorruptRecordError as exc:
            log.warning("%s: control batch at %d ignored: %s", self._dir, header.base_offset,
                        exc)
            return
        entry = self._txns.on_marker(header, commit)
        if entry is not None:
            base = self._bases[max(0, bisect.bisect_right(self._bases, entry.last_offset) - 1)]
            txn_files.append_index(self._dir, base, entry)

    def _rebuild_txns(self) -> None:
        """Open transactions from the newest snapshot at or below the log end, then the
        batches after it; aborts at or after the snapshot are found again by that scan."""
        snap = txn_files.latest_snapshot(self._dir, self._leo)
        start, open_txns = snap if snap is not None else (self._segments[0].base_offset, [])
        start = max(start, self._segments[0].base_offset)
        self._txns.drop_aborted_from(start)
        self._txns.drop_aborted_below(self._bases[0])
        self._txns = TxnState(open_txns, self._txns.aborted)
        txn_files.rewrite_indexes(self._dir, self._bases, self._txns.aborted)
        if start >= self._leo:
            return
        i = max(0, bisect.bisect_right(self._bases, start) - 1)
        for seg in self._segments[i:]:
            found = seg.find(start) if seg.base_offset < start else None
            first_pos = found[0] if found is not None else 0
            for pos, header in seg.headers(first_pos):
                if header.next_offset <= start or not header.attributes & TRANSACTIONAL_BIT:
                    continue
                if header.is_control:
                    self._track_txn(seg.read_at(pos, header.size), 0, header)
                else:
                    self._txns.on_data(header)

    @property
    def last_stable_offset(self) -> int:
        """Below it every transaction is decided (read_committed reads up to it)."""
        self._ensure_loaded()
        with self._lock:
            return self._txns.lso(self.high_watermark)

    def aborted_transactions(self, fetch_offset: int, upper: int) -> list[AbortedTxn]:
        """The aborted transactions a read_committed read of [fetch_offset, upper) meets."""
        self._ensure_loaded()
        with self._lock:
            return self._txns.aborted_between(fetch_offset, upper)

    @property
    def open_transactions(self) -> list[OpenTxn]:
        self._ensure_loaded()
        with self._lock:
            return sorted(self._txns.open.values(), key=lambda t: t.first_offset)

    # -- compaction (the log cleaner's side, see tidelog.storage.cleaner) ---------------------

    def cleaner_view(self) -> CleanerView:
        """The segments (the active one last), log start offset and high watermark, as one
        consistent snapshot for the cleaner's worker thread."""
        self._ensure_loaded()
        with self._lock:
            if self._closed:
                raise StorageError(f"log {self._dir} is closed")
            return CleanerView(
                # an open transaction is not compacted (Kafka cleans up to the last stable
                # offset): its records' fate is not decided yet
                tuple(self._segments), self._log_start_offset,
                self._txns.lso(self.high_watermark), self._leo, tuple(self._txns.aborted)
            )

    def replace_segments(
        self, old: Sequence[LogSegment], new: LogSegment, hook: StepHook | None = None
    ) -> bool:
        """Install the cleaned ``new`` (a flushed ``.cleaned`` segment) in place of the
        contiguous inactive segments ``old`` by the swap protocol of tidelog.storage.swap.

        Returns False, changing nothing, when the log moved on meanwhile (closed, or one of
        ``old`` deleted by retention or truncation, or became the active segment): the
        caller drops ``new``. An OSError part way leaves the files for the next open's
        recovery to finish, and the log must be reopened (Kafka takes the log dir offline)."""
        with self._lock:
            if self._closed or not old:
                return False
            try:
                i = next(k for k, seg in enumerate(self._segments) if seg is old[0])
            except StopIteration:
                return False
            current = self._segments[i : i + len(old)]
            if len(current) != len(old):
                return False
            if any(a is not b for a, b in zip(current, old, strict=True)):
                return False
            if i + len(old) >= len(self._segments):
                return False  # never the active segment
            install(self._dir, old, new, hook)
            self._segments[i : i + len(old)] = [new]
            self._bases = [s.base_offset for s in self._segments]
            txn_files.rewrite_indexes(self._dir, self._bases, self._txns.aborted)
            return True

    # -- flushing ----------------------------------------------------------------------------

    def flush(self, up_to_offset: int | None = None) -> int:
        """fdatasync the segments holding [recovery point, ``up_to_offset``) and the indexes of
        the inactive ones, then advance the recovery point; returns it. Blocking: call from a
        worker thread."""
        self._ensure_loaded()
        with self._lock:
            target = self._leo if up_to_offset is None else min(up_to_offset, self._leo)
            cuts = self._cuts
            dir_dirty, self._dir_dirty = self._dir_dirty, False
            if target <= self._recovery_point and not dir_dirty:
                return self._recovery_point
            active = self._segments[-1]
            segs = []
            for i, seg in enumerate(self._segments):
                end = self._bases[i + 1] if i + 1 < len(self._bases) else None
                if seg.base_offset < target and (end is None or end > self._recovery_point):
                    segs.append(seg)
        started = time.perf_counter()
        for seg in segs:
            # The active segment's indexes are derived data that recovery rebuilds (it always
            # starts at the segment holding the recovery point): syncing them on every flush
            # would cost two more device flushes per group commit. Inactive ones are synced.
            seg.flush(indexes=seg is not active)
        if dir_dirty:
            fsync_dir(self._dir)
        if flush_observers:
            took = time.perf_counter() - started
            for observer in flush_observers:
                observer(took)
        with self._lock:
            if cuts != self._cuts:
                # A truncation ran meanwhile: it synced what it kept and set the recovery
                # point; offsets above its cut may now be new, unsynced records (a follower
                # appends on while this flush runs), which this flush does not cover.
                return self._recovery_point
            new_point = min(target, self._leo)
            if active in segs and self._segments[-1] is not active:
                # It rolled during the flush, its indexes unsynced: keep the recovery point
                # inside it so a crash rebuilds them; the next flush syncs them.
                new_point = min(new_point, active.base_offset)
            self._recovery_point = max(self._recovery_point, new_point)
            self._last_flush_ms = self._clock()
            return self._recovery_point

    def flush_async(self) -> concurrent.futures.Future[int]:
        """Flush on a worker thread with group commit: callers arriving while a flush runs
        share the next one. Resolves to the recovery point after the flush."""
        with self._flush_state:
            if self._flush_pending is not None:
                return self._flush_pending
            future: concurrent.futures.Future[int] = concurrent.futures.Future()
            if self._flush_running is None:
                self._flush_running = future
                self._submit_flush(future)
            else:
                self._flush_pending = future
            return future

    def _submit_flush(self, future: concurrent.futures.Future[int]) -> None:
        executor = self._executor or _shared_executor()
        executor.submit(self._run_flush, future)

    def _run_flush(self, future: concurrent.futures.Future[int]) -> None:
        # From here on a waiter can no longer cancel the shared future; if one already did, the
        # flush still runs (others may rely on it) but nobody is told. Either way the group
        # commit machinery below must advance, or every later flush_async would hang.
        notify = future.set_running_or_notify_cancel()
        try:
            point = self.flush()
        except BaseException as exc:  # the waiters get the failure, whatever it is
            if notify:
                future.set_exception(exc)
        else:
            if notify:
                future.set_result(point)
        finally:
            with self._flush_state:
                nxt, self._flush_pending = self._flush_pending, None
                self._flush_running = nxt
            if nxt is not None:
                self._submit_flush(nxt)

    def needs_flush(self) -> bool:
        """Whether flush.messages or flush.ms say a flush is due."""
        if not self._loaded:
            return False
        with self._lock:
            unflushed = self._leo - self._recovery_point
            if unflushed <= 0:
                return False
            if unflushed >= self.config.flush_messages:
                return True
            return self._clock() - self._last_flush_ms >= self.config.flush_ms

    # -- lifetime ----------------------------------------------------------------------------

    def close(self, *, flush: bool = True) -> None:
        """Flush, write the final time index entry, trim the indexes, release handles.

        ``flush=False`` only releases handles (the log is about to be deleted)."""
        with self._lock:
            if self._closed:
                return
            if self._loaded and flush:
                self._segments[-1].on_become_inactive()
                self._segments[-1].flush_indexes()
                self.flush()
                self._epochs.save()
                txn_files.write_snapshot(self._dir, self._leo, self._txns.open.values())
            for seg in self._segments:
                seg.close()
            self._closed = True

    def release_handles(self) -> None:
        """Close every open descriptor and mapping of this log (they reopen on demand)."""
        with self._lock:
            for seg in self._segments:
                seg.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"PartitionLog({self._dir})"
