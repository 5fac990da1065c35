"""ReplicaFetcher: what a fetch tells the leader about this replica's disk.

With the default flush policy a follower starts an fdatasync after each append and fetches on
meanwhile; every fetch reports its recovery point as ``durable_offset``, which is what the
leader's high watermark (and acks=all answers) counts. Records it wrote while it was leader
may still be unsynced when it becomes a follower; no fetch may report them as durable before
they are on disk, or a crash of this replica would lose acknowledged records (found by
tests/sim/replication_sim.py). While a sync runs the fetch does not long-poll; when it brings
nothing, the next fetch waits for the sync, so the leader hears of it at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from pathlib import Path
from typing import Any

from tidelog.broker.config import BrokerConfig
from tidelog.broker.replication.fetcher import ReplicaFetcher
from tidelog.broker.replication.partition import Partition
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.topic_partition import TopicPartition


class FakeLink:
    """Answers every fetch with no records; remembers what each request said."""

    host, port = "127.0.0.1", 9

    def __init__(self, plog: PartitionLog, after_first: Any) -> None:
        self.plog = plog
        self.after_first = after_first
        self.seen: list[dict[str, int]] = []
        self.two = asyncio.Event()

    async def request(self, api_key: int, version: int, req: Struct, timeout: float) -> Struct:
        assert api_key == ApiKey.FETCH
        p = req.topics[0].partitions[0]
        self.seen.append(dict(fetch_offset=p.fetch_offset, durable_offset=p.durable_offset,
                              max_wait_ms=req.max_wait_ms,
                              on_disk=self.plog.recovery_point))
        if len(self.seen) == 1:
            self.after_first()
        if len(self.seen) >= 2:
            self.two.set()
            await asyncio.sleep(3600)  # two fetches are enough
        return Struct(error_code=0, responses=[Struct(topic="t", partitions=[Struct(
            partition_index=0, error_code=0, high_watermark=0, log_start_offset=0,
            diverging_epoch=None, records=None)])])

    def close(self) -> None:
        pass


def test_fetches_report_only_synced_records_and_wait_for_the_sync(tmp_path: Path) -> None:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)})
    assert config.log_flush == "always"
    gate = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(gate.wait, 30)  # hold the disk: the first sync stays queued
        plog = PartitionLog.open(tmp_path / "t-0", LogConfig(), executor=executor)
        part = Partition(TopicPartition("t", 0), uuid.uuid4(), plog, 1, durable=True)
        part.make_leader((1, 2), (1, 2), leader_epoch=0, partition_epoch=0)
        plog.append(bytearray(build_batch([NewRecord(b"v")] * 3)), leader_epoch=0)
        part.make_follower(2, (1, 2), (1, 2), leader_epoch=1, partition_epoch=1)
        assert plog.recovery_point == 0 and plog.log_end_offset == 3  # written, not synced

        fetcher = ReplicaFetcher(config, 2, lambda _: ("127.0.0.1", 9))

        async def body() -> FakeLink:
            loop = asyncio.get_running_loop()
            # the disk finishes a while after the first (empty) answer
            link = FakeLink(plog, lambda: loop.call_later(0.2, gate.set))
            fetcher._link = link  # type: ignore[assignment]
            fetcher.add(part)
            fetcher.parts[part.tp].truncate = False  # as after OffsetForLeaderEpoch
            fetcher.start()
            try:
                await asyncio.wait_for(link.two.wait(), 20)
            finally:
                await fetcher.stop()
            return link

        link = asyncio.run(body())
        gate.set()
        first, second = link.seen[:2]
        # while the sync runs: the log end, nothing claimed durable, no long poll
        assert first == dict(fetch_offset=3, durable_offset=0, max_wait_ms=0, on_disk=0)
        # it came back empty: the next fetch waited for the sync and reports it, long-polling
        assert second == dict(fetch_offset=3, durable_offset=3,
                              max_wait_ms=config.replica_fetch_wait_max_ms, on_disk=3)
        plog.close()
