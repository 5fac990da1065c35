"""Log compaction: Kafka's log cleaner, which keeps the latest record of every key.

What one pass does to a log with ``cleanup.policy`` compact (:func:`clean_pass`):

1. The dirty section starts at the log's cleaner checkpoint (``cleaner-offset-checkpoint``,
   clamped into [log start offset, log end offset]) and ends at the first uncleanable offset:
   the base offset of the segment holding the smallest of the active segment's base offset,
   the last stable offset (the high watermark, or the first offset of a transaction still
   open below it), and the base offset of the first segment holding a record younger than
   ``min.compaction.lag.ms`` (so no segment above the high watermark is ever rewritten).
2. The dedupe map (:class:`~tidelog.storage.cleaner_map.OffsetMap`) is filled with key ->
   latest offset from the dirty section, batch by batch, until the section ends or the map is
   full; its end is the pass's new checkpoint (a log with more keys takes several passes).
   Keys come from :func:`tidelog.records.keys.scan_keys` (no record objects, and for uniform
   batches no Python code per record) and go into the map one batch per call.
3. Every inactive segment from the log start up to the map's end is rewritten, in groups whose
   old sizes fit ``segment.bytes`` (so compaction does not leave thousands of tiny files).
   A record stays unless a later record of its key is in the map. In the mapped section that
   is: its offset is one of the map's (the sorted offsets answer a batch by binary search, and a
   batch holding none of them is dropped without being scanned again); below it the record's
   key is looked up. A record without a key goes
   (Kafka's cleaner drops it); a tombstone (null value) stays until its batch's delete horizon
   has passed. A batch whose records all stay and that needs no horizon is copied byte for
   byte. Otherwise its kept records are rebuilt into a batch with the same base offset and
   last offset delta (gaps stay gaps), codec, timestamp type, producer id, epoch, base
   sequence, leader epoch and flags; a batch with tombstones and no horizon yet gets
   ``delete horizon = now + delete.retention.ms`` (attribute bit 6, stored in baseTimestamp,
   KIP-534), so a consumer that read the key has that long to see its deletion. A batch left
   with no records is dropped, except the last batch of a producer id (kept empty, as Kafka
   does, so idempotent producer state survives) and the last batch of each group (kept empty,
   so the swap protocol knows the range it replaces). The batches of aborted transactions
   (the log's aborted list: a producer's batches from a transaction's first offset to its
   abort marker) are dropped and never enter the map, so an aborted record cannot shadow a
   committed value of its key. Control batches (transaction markers) are copied unchanged.
4. Each group's replacement is written as ``.cleaned`` files, fsynced, and installed by the
   crash-safe protocol of :mod:`tidelog.storage.swap` under the log's lock; if the log moved on
   meanwhile (retention, truncation, deletion) the pass is abandoned and nothing changes.

Reads go through the log's own files with ``os.pread`` in chunks (no mmap), so memory is the
map plus one chunk and one batch being rebuilt. I/O is limited by
``log.cleaner.io.max.bytes.per.second`` (:class:`Throttler`, reads and writes counted).

:class:`LogCleaner` runs passes on one worker thread (never on the event loop): every
``backoff`` it picks the dirtiest compacted log whose dirty ratio (dirty bytes / (clean + dirty
bytes)) exceeds ``min.cleanable.dirty.ratio``, or whose oldest dirty record is older than
``max.compaction.lag.ms``, or whose earliest delete horizon has passed; after each pass it
writes the checkpoint file atomically. A log whose pass fails (a corrupt batch, an I/O error)
is logged and left alone until the next start, as Kafka marks a partition uncleanable.

Crash behaviour: a kill -9 at any moment leaves the old segments or the new ones (see
tidelog.storage.swap); a checkpoint behind the truth only costs cleaning again.
"""

from __future__ import annotations

import logging
import operator
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tidelog.errors import TidelogError
from tidelog.records.batch_header import (
    HEADER_SIZE,
    BatchHeader,
    TimestampType,
    parse_header,
    read_size,
)
from tidelog.records.builder import encode_kept_records, finish_batch
from tidelog.records.errors import CorruptRecordError
from tidelog.records.keys import scan_keys
from tidelog.records.reader import decode_batch
from tidelog.storage.checkpoint import read_offset_checkpoint, write_offset_checkpoint
from tidelog.storage.errors import CheckpointError, StorageError
from tidelog.storage.log import CleanerView, PartitionLog
from tidelog.storage.segment import INT32_MAX, LogSegment
from tidelog.storage.swap import CLEANED_SUFFIX, StepHook
from tidelog.storage.topic_partition import TopicPartition
from tidelog.storage.txn_state import AbortedRanges

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    # Imported when the first map is made: numpy is slow to import and only the cleaner
    # thread needs it.
    from tidelog.storage.cleaner_map import OffsetMap

log = logging.getLogger("tidelog.storage.cleaner")

CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"
#: Kafka's defaults: log.cleaner.dedupe.buffer.size, log.cleaner.backoff.ms.
DEFAULT_DEDUPE_BUFFER_SIZE = 134217728
DEFAULT_BACKOFF_MS = 15000
_READ_CHUNK = 1 << 20
_WRITE_CHUNK = 1 << 20
_NO_HORIZON = -1


class CleanerAbortedError(StorageError):
    """A pass stopped before installing anything (the cleaner is stopping)."""


class Throttler:
    """Keeps the bytes passed to :meth:`acquire` under ``rate`` per second (0: no limit) by
    sleeping on the worker thread; the sleep ends early when ``stop`` is set."""

    def __init__(
        self,
        rate: float,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._stop = stop or threading.Event()
        self._clock = clock
        self._start = clock()
        self._bytes = 0
        self.slept_s = 0.0

    def acquire(self, n: int) -> None:
        if self.rate <= 0:
            return
        self._bytes += n
        now = self._clock()
        due = self._bytes / self.rate
        elapsed = now - self._start
        if due > elapsed:
            self.slept_s += due - elapsed
            self._stop.wait(due - elapsed)
        if elapsed > 1.0:
            # A fresh window each second: a pause earlier does not buy a burst later.
            self._start, self._bytes = self._clock(), 0


@dataclass
class PassStats:
    """What one pass did (or, summed by :func:`clean_log`, several)."""

    passes: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    records_read: int = 0
    records_kept: int = 0
    segments_before: int = 0
    segments_after: int = 0
    map_entries: int = 0
    elapsed_s: float = 0.0

    def add(self, other: PassStats) -> None:
        for name in self.__dataclass_fields__:
            if name == "map_entries":
                self.map_entries = max(self.map_entries, other.map_entries)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


class PassResult(NamedTuple):
    #: The new cleaner checkpoint: everything below it has been deduplicated.
    checkpoint: int
    #: The earliest delete horizon of a tombstone still in the log, -1 if none.
    next_horizon_ms: int
    stats: PassStats


class DirtyRange(NamedTuple):
    first_dirty: int
    first_uncleanable: int
    clean_bytes: int
    dirty_bytes: int
    #: Max timestamp of the first dirty batch (for max.compaction.lag.ms), -1 if unknown.
    first_dirty_timestamp: int

    @property
    def ratio(self) -> float:
        total = self.clean_bytes + self.dirty_bytes
        return self.dirty_bytes / total if total else 0.0


def dirty_range(
    plog: PartitionLog, checkpoint: int, now_ms: int, view: CleanerView | None = None
) -> DirtyRange:
    """Where the dirty section of ``plog`` lies for a cleaner checkpoint, and its sizes."""
    view = view or plog.cleaner_view()
    segments = view.segments
    active = segments[-1]
    first_dirty = checkpoint
    if first_dirty < view.log_start_offset or first_dirty > view.log_end_offset:
        first_dirty = view.log_start_offset  # no checkpoint, or the log was truncated/deleted
    uncleanable = min(active.base_offset, view.high_watermark)
    lag = plog.config.min_compaction_lag_ms
    if lag > 0:
        for i, seg in enumerate(segments[:-1]):
            end = segments[i + 1].base_offset
            if end > first_dirty and seg.largest_timestamp > now_ms - lag:
                uncleanable = min(uncleanable, seg.base_offset)
                break
    # Down to a segment boundary: a segment holding the high watermark (records a follower
    # may still truncate, or the leader not yet have replicated) is not rewritten at all.
    for seg in reversed(segments):
        if seg.base_offset <= uncleanable:
            uncleanable = seg.base_offset
            break
    clean = dirty = 0
    first_ts = -1
    for i, seg in enumerate(segments[:-1]):
        end = segments[i + 1].base_offset
        if end <= first_dirty:
            clean += seg.size
        elif seg.base_offset < uncleanable:
            dirty += seg.size
            if first_ts < 0:
                found = seg.find(first_dirty)
                first_ts = found[1].max_timestamp if found is not None else -1
    if first_dirty >= uncleanable:
        dirty = 0
    return DirtyRange(first_dirty, uncleanable, clean, dirty, first_ts)


# -- reading segment files --------------------------------------------------------------------


def _segment_batches(
    seg: LogSegment, throttler: Throttler, stats: PassStats, stop: threading.Event | None
) -> Iterator[tuple[bytes, int, BatchHeader]]:
    """(chunk, position in chunk, header) of every batch of ``seg``, CRC unchecked (the
    caller decodes what it needs, which checks it). Reads whole batches in chunks."""
    fd = os.open(seg.log_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = seg.size
        file_pos = 0
        while file_pos < size:
            if stop is not None and stop.is_set():
                raise CleanerAbortedError("the cleaner is stopping")
            want = min(_READ_CHUNK, size - file_pos)
            chunk = os.pread(fd, want, file_pos)
            first = read_size(chunk)
            if first is not None and first > len(chunk):
                # One batch bigger than the chunk: read exactly that batch.
                chunk = os.pread(fd, min(first, size - file_pos), file_pos)
            stats.bytes_read += len(chunk)
            throttler.acquire(len(chunk))
            pos = 0
            while pos + HEADER_SIZE <= len(chunk):
                header = parse_header(chunk, pos)
                if header.batch_length < HEADER_SIZE - 12:
                    raise CorruptRecordError(
                        f"{seg.log_path}: batch at byte {file_pos + pos} has batchLength "
                        f"{header.batch_length}",
                        file_pos + pos,
                    )
                if pos + header.size > len(chunk):
                    break
                yield chunk, pos, header
                pos += header.size
            if pos == 0:
                raise CorruptRecordError(
                    f"{seg.log_path}: torn batch at byte {file_pos}", file_pos
                )
            file_pos += pos
    finally:
        os.close(fd)


# -- one pass ---------------------------------------------------------------------------------


@dataclass
class _Output:
    """Batches of one cleaned segment being written, flushed to it in chunks."""

    seg: LogSegment
    now_ms: int
    throttler: Throttler
    stats: PassStats
    buf: bytearray = field(default_factory=bytearray)
    batches: list[tuple[int, BatchHeader]] = field(default_factory=list)

    def add(self, data: bytes | memoryview, header: BatchHeader) -> None:
        self.batches.append((len(self.buf), header))
        self.buf += data
        if len(self.buf) >= _WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.batches:
            return
        view = memoryview(self.buf)
        try:
            self.seg.append(view, self.batches, self.now_ms)
        finally:
            view.release()
        self.stats.bytes_written += len(self.buf)
        self.throttler.acquire(len(self.buf))
        self.buf = bytearray()
        self.batches = []


def _empty_batch(header: BatchHeader) -> bytes:
    """Kafka's empty batch: the header of ``header``'s batch with no records, uncompressed."""
    return finish_batch(
        b"", 0, header.max_timestamp, header.max_timestamp,
        base_offset=header.base_offset,
        producer_id=header.producer_id, producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
        is_transactional=header.is_transactional, is_control=header.is_control,
        timestamp_type=header.timestamp_type, last_offset_delta=header.last_offset_delta,
    )  # fmt: skip


def _group(segments: Sequence[LogSegment], max_bytes: int, max_index: int) -> list[list[int]]:
    """Indexes of consecutive segments grouped so each group's old size fits ``max_bytes``,
    its old index sizes fit ``max_index`` and its offsets fit an int32 from its base."""
    groups: list[list[int]] = []
    i = 0
    while i < len(segments) - 1:
        group = [i]
        size = segments[i].size
        index = segments[i].offset_index.size_in_bytes
        base = segments[i].base_offset
        j = i + 1
        while j < len(segments) - 1:
            seg = segments[j]
            if (
                size + seg.size > max_bytes
                or index + seg.offset_index.size_in_bytes > max_index
                or segments[j + 1].base_offset - 1 - base > INT32_MAX
            ):
                break
            size += seg.size
            index += seg.offset_index.size_in_bytes
            group.append(j)
            j += 1
        groups.append(group)
        i = j
    return groups


def clean_pass(
    plog: PartitionLog,
    checkpoint: int,
    offset_map: OffsetMap,
    *,
    now_ms: int,
    throttler: Throttler | None = None,
    hook: StepHook | None = None,
    stop: threading.Event | None = None,
    force: bool = False,
) -> PassResult | None:
    """One cleaning pass over ``plog`` (see the module docstring). Returns None when there is
    nothing to do: no dirty records and (unless ``force``, which rewrites the clean section to
    drop tombstones past their horizon) nothing else; also when the log changed under the
    pass (a segment deleted by retention or truncation), which then installed nothing."""
    try:
        return _clean_pass(
            plog, checkpoint, offset_map, now_ms, throttler or Throttler(0), hook, stop, force
        )
    except FileNotFoundError as exc:
        log.info("%s: a segment went away during cleaning (%s); pass abandoned",
                 plog.dir.name, exc)
        return None


def _clean_pass(
    plog: PartitionLog,
    checkpoint: int,
    offset_map: OffsetMap,
    now_ms: int,
    throttler: Throttler,
    hook: StepHook | None,
    stop: threading.Event | None,
    force: bool,
) -> PassResult | None:
    started = time.monotonic()
    stats = PassStats(passes=1)
    view = plog.cleaner_view()
    rng = dirty_range(plog, checkpoint, now_ms, view)
    segments = view.segments
    # Records of aborted transactions neither count as a key's latest value nor stay.
    aborted = AbortedRanges(view.aborted)
    offset_map.clear()
    # 2. The dedupe map over the dirty section.
    map_end = rng.first_dirty
    full = False
    for i, seg in enumerate(segments[:-1]):
        if full or seg.base_offset >= rng.first_uncleanable:
            break
        if segments[i + 1].base_offset <= rng.first_dirty:
            continue
        for chunk, pos, header in _segment_batches(seg, throttler, stats, stop):
            if header.last_offset < rng.first_dirty:
                continue
            if header.next_offset > rng.first_uncleanable:
                full = True  # reached the uncleanable part
                break
            if not header.is_control and not aborted.holds(header):
                scan = scan_keys(chunk, pos, header=header)
                offset_map.put_batch(scan.offsets, scan.keys, rng.first_dirty, scan.key_size)
            map_end = header.next_offset
            if offset_map.full:
                full = True
                break
    stats.map_entries = len(offset_map)
    if map_end <= rng.first_dirty and not force:
        return None
    # The segments to rewrite: every inactive one from the start holding offsets below map_end.
    upto = 0
    while upto < len(segments) - 1 and segments[upto].base_offset < map_end:
        upto += 1
    if map_end <= rng.first_dirty:
        # Forced, nothing dirty: rewrite the clean section (tombstones past their horizon).
        upto = 0
        while upto < len(segments) - 1 and segments[upto + 1].base_offset <= rng.first_dirty:
            upto += 1
    if upto == 0:
        return None
    to_clean = segments[: upto + 1]  # plus the next one, whose base ends the last group
    ctx = _Keep(
        offset_map, offset_map.sorted_offsets(), rng.first_dirty, map_end, now_ms,
        now_ms + plog.config.delete_retention_ms, segments,
    )  # fmt: skip
    next_horizon = _NO_HORIZON
    cfg = plog.config
    for group in _group(to_clean, cfg.segment_bytes, cfg.segment_index_bytes):
        ctx.group_start = group[0]
        old = [to_clean[k] for k in group]
        new = LogSegment.create(
            plog.dir, old[0].base_offset, cfg, old[0].handle_cache, suffix=CLEANED_SUFFIX
        )
        try:
            new.make_active()
            out = _Output(new, now_ms, throttler, stats)
            dropped_tail: BatchHeader | None = None
            for seg in old:
                for chunk, pos, header in _segment_batches(seg, throttler, stats, stop):
                    if aborted.holds(header):
                        stats.records_read += header.records_count
                        dropped_tail = header
                        continue
                    data, pending = _clean_batch(chunk, pos, header, ctx, stats)
                    if pending >= 0 and (next_horizon < 0 or pending < next_horizon):
                        next_horizon = pending
                    if data is None:
                        dropped_tail = header
                        continue
                    dropped_tail = None
                    out.add(data, parse_header(data))
            if dropped_tail is not None:
                # The group ends where it ended: swap recovery needs the cleaned segment's
                # last offset to cover every segment it replaces.
                empty = _empty_batch(dropped_tail)
                out.add(empty, parse_header(empty))
            out.flush()
            new.on_become_inactive()
            new.flush()
            if not plog.replace_segments(old, new, hook):
                log.info("%s: the log changed during cleaning; pass abandoned", plog.dir.name)
                new.delete()
                return None
        except BaseException:
            if new.suffix == CLEANED_SUFFIX:
                new.delete()
            raise
        stats.segments_before += len(old)
        stats.segments_after += 1
    stats.elapsed_s = time.monotonic() - started
    return PassResult(max(map_end, rng.first_dirty), next_horizon, stats)


def _last_batch_of_producers(segments: Sequence[LogSegment]) -> dict[int, int]:
    """producer id -> base offset of its last batch in the log (headers only)."""
    last: dict[int, int] = {}
    for seg in segments:
        for _, header in seg.headers(0):
            if header.producer_id >= 0:
                last[header.producer_id] = header.base_offset
    return last


@dataclass
class _Keep:
    """What decides which records of a pass stay (see :func:`_clean_batch`)."""

    offset_map: OffsetMap
    #: The map's offsets, ascending: in [first_dirty, map_end) exactly the records that stay.
    survivors: npt.NDArray[np.int64]
    first_dirty: int
    map_end: int
    now_ms: int
    #: The delete horizon a batch gets when it first keeps a tombstone.
    horizon: int
    #: The whole log, for :meth:`last_of_producer`, and the index of the first segment of the
    #: group being rewritten.
    segments: Sequence[LogSegment]
    group_start: int = 0
    _last_of_producer: dict[int, int] | None = None

    def last_of_producer(self, producer_id: int) -> int:
        """Base offset of the producer's last batch in the log. Read from the batch headers on
        first use (most passes, with no idempotent producers, never need it), from the group
        being rewritten on: groups before it may be replaced already, and hold no batch later
        than the one asked about."""
        if self._last_of_producer is None:
            self._last_of_producer = _last_batch_of_producers(self.segments[self.group_start :])
        return self._last_of_producer.get(producer_id, -1)


def _clean_batch(
    chunk: bytes, pos: int, header: BatchHeader, ctx: _Keep, stats: PassStats
) -> tuple[bytes | None, int]:
    """The bytes that replace one batch (None: drop it) and its pending delete horizon (-1:
    none). Scanning checks the CRC: a corrupt batch raises and stops the pass."""
    if header.is_control:
        # Transaction markers stay (Kafka removes them only once their transaction's records
        # are all cleaned and a delete horizon passed; not done here).
        return chunk[pos : pos + header.size], _NO_HORIZON
    # A record of the mapped section stays exactly when its offset is in the map (it is the
    # latest of its key); one found no offset in the map's range needs no scan at all (its CRC
    # was checked when the map was built). Other records stay unless the map holds a later
    # record of their key. Records are decoded (and rebuilt) only when a batch changes.
    base, last = header.base_offset, header.last_offset
    mapped = ctx.first_dirty <= base and last < ctx.map_end
    if mapped:
        lo = int(ctx.survivors.searchsorted(base))
        hi = int(ctx.survivors.searchsorted(last, side="right"))
        if lo == hi:
            stats.records_read += header.records_count
            return _nothing_kept(header, ctx), _NO_HORIZON
    scan = scan_keys(chunk, pos, header=header)
    offsets, keys, nulls = scan.offsets, scan.keys, scan.nulls
    stats.records_read += len(offsets)
    if mapped:
        keep = list(map(set(ctx.survivors[lo:hi].tolist()).__contains__, offsets))
    elif scan.key_size < 0 and None in keys:
        # A record without a key goes: a compacted log has no place for it (nor in Kafka).
        get = ctx.offset_map.get
        keep = [k is not None and get(k) <= o for o, k in zip(offsets, keys, strict=True)]
    else:
        latest = ctx.offset_map.latest(keys, scan.key_size)  # type: ignore[arg-type]  # no None
        keep = list(map(operator.le, latest, offsets))
    tombstones = False
    if any(nulls):
        past_horizon = header.has_delete_horizon and ctx.now_ms >= header.base_timestamp
        for i, null in enumerate(nulls):
            if null and keep[i]:
                if past_horizon:
                    keep[i] = False  # a tombstone past its delete horizon
                else:
                    tombstones = True
    indexes = list(compress(range(len(keep)), keep))
    stats.records_kept += len(indexes)
    has_horizon = header.has_delete_horizon
    need_horizon = tombstones and not has_horizon
    pending = _NO_HORIZON
    if tombstones:
        pending = ctx.horizon if need_horizon else header.base_timestamp
    if len(indexes) == len(keep) and not need_horizon:
        return chunk[pos : pos + header.size], pending
    if not indexes:
        return _nothing_kept(header, ctx), _NO_HORIZON
    records = list(decode_batch(chunk, pos, verify_crc=False).records())
    kept = [records[i] for i in indexes]
    log_append = header.timestamp_type == TimestampType.LOG_APPEND_TIME
    if need_horizon or has_horizon:
        base_ts = ctx.horizon if need_horizon else header.base_timestamp
    else:
        base_ts = header.base_timestamp if log_append else kept[0].timestamp
    max_ts = header.max_timestamp if log_append else max(rec.timestamp for rec in kept)
    body = encode_kept_records(kept, header.base_offset, base_ts)
    data = finish_batch(
        body, len(kept), base_ts, max_ts,
        base_offset=header.base_offset, compression=header.compression,
        producer_id=header.producer_id, producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
        is_transactional=header.is_transactional, is_control=False,
        timestamp_type=header.timestamp_type, last_offset_delta=header.last_offset_delta,
        delete_horizon=need_horizon or has_horizon,
    )  # fmt: skip
    return data, pending


def _nothing_kept(header: BatchHeader, ctx: _Keep) -> bytes | None:
    """A batch that keeps no record goes, unless it is the last of its producer id: Kafka
    keeps that one empty so idempotent producer state survives."""
    pid = header.producer_id
    if pid >= 0 and ctx.last_of_producer(pid) == header.base_offset:
        return _empty_batch(header)
    return None


def clean_log(
    plog: PartitionLog,
    checkpoint: int,
    offset_map: OffsetMap,
    *,
    now_ms: int,
    throttler: Throttler | None = None,
    hook: StepHook | None = None,
    force: bool = False,
) -> tuple[int, int, PassStats]:
    """Passes until the whole dirty section is clean: (checkpoint, next horizon, stats)."""
    total = PassStats()
    next_horizon = _NO_HORIZON
    first = True
    while True:
        result = clean_pass(
            plog, checkpoint, offset_map, now_ms=now_ms, throttler=throttler, hook=hook,
            force=force and first,
        )  # fmt: skip
        first = False
        if result is None:
            return checkpoint, next_horizon, total
        checkpoint, next_horizon = result.checkpoint, result.next_horizon_ms
        total.add(result.stats)


# -- the cleaner thread -----------------------------------------------------------------------


@dataclass(frozen=True)
class CleanerConfig:
    """The broker's ``log.cleaner.*`` settings."""

    enable: bool = True
    dedupe_buffer_size: int = DEFAULT_DEDUPE_BUFFER_SIZE
    #: 0: no limit (Kafka's default is Double.MAX_VALUE).
    io_max_bytes_per_second: float = 0.0
    backoff_ms: int = DEFAULT_BACKOFF_MS


@dataclass
class CleanerStatus:
    """The cleaner's view of one log, for ``log-topics describe``."""

    compacted: bool
    first_dirty_offset: int
    dirty_ratio: float
    dirty_bytes: int
    last_cleaned_ms: int = -1
    next_horizon_ms: int = -1
    error: str | None = None


@dataclass
class _LogState:
    last_cleaned_ms: int = -1
    next_horizon_ms: int = -1
    error: str | None = None


class LogCleaner:
    """Cleans the compacted logs of one :class:`~tidelog.storage.manager.LogManager` on one
    worker thread (see the module docstring)."""

    def __init__(
        self,
        log_dir: Path,
        logs: Callable[[], dict[TopicPartition, PartitionLog]],
        config: CleanerConfig,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self._logs = logs
        self.config = config
        self._clock = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._checkpoints = self._read_checkpoints()
        self._state: dict[TopicPartition, _LogState] = {}
        self._map: OffsetMap | None = None
        self.totals = PassStats()

    def _read_checkpoints(self) -> dict[TopicPartition, int]:
        try:
            return read_offset_checkpoint(self.log_dir / CLEANER_OFFSET_CHECKPOINT)
        except FileNotFoundError:
            return {}
        except CheckpointError as exc:
            log.warning("ignoring %s: the logs are cleaned again from their start", exc)
            return {}

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        if not self.config.enable or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tidelog-cleaner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (a running pass is abandoned before its next install)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wake(self) -> None:
        """Look for work now instead of after the backoff."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the thread must outlive any one log's trouble
                log.exception("cleaner iteration failed")
                worked = False
            if not worked:
                self._wake.wait(self.config.backoff_ms / 1000)
                self._wake.clear()

    # -- work --------------------------------------------------------------------------------

    def _candidate(self, now: int) -> tuple[TopicPartition, PartitionLog, bool] | None:
        best: tuple[float, TopicPartition, PartitionLog, bool] | None = None
        for tp, plog in self._logs().items():
            if plog.closed or not plog.config.compact:
                continue
            state = self._state.get(tp)
            if state is not None and state.error is not None:
                continue
            try:
                rng = dirty_range(plog, self._checkpoints.get(tp, -1), now)
            except (TidelogError, OSError):
                continue  # deleted or closed meanwhile
            cfg = plog.config
            lagging = (
                rng.dirty_bytes > 0
                and cfg.max_compaction_lag_ms < (1 << 63) - 1
                and 0 <= rng.first_dirty_timestamp < now - cfg.max_compaction_lag_ms
            )
            horizon_due = (
                state is not None and 0 <= state.next_horizon_ms <= now and rng.clean_bytes > 0
            )
            ratio_due = rng.dirty_bytes > 0 and rng.ratio > cfg.min_cleanable_dirty_ratio
            if not (lagging or horizon_due or ratio_due):
                continue
            score = 2.0 if lagging else rng.ratio
            if best is None or score > best[0]:
                best = (score, tp, plog, horizon_due and not (lagging or ratio_due))
        return None if best is None else best[1:]

    def run_once(self) -> bool:
        """Clean the dirtiest log one pass; False when no log needed it."""
        now = self._clock()
        picked = self._candidate(now)
        if picked is None:
            return False
        tp, plog, force = picked
        if self._map is None:
            from tidelog.storage.cleaner_map import OffsetMap

            self._map = OffsetMap(self.config.dedupe_buffer_size)
        throttler = Throttler(self.config.io_max_bytes_per_second, self._stop)
        state = self._state.setdefault(tp, _LogState())
        try:
            result = clean_pass(
                plog, self._checkpoints.get(tp, -1), self._map, now_ms=now,
                throttler=throttler, stop=self._stop, force=force,
            )  # fmt: skip
        except CleanerAbortedError:
            return False
        except (TidelogError, OSError) as exc:
            if plog.closed:
                return True  # deleted meanwhile
            log.error("cleaning %s failed, leaving it uncleaned until restart: %s", tp, exc)
            state.error = str(exc)
            return True
        finally:
            self._map.clear()
        if result is None:
            state.next_horizon_ms = -1 if force else state.next_horizon_ms
            return force
        state.last_cleaned_ms = self._clock()
        state.next_horizon_ms = result.next_horizon_ms
        with self._lock:
            self._checkpoints[tp] = result.checkpoint
            self.totals.add(result.stats)
        self._write_checkpoints()
        s = result.stats
        log.info(
            "cleaned %s up to offset %d: %d -> %d bytes read/written, %d of %d records kept, "
            "%d segments -> %d, %.2f s",
            tp, result.checkpoint, s.bytes_read, s.bytes_written, s.records_kept,
            s.records_read, s.segments_before, s.segments_after, s.elapsed_s,
        )
        return True

    def _write_checkpoints(self) -> None:
        live = self._logs()
        with self._lock:
            entries = {tp: off for tp, off in self._checkpoints.items() if tp in live}
            self._checkpoints = dict(entries)
        write_offset_checkpoint(self.log_dir / CLEANER_OFFSET_CHECKPOINT, entries)

    def status(self, tp: TopicPartition) -> CleanerStatus | None:
        """The cleaner's view of ``tp`` (None if the log does not exist here)."""
        plog = self._logs().get(tp)
        if plog is None:
            return None
        state = self._state.get(tp, _LogState())
        try:
            rng = dirty_range(plog, self._checkpoints.get(tp, -1), self._clock())
        except (TidelogError, OSError):
            return None
        return CleanerStatus(
            compacted=plog.config.compact,
            first_dirty_offset=rng.first_dirty,
            dirty_ratio=rng.ratio,
            dirty_bytes=rng.dirty_bytes,
            last_cleaned_ms=state.last_cleaned_ms,
            next_horizon_ms=state.next_horizon_ms,
            error=state.error,
        )
