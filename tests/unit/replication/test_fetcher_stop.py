"""ReplicaFetcher.stop ends the loop even when a cancellation is lost.

Python 3.11's ``asyncio.wait_for`` returns its inner result, dropping the cancellation, when
both arrive in the same loop iteration; a fetcher whose request just completed then went on
fetching for ever and a SIGTERM'd broker never stopped (seen in the fault tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

from tidelog.broker.config import BrokerConfig
from tidelog.broker.replication.fetcher import STOP_S, ReplicaFetcher
from tidelog.broker.replication.partition import Partition
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.topic_partition import TopicPartition


def test_stop_ends_a_loop_whose_fetch_swallows_the_cancellation(tmp_path: Path) -> None:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)})
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    part = Partition(TopicPartition("t", 0), uuid.uuid4(), plog, 1, durable=True)
    part.make_follower(2, (1, 2), (1, 2), leader_epoch=1, partition_epoch=1)
    fetcher = ReplicaFetcher(config, 2, lambda _: ("127.0.0.1", 9))
    fetches = 0

    async def fetch(_link: Any, _todo: list[Any], wait: bool) -> list[Partition]:
        nonlocal fetches
        fetches += 1
        # a long poll, whose cancellation is dropped as wait_for drops it when the answer
        # and the cancellation meet
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.01)
        return []

    fetcher._fetch = fetch  # type: ignore[method-assign]

    async def body() -> float:
        fetcher.add(part)
        fetcher.parts[part.tp].truncate = False
        fetcher.start()
        deadline = time.monotonic() + 10
        while fetches < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await fetcher.stop()
        return time.monotonic() - started

    took = asyncio.run(asyncio.wait_for(body(), 60))
    assert fetches >= 3, "the loop was fetching"
    assert took < STOP_S, "stop ended the loop by its flag, not by the time bound"
    assert fetcher._task is not None and fetcher._task.done()
