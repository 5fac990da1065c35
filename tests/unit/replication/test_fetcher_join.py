"""ReplicaFetcher: a partition that joins while a fetch long-polls is fetched at once.

A broker that just became a follower of a new leader (a failover) must fetch from it soon:
that leader's acks=all answers wait for this replica. If the fetcher to that leader is
already long-polling for other partitions (up to ``replica_fetch_wait_max_ms``), the poll is
dropped and the next fetch asks for all of them (found by the failover benchmark: the first
acknowledgement after a kill came up to 500 ms late).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from tidelog.broker.config import BrokerConfig
from tidelog.broker.replication import fetcher as fetcher_module
from tidelog.broker.replication.fetcher import ReplicaFetcher
from tidelog.broker.replication.partition import Partition
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.topic_partition import TopicPartition


class PollingLink:
    """A leader with no new data: every fetch long-polls (until dropped)."""

    host, port = "127.0.0.1", 9

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self.closed = 0
        self.first = asyncio.Event()
        self.second = asyncio.Event()

    async def request(self, api_key: int, version: int, req: Struct, timeout: float) -> Struct:
        assert api_key == ApiKey.FETCH
        self.asked.append(sorted(p.partition for t in req.topics for p in t.partitions))
        (self.first if len(self.asked) == 1 else self.second).set()
        await asyncio.sleep(3600)  # the long poll
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.closed += 1


def test_a_joining_partition_ends_the_long_poll(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path),
                                                  "log_flush": "never"})
    parts = []
    for p in (0, 1):
        plog = PartitionLog.open(tmp_path / f"t-{p}", LogConfig())
        part = Partition(TopicPartition("t", p), uuid.uuid4(), plog, 1, durable=False)
        part.make_follower(2, (1, 2), (1, 2), leader_epoch=1, partition_epoch=1)
        parts.append(part)
    fetcher = ReplicaFetcher(config, 2, lambda _: ("127.0.0.1", 9))
    link = PollingLink()
    # the fetcher's connections to the leader (a dropped request closes one: a new one opens)
    monkeypatch.setattr(fetcher_module, "BrokerLink", lambda *_a, **_k: link)

    async def body() -> None:
        fetcher.add(parts[0])
        fetcher.parts[parts[0].tp].truncate = False  # as after OffsetForLeaderEpoch
        fetcher.start()
        try:
            await asyncio.wait_for(link.first.wait(), 20)  # the first fetch long-polls
            assert link.asked == [[0]]
            fetcher.add(parts[1])  # a failover makes this broker a follower of 2 for t-1
            fetcher.parts[parts[1].tp].truncate = False
            # well within the 500 ms the poll would otherwise last; bounded for a loaded box
            await asyncio.wait_for(link.second.wait(), 20)
        finally:
            await fetcher.stop()

    asyncio.run(body())
    assert link.asked[:2] == [[0], [0, 1]]
    assert link.closed >= 1  # the dropped request's answer can never be taken for the next's
    for part in parts:
        part.log.close()
