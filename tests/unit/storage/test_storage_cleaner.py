"""The log cleaner at the storage level: Kafka's compaction semantics, bounded passes,
grouping, delete horizons, the cleaner thread and its checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tidelog.records import Compression, NewRecord, build_batch, iter_decoded_batches
from tidelog.records.batch_header import BatchHeader
from tidelog.records.record import Record
from tidelog.storage.cleaner import (
    CLEANER_OFFSET_CHECKPOINT,
    CleanerConfig,
    LogCleaner,
    Throttler,
    clean_log,
    dirty_range,
)
from tidelog.storage.cleaner_map import ENTRY_COST, OffsetMap
from tidelog.storage.config import LogConfig
from tidelog.storage.errors import InvalidConfigError, InvalidRecordError
from tidelog.storage.log import PartitionLog
from tidelog.storage.segment import LogSegment
from tidelog.storage.swap import CLEANED_SUFFIX
from tidelog.storage.topic_partition import TopicPartition

T0 = 1_700_000_000_000
COMPACT = LogConfig(
    segment_bytes=600, cleanup_policy="compact", delete_retention_ms=1000,
    index_interval_bytes=0, segment_index_bytes=4096, min_cleanable_dirty_ratio=0.0,
)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def open_log(path: Path, config: LogConfig = COMPACT, clock: Clock | None = None) -> PartitionLog:
    return PartitionLog.open(path, config, clock_ms=clock or Clock())


def put(plog: PartitionLog, *pairs: tuple[bytes, bytes | None], ts: int = T0, **kw: int) -> None:
    batch = build_batch([NewRecord(v, k, (), ts) for k, v in pairs], **kw)
    plog.append(bytearray(batch), leader_epoch=0)


def records(plog: PartitionLog, offset: int | None = None) -> list[Record]:
    out: list[Record] = []
    offset = plog.log_start_offset if offset is None else offset
    while offset < plog.log_end_offset:
        with plog.read(offset, 1 << 20) as region:
            data = region.read_bytes()
        for batch in iter_decoded_batches(data):
            out.extend(batch.records())
            offset = batch.header.next_offset
    return out


def batch_headers(plog: PartitionLog) -> list[BatchHeader]:
    heads = []
    offset = plog.log_start_offset
    while offset < plog.log_end_offset:
        with plog.read(offset, 1 << 20) as region:
            data = region.read_bytes()
        for batch in iter_decoded_batches(data):
            heads.append(batch.header)
            offset = batch.header.next_offset
    return heads


def clean(plog: PartitionLog, now: int, checkpoint: int = -1, memory: int = 1 << 20,
          force: bool = False) -> int:
    point, _, _ = clean_log(plog, checkpoint, OffsetMap(memory), now_ms=now, force=force)
    return point


def kv(recs: list[Record]) -> list[tuple[int, bytes | None, bytes | None]]:
    return [(r.offset, r.key, r.value) for r in recs]


def test_latest_value_per_key_with_offsets_kept(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    for i in range(30):
        put(plog, (b"k%d" % (i % 3), b"v%d" % i))
    plog.roll()
    put(plog, (b"k0", b"active"))  # the active segment is never cleaned
    before = plog.segment_count
    point = clean(plog, T0)
    assert point == 30
    assert kv(records(plog)) == [
        (27, b"k0", b"v27"), (28, b"k1", b"v28"), (29, b"k2", b"v29"), (30, b"k0", b"active")
    ]
    assert plog.segment_count == before  # each old segment filled segment.bytes: no grouping
    assert plog.log_end_offset == 31 and plog.log_start_offset == 0
    # Reading from an offset that was cleaned away gives the next record that stayed.
    # (Each cleaned segment ends with its old last batch, empty when its records went: the
    # swap protocol needs the range; consumers skip empty batches.)
    assert records(plog, 5)[0].offset == 27
    # Reopening (clean and unclean) gives the same records.
    plog.close()
    for clean_shutdown in (True, False):
        again = PartitionLog.open(tmp_path / "t-0", COMPACT, clean_shutdown=clean_shutdown)
        assert kv(records(again)) == [(27, b"k0", b"v27"), (28, b"k1", b"v28"),
                                      (29, b"k2", b"v29"), (30, b"k0", b"active")]
        assert again.log_end_offset == 31
        again.close()


def test_partial_batches_keep_codec_timestamps_producer_fields_and_offset_span(
    tmp_path: Path,
) -> None:
    plog = open_log(tmp_path / "t-0", LogConfig(
        segment_bytes=100_000, cleanup_policy="compact", min_cleanable_dirty_ratio=0.0,
    ))  # fmt: skip
    put(plog, (b"a", b"1"), (b"b", b"2"), (b"c", b"3"), compression=Compression.GZIP,
        producer_id=7, producer_epoch=3, base_sequence=10)
    batch = build_batch([NewRecord(b"4", b"a", (("h", b"x"),), T0 + 5),
                         NewRecord(b"5", b"c", (), T0 + 9)])
    plog.append(bytearray(batch), leader_epoch=2)
    plog.roll()
    put(plog, (b"z", b"z"))
    clean(plog, T0)
    heads = batch_headers(plog)
    first = heads[0]
    assert (first.base_offset, first.last_offset_delta, first.records_count) == (0, 2, 1)
    assert first.compression == Compression.GZIP
    assert (first.producer_id, first.producer_epoch, first.base_sequence) == (7, 3, 10)
    assert first.partition_leader_epoch == 0
    recs = records(plog)
    assert kv(recs)[:3] == [(1, b"b", b"2"), (3, b"a", b"4"), (4, b"c", b"5")]
    assert [r.timestamp for r in recs[:3]] == [T0, T0 + 5, T0 + 9]
    assert recs[1].headers == (("h", b"x"),)
    assert heads[1].partition_leader_epoch == 2 and heads[1].records_count == 2  # copied whole


def test_tombstones_stay_until_their_delete_horizon(tmp_path: Path) -> None:
    clock = Clock()
    plog = open_log(tmp_path / "t-0", clock=clock)
    put(plog, (b"a", b"1"), (b"b", b"2"))
    put(plog, (b"a", None))
    plog.roll()
    put(plog, (b"x", b"active"))
    point = clean(plog, T0 + 10)
    assert kv(records(plog))[:2] == [(1, b"b", b"2"), (2, b"a", None)]
    tomb = next(h for h in batch_headers(plog) if h.base_offset == 2)
    assert tomb.has_delete_horizon and tomb.base_timestamp == T0 + 10 + 1000
    assert [r.timestamp for r in records(plog) if r.offset == 2] == [T0]  # record's own time
    # Before the horizon, even a forced clean keeps it.
    clean(plog, T0 + 1009, checkpoint=point, force=True)
    assert (2, b"a", None) in kv(records(plog))
    # From the horizon on it goes (the rest stays, offsets unchanged).
    clean(plog, T0 + 1010, checkpoint=point, force=True)
    assert kv(records(plog)) == [(1, b"b", b"2"), (3, b"x", b"active")]
    assert plog.log_end_offset == 4


def test_keyless_records_are_refused_on_compacted_logs(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    with pytest.raises(InvalidRecordError, match="without a key"):
        put(plog, (b"k", b"1"), (None, b"no key"))  # type: ignore[arg-type]
    assert plog.log_end_offset == 0  # nothing of the batch was written
    plain = open_log(tmp_path / "u-0", LogConfig())
    put(plain, (None, b"fine"))  # type: ignore[arg-type]
    assert plain.log_end_offset == 1


def test_a_small_dedupe_map_cleans_in_several_passes(tmp_path: Path) -> None:
    results = []
    for memory in (1 << 20, ENTRY_COST * 3):
        plog = open_log(tmp_path / f"t{memory}-0")
        for i in range(60):
            put(plog, (b"k%d" % (i % 10), b"v%d" % i))
        plog.roll()
        put(plog, (b"end", b"end"))
        point, _, stats = clean_log(plog, -1, OffsetMap(memory), now_ms=T0)
        assert point == 60
        results.append(kv(records(plog)))
        if memory < 1000:
            assert stats.passes >= 3 and stats.map_entries <= 4
        plog.close()
    assert results[0] == results[1]
    assert [k for _, k, _ in results[0]] == [b"k%d" % i for i in range(10)] + [b"end"]


def test_small_cleaned_segments_are_grouped(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0", COMPACT)
    for i in range(200):
        put(plog, (b"k%d" % (i % 2), b"v%d" % i))
    plog.roll()
    assert plog.segment_count > 20
    clean(plog, T0)
    # Two live keys: the old segments' data fits one segment; grouping is by old sizes
    # (segment.bytes each), so a second pass merges what the first one left.
    clean(plog, T0, checkpoint=-1)
    assert plog.segment_count <= 4
    assert kv(records(plog)) == [(198, b"k0", b"v198"), (199, b"k1", b"v199")]


def test_min_compaction_lag_and_high_watermark_bound_the_dirty_section(tmp_path: Path) -> None:
    clock = Clock()
    cfg = LogConfig(segment_bytes=600, cleanup_policy="compact", min_compaction_lag_ms=500,
                    index_interval_bytes=0, min_cleanable_dirty_ratio=0.0)
    plog = open_log(tmp_path / "t-0", cfg, clock)
    for i in range(10):
        put(plog, (b"k", b"old%d" % i), ts=T0)
    plog.roll()
    for i in range(10):
        put(plog, (b"k", b"new%d" % i), ts=T0 + 1000)
    plog.roll()
    put(plog, (b"k", b"active"), ts=T0 + 1000)
    rng = dirty_range(plog, -1, T0 + 1200)
    assert rng.first_uncleanable == 10  # the second run of segments is younger than the lag
    clean(plog, T0 + 1200)
    assert [v for _, _, v in kv(records(plog))][:1] == [b"old9"]
    plog.high_watermark = 15  # inside a segment: that whole segment waits
    bases = plog.segment_base_offsets
    holding = max(b for b in bases if b <= 15)
    assert dirty_range(plog, 10, T0 + 2000).first_uncleanable == holding < 15


def test_compact_only_logs_ignore_time_and_size_retention(tmp_path: Path) -> None:
    clock = Clock()
    cfg = LogConfig(segment_bytes=600, retention_ms=10, retention_bytes=100,
                    cleanup_policy="compact")
    plog = open_log(tmp_path / "t-0", cfg, clock)
    for i in range(20):
        put(plog, (b"k%d" % i, b"v"))
    clock.now += 1000
    assert plog.delete_old_segments() == 0
    plog.update_config(LogConfig(segment_bytes=600, retention_ms=10, retention_bytes=100,
                                 cleanup_policy="compact,delete"))
    assert plog.delete_old_segments() > 0


def test_config_checks() -> None:
    assert LogConfig.from_properties({"cleanup.policy": "delete,compact"}).cleanup_policy == (
        "compact,delete"
    )
    cfg = LogConfig.from_properties({"min.cleanable.dirty.ratio": "0.25"})
    assert cfg.min_cleanable_dirty_ratio == 0.25
    assert LogConfig.from_properties(cfg.to_properties()) == cfg
    for key, value in [("cleanup.policy", "forever"), ("cleanup.policy", ""),
                       ("min.cleanable.dirty.ratio", "1.5"), ("min.cleanable.dirty.ratio", "x"),
                       ("delete.retention.ms", "-1"), ("max.compaction.lag.ms", "0")]:
        with pytest.raises(InvalidConfigError):
            LogConfig.from_properties({key: value})
    assert LogConfig(cleanup_policy="compact", max_compaction_lag_ms=50).max_segment_ms == 50
    assert LogConfig(max_compaction_lag_ms=50).max_segment_ms == 604800000


def test_throttler_sleeps_to_the_rate() -> None:
    now = [0.0]
    waits: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            assert timeout is not None
            waits.append(timeout)
            now[0] += timeout
            return False

    t = Throttler(1000.0, Stop(), clock=lambda: now[0])
    t.acquire(500)
    assert waits == [pytest.approx(0.5)]
    assert Throttler(0).rate == 0


def test_a_pass_reads_and_writes_through_its_throttler(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    for i in range(40):
        put(plog, (b"k%d" % (i % 4), b"v" * 50))
    plog.roll()
    now = [0.0]
    waits: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            assert timeout is not None
            waits.append(timeout)
            now[0] += timeout
            return False

    rate = 1000.0  # bytes per second: the whole pass must take seconds of sleep
    throttler = Throttler(rate, Stop(), clock=lambda: now[0])
    _, _, stats = clean_log(plog, -1, OffsetMap(1 << 20), now_ms=T0, throttler=throttler)
    moved = stats.bytes_read + stats.bytes_written
    assert stats.bytes_written > 0 and moved > plog.size_in_bytes
    # Sleeps add up to the time the bytes take at the rate, less what the first second allows.
    assert moved / rate - 1.5 <= throttler.slept_s == pytest.approx(sum(waits))
    assert kv(records(plog))[-4:] == [(36 + i, b"k%d" % i, b"v" * 50) for i in range(4)]
    plog.close()


def test_the_cleaner_thread_cleans_and_checkpoints(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0", COMPACT)
    for i in range(40):
        put(plog, (b"k%d" % (i % 4), b"v%d" % i))
    plog.roll()
    plain = open_log(tmp_path / "p-0", LogConfig(segment_bytes=600))
    for i in range(40):
        put(plain, (b"k", b"v%d" % i))
    plain.roll()
    plain_before = plain.size_in_bytes
    logs = {TopicPartition("t", 0): plog, TopicPartition("p", 0): plain}
    cleaner = LogCleaner(tmp_path, lambda: dict(logs), CleanerConfig(backoff_ms=10))
    status = cleaner.status(TopicPartition("t", 0))
    assert status is not None and status.dirty_ratio == 1.0 and status.last_cleaned_ms == -1
    cleaner.start()
    try:
        ok = threading.Event()
        for _ in range(2000):
            status = cleaner.status(TopicPartition("t", 0))
            if status is not None and status.last_cleaned_ms >= 0:
                ok.set()
                break
            ok.wait(0.01)
        assert ok.is_set()
    finally:
        cleaner.stop()
    assert [k for _, k, _ in kv(records(plog))] == [b"k0", b"k1", b"k2", b"k3"]
    assert plain.size_in_bytes == plain_before  # delete policy: never cleaned
    assert (tmp_path / CLEANER_OFFSET_CHECKPOINT).read_text().splitlines() == ["0", "1", "t 0 40"]
    status = cleaner.status(TopicPartition("t", 0))
    assert status is not None and status.first_dirty_offset == 40 and status.dirty_bytes == 0
    # A new cleaner (a restart) reads the checkpoint: nothing left to do.
    again = LogCleaner(tmp_path, lambda: dict(logs), CleanerConfig())
    assert not again.run_once()


def test_an_install_is_refused_when_its_segments_went_away(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    for i in range(30):
        put(plog, (b"k%d" % (i % 3), b"v%d" % i))
    plog.roll()
    old = list(plog.cleaner_view().segments[:2])
    new = LogSegment.create(plog.dir, 0, COMPACT, old[0].handle_cache, suffix=CLEANED_SUFFIX)
    plog.truncate_to(old[1].base_offset)  # a follower truncates: old[1] is gone
    assert not plog.replace_segments(old, new)
    plog.advance_log_start_offset(old[1].base_offset)  # and now old[0] too
    assert not plog.replace_segments(old[:1], new)
    new.delete()
    assert plog.log_end_offset == old[1].base_offset


def test_offset_map_keys_short_and_long() -> None:
    m = OffsetMap(ENTRY_COST * 10)
    keys = [b"", b"x" * 15, b"y" * 16, b"z" * 40]
    for i, key in enumerate(keys):
        m.put(key, i)
    m.put_batch([3, 9, 10], [b"", b"z" * 40, None], first=5)
    assert [m.get(k) for k in keys] == [0, 1, 2, 9]
    assert m.get(b"w" * 40) == -1 and len(m) == 4 and m.latest_offset == 9
    assert not m.full and m.capacity == 10
    with pytest.raises(ValueError):
        OffsetMap(ENTRY_COST - 1)


def test_aborted_transactions_are_dropped_and_never_shadow_a_committed_value(
        tmp_path: Path) -> None:
    from tidelog.records.control import ABORT, COMMIT, Marker, build_marker_batch

    plog = open_log(tmp_path / "t-0")
    put(plog, (b"k", b"committed"), (b"j", b"one"))                        # 0-1
    put(plog, (b"k", b"aborted"), producer_id=5, producer_epoch=0,
        base_sequence=0, is_transactional=True)                            # 2
    plog.append(bytearray(build_marker_batch(5, 0, Marker(ABORT, 0))), leader_epoch=0)  # 3
    put(plog, (b"j", b"two"), producer_id=6, producer_epoch=0,
        base_sequence=0, is_transactional=True)                            # 4
    plog.append(bytearray(build_marker_batch(6, 0, Marker(COMMIT, 0))), leader_epoch=0)  # 5
    plog.roll()
    put(plog, (b"z", b"active"))
    clean(plog, T0)
    values = [(r.key, r.value) for r in records(plog) if r.key in (b"k", b"j")]
    assert (b"k", b"committed") in values and (b"k", b"aborted") not in values
    assert (b"j", b"two") in values and (b"j", b"one") not in values  # a commit counts
    assert sum(1 for h in batch_headers(plog) if h.is_control) == 2  # markers stay
