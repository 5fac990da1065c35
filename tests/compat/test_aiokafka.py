"""aiokafka, unmodified with its defaults (acks=1, no idempotence): produce and consume
100,000 records with keys and headers, restart logd in the middle."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from compat_common import RECORDS, TIMEOUT
from logd_harness import Logd


async def produce(producer: AIOKafkaProducer, start: int, stop: int) -> None:
    futures = [
        await producer.send("aio", key=b"k", value=b"aio-%06d" % i, partition=0,
                            headers=[("i", b"%d" % i)])
        for i in range(start, stop)
    ]
    results = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
    assert [r.offset for r in results] == list(range(start, stop))


async def consume(bootstrap: str) -> list[object]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition("aio", 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got: list[object] = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < RECORDS and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=50_000)
            for records in batches.values():
                got.extend(records)
        return got
    finally:
        await consumer.stop()


def test_aiokafka_round_trip_across_a_restart(logd: Logd) -> None:
    async def scenario() -> list[object]:
        producer = AIOKafkaProducer(bootstrap_servers=logd.bootstrap, linger_ms=5,
                                    max_batch_size=256 * 1024)
        await producer.start()
        try:
            half = RECORDS // 2
            await produce(producer, 0, half)
            await asyncio.get_running_loop().run_in_executor(None, logd.restart)
            await produce(producer, half, RECORDS)
        finally:
            await producer.stop()
        return await consume(logd.bootstrap)

    got = asyncio.run(scenario())
    assert len(got) == RECORDS
    assert [r.offset for r in got] == list(range(RECORDS))  # type: ignore[attr-defined]
    assert [r.value for r in got] == [b"aio-%06d" % i for i in range(RECORDS)]  # type: ignore[attr-defined]
    assert got[5].headers == (("i", b"5"),)  # type: ignore[attr-defined]
    assert got[5].key == b"k"  # type: ignore[attr-defined]
