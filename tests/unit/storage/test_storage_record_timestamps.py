"""PartitionLog.record_for_timestamp: ListOffsets by time at record granularity, as Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest
from tidelog.records.batch_header import Compression
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog


def _batch(*timestamps: int, **kwargs: int) -> bytearray:
    return bytearray(build_batch(
        [NewRecord(b"v%d" % i, timestamp=ts) for i, ts in enumerate(timestamps)], **kwargs))


def _open(tmp_path: Path, **cfg: object) -> PartitionLog:
    return PartitionLog.open(tmp_path / "t-0", LogConfig(**cfg))  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", [Compression.NONE, Compression.GZIP, Compression.ZSTD])
def test_first_record_at_or_after_the_target_inside_a_batch(tmp_path: Path, codec: int) -> None:
    plog = _open(tmp_path, index_interval_bytes=0)
    plog.append(_batch(1234, 999_999_999_999, compression=codec), leader_epoch=0)
    plog.append(_batch(50, 60, 2000, compression=codec), leader_epoch=0)  # offsets 2-4
    assert plog.record_for_timestamp(0) == (0, 1234)
    assert plog.record_for_timestamp(1234) == (0, 1234)
    # The batch-level answer was 0 (the batch's base offset); Kafka answers the record.
    assert plog.offset_for_timestamp(1235) == (0, 999_999_999_999)
    assert plog.record_for_timestamp(1235) == (1, 999_999_999_999)
    assert plog.record_for_timestamp(999_999_999_999) == (1, 999_999_999_999)
    assert plog.record_for_timestamp(1_000_000_000_000) is None


def test_log_start_inside_a_batch_moves_on_to_the_next_batch(tmp_path: Path) -> None:
    plog = _open(tmp_path)
    plog.append(_batch(100, 5000, 200), leader_epoch=0)  # offsets 0-2
    plog.append(_batch(300, 6000), leader_epoch=0)  # offsets 3-4
    plog.advance_log_start_offset(2)
    assert plog.record_for_timestamp(150) == (2, 200)
    # offset 1 (ts 5000) is below the log start: the first visible record >= 5000 is 4.
    assert plog.record_for_timestamp(4000) == (4, 6000)


def test_log_append_time_batches_answer_their_first_record(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(message_timestamp_type="LogAppendTime"),
                             clock_ms=lambda: 7000)
    plog.append(_batch(1, 2, 3), leader_epoch=0)
    assert plog.record_for_timestamp(6000) == (0, 7000)
    assert plog.record_for_timestamp(7001) is None
