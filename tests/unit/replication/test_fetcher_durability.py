"""ReplicaFetcher: a fetch offset tells the leader what this replica holds durably.

With the default flush policy a follower syncs what it appended before its next fetch. Records
it wrote while it was leader may still be unsynced when it becomes a follower; its first
fetch must not report them before they are on disk, or the leader's high watermark (and
acks=all answers) would count records a crash of this replica loses (found by
tests/sim/replication_sim.py).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from tidelog.broker.config import BrokerConfig
from tidelog.broker.replication.fetcher import ReplicaFetcher
from tidelog.broker.replication.partition import Partition
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.topic_partition import TopicPartition


def test_first_fetch_after_leading_reports_only_synced_records(tmp_path: Path) -> None:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)})
    assert config.log_flush == "always"
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    part = Partition(TopicPartition("t", 0), uuid.uuid4(), plog, 1, durable=True)
    part.make_leader((1, 2), (1, 2), leader_epoch=0, partition_epoch=0)
    plog.append(bytearray(build_batch([NewRecord(b"v")] * 3)), leader_epoch=0)
    part.make_follower(2, (1, 2), (1, 2), leader_epoch=1, partition_epoch=1)
    assert plog.recovery_point == 0 and plog.log_end_offset == 3  # written, not yet synced

    fetcher = ReplicaFetcher(config, 2, lambda _: ("127.0.0.1", 9))
    seen: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def fetch(_link: Any, todo: list[Any]) -> list[Partition]:
        for f in todo:
            seen.append((f.part.log.log_end_offset, f.part.log.recovery_point))
        done.set()
        await asyncio.sleep(3600)  # one fetch is enough
        return []

    fetcher._fetch = fetch  # type: ignore[method-assign]

    async def body() -> None:
        fetcher.add(part)
        fetcher.parts[part.tp].truncate = False  # as after OffsetForLeaderEpoch
        fetcher.start()
        try:
            await asyncio.wait_for(done.wait(), 10)
        finally:
            await fetcher.stop()

    asyncio.run(body())
    assert seen == [(3, 3)]  # the fetch offset (the log end) is on disk when it goes out
    plog.close()
