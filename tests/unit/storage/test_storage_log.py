"""PartitionLog behaviour: append, read regions, rolls, retention, time lookups, truncation."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import threading
from pathlib import Path

import pytest
from storage_batches import concat, make_batch
from tidelog.records.batch_header import HEADER_SIZE, TimestampType, iter_batches, parse_header
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.checkpoint import EpochEntry, read_leader_epoch_checkpoint
from tidelog.storage.config import LogConfig
from tidelog.storage.errors import (
    InvalidBatchError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
)
from tidelog.storage.index import read_offset_index, read_time_index
from tidelog.storage.log import PartitionLog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"
BATCH = len(make_batch())  # 81 bytes with the default payload


class Clock:
    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def open_log(tmp_path: Path, clock: Clock | None = None, **cfg: object) -> PartitionLog:
    return PartitionLog.open(tmp_path / "t-0", LogConfig(**cfg), clock_ms=clock)  # type: ignore[arg-type]


def fill(plog: PartitionLog, n: int, *, count: int = 1, ts0: int = 1000) -> list[bytes]:
    out = []
    for i in range(n):
        buf = make_batch(count, timestamp=ts0 + i, tag=i)
        plog.append(buf, leader_epoch=0)
        out.append(bytes(buf))
    return out


def read_all(plog: PartitionLog, offset: int, max_bytes: int = 1 << 20, **kw: object) -> bytes:
    with plog.read(offset, max_bytes, **kw) as region:  # type: ignore[arg-type]
        return region.read_bytes()


def test_append_assigns_offsets_and_stamps_epoch(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    buf = concat(make_batch(3, base_offset=77), make_batch(2, base_offset=5))
    info = plog.append(buf, leader_epoch=4)
    assert (info.first_offset, info.last_offset, info.batch_count) == (0, 4, 2)
    assert info.bytes == len(buf) and info.log_append_time_ms == -1
    headers = [h for _, h in iter_batches(buf)]  # CRCs still valid after the rewrite
    assert [(h.base_offset, h.partition_leader_epoch) for h in headers] == [(0, 4), (3, 4)]
    assert plog.log_end_offset == 5
    assert read_all(plog, 0) == bytes(buf)
    assert plog.leader_epoch_entries == [EpochEntry(4, 0)]
    assert read_leader_epoch_checkpoint(plog.dir / "leader-epoch-checkpoint") == [
        EpochEntry(4, 0)
    ]
    plog.append(make_batch(), leader_epoch=6)
    assert plog.leader_epoch_entries == [EpochEntry(4, 0), EpochEntry(6, 5)]
    assert plog.end_offset_for_epoch(4) == (4, 5)
    assert plog.end_offset_for_epoch(5) == (4, 5)
    assert plog.end_offset_for_epoch(6) == (6, 6)
    assert plog.end_offset_for_epoch(3) == (3, 0)
    assert plog.end_offset_for_epoch(7) == (-1, -1)


def test_log_append_time(tmp_path: Path) -> None:
    clock = Clock(5_000)
    plog = open_log(tmp_path, clock, message_timestamp_type="LogAppendTime")
    buf = concat(make_batch(timestamp=10), make_batch(timestamp=20))
    info = plog.append(buf, leader_epoch=0)
    assert info.log_append_time_ms == 5_000 and info.max_timestamp == 5_000
    for _, h in iter_batches(buf):  # validated again: the CRC was recomputed
        assert h.timestamp_type == TimestampType.LOG_APPEND_TIME
        assert h.max_timestamp == 5_000
    assert read_all(plog, 0) == bytes(buf)
    assert plog.offset_for_timestamp(4_000) == (0, 5_000)


def test_invalid_batch_leaves_files_and_buffer_unchanged(tmp_path: Path) -> None:
    plog = open_log(tmp_path, max_message_bytes=200)
    fill(plog, 2)
    log_file = plog.dir / "00000000000000000000.log"
    before = log_file.read_bytes()
    good = make_batch(base_offset=99)
    bad = make_batch(tag=7)
    bad[-1] ^= 0xFF  # breaks the CRC
    buf = concat(good, bad)
    snapshot = bytes(buf)
    with pytest.raises(CorruptRecordError):
        plog.append(buf, leader_epoch=1)
    truncated = concat(good, make_batch()[:-3])
    with pytest.raises(CorruptRecordError):
        plog.append(truncated, leader_epoch=1)
    with pytest.raises(RecordTooLargeError):
        plog.append(concat(good, make_batch(payload=300)), leader_epoch=1)
    with pytest.raises(InvalidBatchError):
        plog.append(bytearray(), leader_epoch=1)
    empty = make_batch(1)
    empty[57:61] = b"\0\0\0\0"  # recordsCount 0
    from tidelog.records.batch_header import restamp_crc

    restamp_crc(empty)
    with pytest.raises(InvalidBatchError):
        plog.append(empty, leader_epoch=1)
    with pytest.raises(InvalidBatchError):
        plog.append(bytes(good), leader_epoch=1)  # type: ignore[arg-type]
    assert bytes(buf) == snapshot
    assert log_file.read_bytes() == before
    assert plog.log_end_offset == 2 and plog.leader_epoch_entries == [EpochEntry(0, 0)]


def test_follower_append_keeps_offsets(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    buf = concat(make_batch(2, base_offset=0, epoch=3), make_batch(1, base_offset=5, epoch=4))
    info = plog.append(buf, leader_epoch=-1, assign_offsets=False)
    assert (info.first_offset, info.last_offset) == (0, 5)
    assert plog.log_end_offset == 6
    assert plog.leader_epoch_entries == [EpochEntry(3, 0), EpochEntry(4, 5)]
    assert parse_header(buf, 0).partition_leader_epoch == 3  # not restamped
    with pytest.raises(InvalidBatchError):  # overlaps what the log has
        plog.append(make_batch(base_offset=5), leader_epoch=-1, assign_offsets=False)
    with pytest.raises(InvalidBatchError):
        plog.append(
            concat(make_batch(2, base_offset=6), make_batch(base_offset=7)),
            leader_epoch=-1,
            assign_offsets=False,
        )
    assert plog.log_end_offset == 6
    with plog.read(3, 1000) as region:  # offset 3 is in the gap: the next batch is returned
        assert region.first_offset == 5
    # a gap before the first batch (a compacted leader's log) is copied as it is
    plog.append(make_batch(base_offset=9, epoch=4), leader_epoch=-1, assign_offsets=False)
    assert plog.log_end_offset == 10
    with plog.read(6, 1000) as region:
        assert region.first_offset == 9


def test_read_region_boundaries(tmp_path: Path) -> None:
    plog = open_log(tmp_path, index_interval_bytes=100)
    batches = fill(plog, 10, count=2)  # offsets 0..19, 81 bytes each
    with plog.read(5, 3 * BATCH) as r:  # 5 is inside the batch 4-5
        assert (r.first_offset, r.position, r.length) == (4, 2 * BATCH, 3 * BATCH)
        assert r.next_offset == 10
        assert r.read_bytes() == b"".join(batches[2:5])
        assert r.fileno() >= 0
    with plog.read(0, 3 * BATCH - 1) as r:
        assert r.length == 2 * BATCH
    with plog.read(0, 10) as r:  # min_one_batch: one whole batch even over max_bytes
        assert r.read_bytes() == batches[0]
    with plog.read(0, 10, min_one_batch=False) as r:
        assert r.length == 0
    with plog.read(0, 10_000, max_offset=7) as r:  # batch 6-7 straddles 7: left out
        assert r.read_bytes() == b"".join(batches[:3])
    with plog.read(0, 10_000, max_offset=8) as r:
        assert r.read_bytes() == b"".join(batches[:4])
    with plog.read(8, 10_000, max_offset=8) as r:
        assert r.length == 0
    assert read_all(plog, 0) == b"".join(batches)
    with plog.read(20, 100) as r:  # the log end offset
        assert r.length == 0 and r.first_offset == 20 and r.read_bytes() == b""
    for bad in (-1, 21, 1000):
        with pytest.raises(OffsetOutOfRangeError):
            plog.read(bad, 100)


def test_region_survives_truncation_and_delete(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=3 * BATCH)
    batches = fill(plog, 7)
    region = plog.read(0, 10_000)
    assert region.read_bytes() == b"".join(batches[:3])
    plog.advance_log_start_offset(6)
    assert plog.segment_count == 1 and plog.log_start_offset == 6
    assert not (plog.dir / "00000000000000000000.log").exists()
    assert region.read_bytes() == b"".join(batches[:3])  # its own descriptor
    region.close()
    assert region.fileno() == -1
    with pytest.raises(OffsetOutOfRangeError):
        plog.read(5, 100)


def test_roll_on_segment_bytes_and_reads_across_segments(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=3 * BATCH + 10)
    batches = fill(plog, 10)
    assert plog.segment_base_offsets == [0, 3, 6, 9]
    assert plog.size_in_bytes == 10 * BATCH
    data = b""
    offset = 0
    while offset < plog.log_end_offset:
        with plog.read(offset, 10_000) as r:
            data += r.read_bytes()
            offset = r.next_offset
    assert data == b"".join(batches)
    # One append spanning several segments: one write per segment.
    buf = concat(*(make_batch(tag=50 + i) for i in range(5)))
    plog.append(buf, leader_epoch=0)
    assert plog.segment_base_offsets == [0, 3, 6, 9, 12]
    assert plog.log_end_offset == 15
    # Inactive segments' indexes are trimmed to their entries, the active one is preallocated.
    assert (plog.dir / "00000000000000000003.index").stat().st_size % 8 == 0
    assert (plog.dir / "00000000000000000003.timeindex").stat().st_size == 12
    assert (plog.dir / "00000000000000000012.index").stat().st_size == 10485760
    assert (plog.dir / "00000000000000000012.timeindex").stat().st_size == 10485756


def test_roll_on_segment_ms_and_explicit_roll(tmp_path: Path) -> None:
    clock = Clock()
    plog = open_log(tmp_path, clock, segment_ms=1000)
    fill(plog, 2)
    clock.now += 1000
    fill(plog, 1)
    assert plog.segment_count == 1
    clock.now += 1
    fill(plog, 1)
    assert plog.segment_base_offsets == [0, 3]
    plog.roll()
    plog.roll()  # an empty active segment is not rolled again
    assert plog.segment_base_offsets == [0, 3, 4]
    assert plog.log_end_offset == 4


def test_roll_on_full_index(tmp_path: Path) -> None:
    # 3 offset index entries (24 bytes) and 2 time index entries (one kept for the roll).
    plog = open_log(tmp_path, segment_index_bytes=24, index_interval_bytes=0)
    batches = fill(plog, 12)
    bases = plog.segment_base_offsets
    assert len(bases) > 1
    plog.close()
    for base, nxt in zip(bases, [*bases[1:], 12], strict=True):
        entries = list(read_offset_index(tmp_path / "t-0" / f"{base:020d}.index", base))
        assert len(entries) <= 3
        times = list(read_time_index(tmp_path / "t-0" / f"{base:020d}.timeindex", base))
        assert times and times[-1] == (1000 + nxt - 1, nxt - 1)  # final entry = segment max
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(), clean_shutdown=True)
    for i in range(12):
        assert read_all(plog, i, 1) == batches[i]


def test_index_entries_every_interval(tmp_path: Path) -> None:
    plog = open_log(tmp_path, index_interval_bytes=2 * BATCH)
    batches = fill(plog, 20, count=2)
    plog.close()
    entries = list(read_offset_index(tmp_path / "t-0" / "00000000000000000000.index", 0))
    # Kafka's rule: an entry once more than interval bytes were written since the last one.
    assert entries == [(7, 3 * BATCH), (13, 6 * BATCH), (19, 9 * BATCH), (25, 12 * BATCH),
                       (31, 15 * BATCH), (37, 18 * BATCH)]
    times = list(read_time_index(tmp_path / "t-0" / "00000000000000000000.timeindex", 0))
    assert times[0] == (1003, 7) and times[-1] == (1019, 39)
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(), clean_shutdown=True)
    for off in range(40):
        with plog.read(off, 1) as r:
            assert r.read_bytes() == batches[off // 2]


def test_offset_for_timestamp(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=4 * BATCH, index_interval_bytes=0)
    for i, ts in enumerate([100, 300, 200, 400, 400, 500, 450, 700, 800, 600]):
        plog.append(make_batch(2, timestamp=ts, tag=i), leader_epoch=0)
    assert plog.offset_for_timestamp(0) == (0, 100)
    assert plog.offset_for_timestamp(100) == (0, 100)
    assert plog.offset_for_timestamp(150) == (2, 300)
    assert plog.offset_for_timestamp(300) == (2, 300)
    assert plog.offset_for_timestamp(301) == (6, 400)
    assert plog.offset_for_timestamp(460) == (10, 500)
    assert plog.offset_for_timestamp(650) == (14, 700)
    assert plog.offset_for_timestamp(800) == (16, 800)
    assert plog.offset_for_timestamp(801) is None
    plog.advance_log_start_offset(3)
    assert plog.offset_for_timestamp(0) == (3, 300)


def test_retention_by_time_never_deletes_active(tmp_path: Path) -> None:
    clock = Clock(8_500)
    plog = open_log(tmp_path, clock, segment_bytes=2 * BATCH, retention_ms=1000)
    for i in range(5):
        plog.append(make_batch(timestamp=5_000 + 1000 * i, tag=i), leader_epoch=0)
    assert plog.segment_base_offsets == [0, 2, 4]  # segment max timestamps 6000, 8000
    assert plog.delete_old_segments() == 1  # 8500 - 6000 > 1000, 8500 - 8000 is not
    assert plog.segment_base_offsets == [2, 4]
    assert plog.log_start_offset == 2
    clock.now = 100_000
    plog.delete_old_segments()
    assert plog.segment_base_offsets == [4]  # the active segment stays, however old
    assert plog.log_start_offset == 4 and plog.log_end_offset == 5
    with pytest.raises(OffsetOutOfRangeError):
        plog.read(3, 100)


def test_retention_by_size(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=2 * BATCH, retention_bytes=3 * BATCH, retention_ms=-1)
    batches = fill(plog, 7)
    assert plog.segment_base_offsets == [0, 2, 4, 6]
    assert plog.delete_old_segments() == 2  # 7 batches -> at most 3 + what can't go
    assert plog.segment_base_offsets == [4, 6]
    assert plog.size_in_bytes == 3 * BATCH
    assert read_all(plog, 4) == b"".join(batches[4:6])
    assert plog.delete_old_segments() == 0


def test_retention_respects_high_watermark(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=2 * BATCH, retention_bytes=0)
    fill(plog, 6)
    plog.high_watermark = 3
    assert plog.delete_old_segments() == 1
    assert plog.segment_base_offsets == [2, 4]
    plog.high_watermark = 6
    assert plog.delete_old_segments() == 1
    assert plog.segment_base_offsets == [4]


def test_truncate_at_the_end_drops_an_epoch_started_there(tmp_path: Path) -> None:
    """A replica that led an epoch without appending to it, then follows a leader that does
    not have that epoch: truncating to its log end must drop it, or every fetch would carry
    it as last_fetched_epoch and get the same diverging-epoch answer forever (found by
    tests/sim/replication_sim.py)."""
    plog = open_log(tmp_path)
    plog.append(make_batch(3), leader_epoch=6)
    plog.start_leader_epoch(10)  # leads epoch 10 from offset 3, appends nothing
    assert plog.latest_epoch == 10
    # the new leader (epoch 11) answers: your epoch 10 is my epoch 6, ending at 3
    plog.truncate_to(3)
    assert plog.log_end_offset == 3
    assert plog.leader_epoch_entries == [EpochEntry(6, 0)]
    assert plog.latest_epoch == 6
    plog.close()
    assert read_leader_epoch_checkpoint(plog.dir / "leader-epoch-checkpoint") == [
        EpochEntry(6, 0)
    ]


def test_truncation_is_durable_before_the_epoch_cache_moves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cut that a crash could undo would bring back records whose epoch the (written
    through) epoch cache no longer has, or gives to the new leader's records appended after
    the cut: a restarted follower then keeps them as the leader's (found by
    tests/sim/replication_sim.py). So truncate_to syncs the cut, and what was unsynced below
    it, at once."""
    plog = open_log(tmp_path)
    plog.append(make_batch(2), leader_epoch=1)
    plog.append(make_batch(2), leader_epoch=1)  # nothing flushed yet
    assert plog.recovery_point == 0
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    plog.truncate_to(2)
    assert plog.log_end_offset == 2
    assert synced, "the truncation was not synced"
    assert plog.recovery_point == 2  # everything the log holds is on disk
    plog.append(make_batch(2), leader_epoch=3)  # the new leader's records after the cut
    assert plog.leader_epoch_entries == [EpochEntry(1, 0), EpochEntry(3, 2)]
    assert plog.recovery_point == 2  # appends stay unsynced until a flush, as before
    plog.close()


def test_truncate_to(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=3 * BATCH, index_interval_bytes=0)
    batches = []
    for i in range(8):
        buf = make_batch(2, tag=i, timestamp=1000 + i)
        plog.append(buf, leader_epoch=i // 3)
        batches.append(bytes(buf))
    assert plog.leader_epoch_entries == [EpochEntry(0, 0), EpochEntry(1, 6), EpochEntry(2, 12)]
    plog.truncate_to(9)  # inside batch 8-9: the whole batch goes
    assert plog.log_end_offset == 8
    assert plog.segment_base_offsets == [0, 6]
    assert plog.leader_epoch_entries == [EpochEntry(0, 0), EpochEntry(1, 6)]
    assert read_all(plog, 6) == batches[3]
    plog.append(make_batch(tag=99, timestamp=5000), leader_epoch=5)
    assert plog.log_end_offset == 9
    assert plog.offset_for_timestamp(1005) == (8, 5000)
    plog.truncate_to(6)
    assert plog.segment_base_offsets == [0, 6] and plog.log_end_offset == 6
    plog.truncate_to(100)  # beyond the end: nothing
    assert plog.log_end_offset == 6
    plog.truncate_fully_and_start_at(50)
    assert (plog.log_start_offset, plog.log_end_offset, plog.segment_base_offsets) == (
        50, 50, [50]
    )
    assert plog.leader_epoch_entries == []
    plog.append(make_batch(), leader_epoch=9)
    assert plog.log_end_offset == 51
    plog.close()
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(), recovery_point=0)
    assert plog.log_end_offset == 51 and plog.log_start_offset == 50


def test_flush_and_group_commit(tmp_path: Path) -> None:
    clock = Clock()
    plog = open_log(tmp_path, clock, flush_messages=3, flush_ms=500)
    fill(plog, 2)
    assert plog.recovery_point == 0 and not plog.needs_flush()
    fill(plog, 1)
    assert plog.needs_flush()
    assert plog.flush(up_to_offset=2) == 2
    clock.now += 500
    assert plog.needs_flush()
    futures = [plog.flush_async() for _ in range(5)]
    results = [f.result(timeout=10) for f in futures]
    assert results[-1] == 3 and plog.recovery_point == 3
    assert len({id(f) for f in futures}) <= 2  # the later callers share one flush
    assert not plog.needs_flush()


def test_a_cancelled_flush_does_not_stall_later_ones(tmp_path: Path) -> None:
    gate = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(gate.wait, 10)  # hold the worker so the first flush stays queued
        plog = PartitionLog.open(tmp_path / "t-0", LogConfig(), executor=executor)
        fill(plog, 2)
        first = plog.flush_async()
        assert first.cancel()  # a waiter gives up (e.g. a produce request timed out)
        gate.set()
        fill(plog, 1)
        assert plog.flush_async().result(timeout=10) == 3
        assert plog.recovery_point == 3
        plog.close()


def test_a_flush_overlapping_a_truncation_does_not_claim_what_came_after(
        tmp_path: Path) -> None:
    """A follower truncates and appends while its last flush runs (it fetches on meanwhile):
    that flush synced none of the new records, so the recovery point (what the follower
    reports as durable) must stay at the cut."""
    from tidelog.storage import log as log_module

    plog = open_log(tmp_path)
    fill(plog, 6)
    plog.flush()
    fill(plog, 4)  # offsets 6..9, unsynced
    seen = []

    def meanwhile(_took: float) -> None:  # after the fsyncs, before the recovery point moves
        if not seen:
            seen.append(1)
            plog.truncate_to(8)  # a diverging answer: cut to 8 (synced by the truncation)
            fill(plog, 3)  # 8..10 from the new leader, not synced by anything yet
    log_module.flush_observers.append(meanwhile)
    try:
        assert plog.flush() == 8
    finally:
        log_module.flush_observers.remove(meanwhile)
    assert plog.recovery_point == 8 and plog.log_end_offset == 11
    assert plog.flush() == 11  # the next flush covers them


def test_open_kafka_fixture_partition(tmp_path: Path) -> None:
    src = FIXTURES / "TestTopicPatient-0"
    dst = tmp_path / "TestTopicPatient-0"
    shutil.copytree(src, dst)
    for p in dst.iterdir():
        os.chmod(p, 0o644)
    os.chmod(dst, 0o755)
    original = (src / "00000000000000000000.log").read_bytes()
    for clean in (True, False):
        plog = PartitionLog.open(dst, LogConfig(), clean_shutdown=clean)
        assert plog.log_end_offset == 3
        assert plog.leader_epoch_entries == [EpochEntry(0, 0)]
        assert plog.topic_partition == ("TestTopicPatient", 0)
        assert read_all(plog, 0) == original
        with plog.read(1, 1) as r:
            assert (r.first_offset, r.position) == (1, 1901)
        assert (dst / "00000000000000000000.index").exists()
        assert (dst / "00000000000000000000.timeindex").exists()
        assert plog.recovery_report.bytes_truncated == 0
        plog.close()
    assert (dst / "00000000000000000000.log").read_bytes() == original
    times = list(read_time_index(dst / "00000000000000000000.timeindex", 0))
    assert times == [(1769793578165, 2)]


def test_open_kafka_metadata_log(tmp_path: Path) -> None:
    dst = tmp_path / "__cluster_metadata-0"
    shutil.copytree(FIXTURES / "__cluster_metadata-0", dst)
    os.chmod(dst, 0o755)
    for p in dst.iterdir():
        os.chmod(p, 0o644)
    plog = PartitionLog.open(dst, LogConfig())
    data = (dst / "00000000000000000000.log").read_bytes()
    last = list(iter_batches(data))[-1][1]
    assert plog.log_end_offset == last.next_offset
    assert plog.recovery_report.segments_recovered == 1
    assert read_all(plog, 0, len(data)) == data
    assert plog.leader_epoch_entries == [EpochEntry(1, 0)]
    # Index lookups land on the right batch everywhere.
    for pos, h in list(iter_batches(data))[::97]:
        with plog.read(h.last_offset, 1) as r:
            assert r.position == pos and r.length == h.size
    assert HEADER_SIZE == 61
