"""Crash recovery: cut the log at every byte of its last batch, flip every byte of it, and check
that an unclean reopen keeps exactly the valid prefix, rebuilds the index and reports the cut."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from storage_batches import make_batch
from tidelog.records.batch_header import iter_batches
from tidelog.storage.config import LogConfig
from tidelog.storage.index import read_offset_index
from tidelog.storage.log import PartitionLog

CONFIG = LogConfig(segment_bytes=3 * 81 + 1, index_interval_bytes=0, segment_index_bytes=4096)
ACTIVE = "00000000000000000006"  # base offset of the active segment (batches of 2 records)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("crash") / "t-0"
    plog = PartitionLog.open(d, CONFIG)
    for i in range(6):
        plog.append(make_batch(2, timestamp=1000 + i, tag=i), leader_epoch=1)
    assert plog.segment_base_offsets == [0, 6]
    plog.close()
    # Stale, full-length index files as a crash would leave them: recovery must not trust them.
    return d


def _reopen(original: Path, work: Path, log_bytes: bytes) -> PartitionLog:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(original, work)
    (work / f"{ACTIVE}.log").write_bytes(log_bytes)
    return PartitionLog.open(work, CONFIG, recovery_point=6)


def _check(plog: PartitionLog, data: bytes, valid: int, leo: int) -> None:
    seg = plog.dir / f"{ACTIVE}.log"
    assert seg.read_bytes() == data[:valid]
    assert plog.log_end_offset == leo
    assert plog.recovery_report.bytes_truncated == len(data) - valid
    assert plog.recovery_report.segments_recovered == 1  # only from the recovery point on
    headers = list(iter_batches(data[:valid]))
    with plog.read(6, 1 << 20) as region:
        assert region.read_bytes() == data[:valid]
    for pos, h in headers:  # every offset is found through the rebuilt index
        with plog.read(h.last_offset, 1) as region:
            assert region.position == pos and region.length == h.size
    by_pos = {pos: h for pos, h in headers}
    for offset, pos in read_offset_index(plog.dir / f"{ACTIVE}.index", 6):
        assert pos in by_pos and by_pos[pos].last_offset == offset
    plog.release_handles()


def test_cut_at_every_byte_of_the_last_batch(original: Path, tmp_path: Path) -> None:
    data = (original / f"{ACTIVE}.log").read_bytes()
    last_pos, last = list(iter_batches(data))[-1]
    assert last_pos + last.size == len(data)
    for cut in range(last.size):
        valid = last_pos
        plog = _reopen(original, tmp_path / "t-0", data[: last_pos + cut])
        _check(plog, data[: last_pos + cut], valid, last.base_offset)


def test_flip_every_byte_of_the_last_batch(original: Path, tmp_path: Path) -> None:
    data = (original / f"{ACTIVE}.log").read_bytes()
    last_pos, last = list(iter_batches(data))[-1]
    for i in range(last.size):
        flipped = bytearray(data)
        flipped[last_pos + i] ^= 0xFF
        plog = _reopen(original, tmp_path / "t-0", bytes(flipped))
        if 12 <= i < 16:
            # partitionLeaderEpoch is outside the CRC: the batch is still valid.
            _check(plog, bytes(flipped), len(data), last.next_offset)
        elif i < 8:
            # baseOffset is outside the CRC too: kept only if offsets still increase.
            new_base = int.from_bytes(flipped[last_pos : last_pos + 8], "big", signed=True)
            if new_base >= last.base_offset and new_base + 1 - 6 < 2**31:
                _check(plog, bytes(flipped), len(data), new_base + 2)
            else:
                _check(plog, bytes(flipped), last_pos, last.base_offset)
        else:
            _check(plog, bytes(flipped), last_pos, last.base_offset)


def test_torn_tail_after_unflushed_appends(tmp_path: Path) -> None:
    d = tmp_path / "t-0"
    plog = PartitionLog.open(d, CONFIG)
    for i in range(4):
        plog.append(make_batch(2, tag=i), leader_epoch=0)
    plog.flush()
    assert plog.recovery_point == 8
    plog.append(make_batch(2, tag=9), leader_epoch=0)
    # The process dies: half of the last write reached the disk, plus garbage.
    seg = d / f"{ACTIVE}.log"
    data = seg.read_bytes()
    seg.write_bytes(data[:-40] + b"\x01" * 7)
    plog.release_handles()
    again = PartitionLog.open(d, CONFIG, recovery_point=plog.recovery_point)
    assert again.log_end_offset == 8
    assert again.recovery_report.bytes_truncated == 81 - 40 + 7
    again.append(make_batch(2, tag=10), leader_epoch=0)
    assert again.log_end_offset == 10


def test_corrupt_middle_segment_drops_later_segments(tmp_path: Path) -> None:
    d = tmp_path / "t-0"
    plog = PartitionLog.open(d, LogConfig(segment_bytes=2 * 81))
    for i in range(6):
        plog.append(make_batch(tag=i), leader_epoch=0)
    assert plog.segment_base_offsets == [0, 2, 4]
    plog.close()
    seg = d / "00000000000000000002.log"
    data = bytearray(seg.read_bytes())
    data[81 + 30] ^= 1  # the second batch of segment 2
    seg.write_bytes(bytes(data))
    again = PartitionLog.open(d, LogConfig(segment_bytes=2 * 81), recovery_point=0)
    assert again.log_end_offset == 3
    assert again.segment_base_offsets == [0, 2]
    assert again.recovery_report.segments_deleted == 1
    assert again.recovery_report.bytes_truncated == 81 + 2 * 81
    assert not (d / "00000000000000000004.log").exists()


def test_active_index_lost_in_a_crash_is_rebuilt(tmp_path: Path) -> None:
    # flush() syncs the active segment's log but not its indexes: a crash may leave them
    # stale. Recovery starts at the segment holding the recovery point, so they are rebuilt.
    d = tmp_path / "t-0"
    config = LogConfig(index_interval_bytes=0)
    plog = PartitionLog.open(d, config)
    positions = []
    for i in range(5):
        positions.append(plog.size_in_bytes)
        plog.append(make_batch(2, tag=i), leader_epoch=0)
    plog.flush()
    assert plog.recovery_point == plog.log_end_offset == 10
    index = d / "00000000000000000000.index"
    plog.release_handles()
    # What the disk kept of the unsynced mapping: entries pointing at the wrong batches.
    index.write_bytes(bytes.fromhex("00000003 00000000 00000005 00000051") + bytes(4096 - 16))
    again = PartitionLog.open(d, config, recovery_point=10)
    assert again.log_end_offset == 10
    assert again.recovery_report.bytes_truncated == 0
    for i, pos in enumerate(positions):
        with again.read(2 * i + 1, 1) as region:
            assert region.position == pos
    # Kafka's rule: an entry once more than index.interval.bytes were written since the last.
    assert list(read_offset_index(index, 0)) == [(2 * i + 1, positions[i]) for i in range(1, 5)]
