"""Partition (broker/replication/partition.py): what a new leader exposes as high watermark."""

from __future__ import annotations

import uuid
from pathlib import Path

from tidelog.broker.replication.partition import Partition
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.topic_partition import TopicPartition


def test_new_leader_exposes_nothing_no_follower_has(tmp_path: Path) -> None:
    """A leader of a new log (high watermark never set, so storage reads it as the log end)
    must not let consumers or followers see its appends before the ISR has them (found by
    tests/sim/replication_sim.py: a consumer read records a crash of the leader then lost)."""
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    part = Partition(TopicPartition("t", 0), uuid.uuid4(), plog, 1, durable=False)
    part.make_leader((1, 2), (1, 2), leader_epoch=0, partition_epoch=0)
    plog.append(bytearray(build_batch([NewRecord(b"v")] * 3)), leader_epoch=0)
    part.maybe_advance_high_watermark()  # follower 2 has not fetched: nothing moves
    assert plog.log_end_offset == 3
    assert plog.high_watermark == 0  # what fetch answers (consumers, followers) are bounded by
    assert part.leader_state is not None
    assert part.leader_state.record_fetch(2, 3, 3, now_ms=0)
    assert part.maybe_advance_high_watermark()
    assert plog.high_watermark == 3
    plog.close()
