"""tidelog.client against real logd processes: produce and consume every codec, keys,
headers and tombstones; murmur2 placement; idempotence; back-pressure; start positions and
long polling; admin operations and their errors; retries across a broker restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import pytest
from logd_harness import Logd
from tidelog.client import (
    BEGINNING,
    END,
    Admin,
    BrokerError,
    Cluster,
    Consumer,
    ConsumerConfig,
    OffsetSpec,
    Producer,
    ProducerConfig,
    partition_for_key,
)
from tidelog.client.retry import RetryPolicy
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import Compression
from tidelog.records.record import Record


def cluster_for(broker: Logd) -> Cluster:
    return Cluster([("127.0.0.1", broker.port)],
                   retry=RetryPolicy(attempts=40, backoff=0.05, max_backoff=0.5))


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def read_all(cluster: Cluster, topic: str, partitions: list[int]) -> dict[int, list[Record]]:
    consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=100))
    await consumer.assign([(topic, p, BEGINNING) for p in partitions])
    out: dict[int, list[Record]] = {p: [] for p in partitions}
    while not consumer.all_at_end:
        for fetched in await consumer.poll():
            out[fetched.partition].extend(fetched.records)
    return out


@pytest.mark.parametrize("codec", [Compression.NONE, Compression.GZIP, Compression.SNAPPY,
                                   Compression.LZ4, Compression.ZSTD])
def test_round_trip_every_codec(shared_logd: Logd, codec: int) -> None:
    topic = f"codec-{codec}"

    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic(topic, 1)
            async with Producer(cluster, ProducerConfig(compression=codec,
                                                        batch_size=4000)) as producer:
                await producer.send_values(topic, [b"v%05d" % i for i in range(3000)])
                await producer.send(topic, b"keyed", b"k", [("h", b"1"), ("n", None)])
                await producer.send(topic, None, b"gone")
            assert producer.stats.records == 3002 and producer.stats.failed == 0
            assert producer.stats.batches > 1
            records = (await read_all(cluster, topic, [0]))[0]
            assert [r.offset for r in records] == list(range(3002))
            assert [r.value for r in records[:3000]] == [b"v%05d" % i for i in range(3000)]
            assert records[3000][2:5] == (b"k", b"keyed", (("h", b"1"), ("n", None)))
            assert (records[3001].key, records[3001].value) == (b"gone", None)

    run(main())


def test_keys_land_on_murmur2_partitions_and_unkeyed_are_sticky(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("keyed", 6)
            keys = [b"user-%d" % i for i in range(200)]
            async with Producer(cluster, ProducerConfig(linger_ms=1)) as producer:
                for key in keys:
                    await producer.send("keyed", b"x", key)
                for _ in range(50):
                    await producer.send("keyed", b"sticky")
            placed = await read_all(cluster, "keyed", list(range(6)))
            for partition, records in placed.items():
                for r in records:
                    if r.key is not None:
                        assert partition_for_key(r.key, 6) == partition
            assert sum(len(v) for v in placed.values()) == 250
            # The 50 unkeyed records were sent in one linger window: one sticky partition.
            holding = [p for p, rs in placed.items() if any(r.key is None for r in rs)]
            assert len(holding) == 1

    run(main())


def test_idempotent_producer_and_back_pressure(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("idem", 1)
            config = ProducerConfig(idempotent=True, batch_size=2000, max_buffer_bytes=20_000)
            async with Producer(cluster, config) as producer:
                peak = 0
                for i in range(2000):
                    await producer.send("idem", b"%06d" % i)
                    peak = max(peak, producer._held)
                assert peak <= config.max_buffer_bytes + config.batch_size
            assert producer.stats.records == 2000 and producer.stats.failed == 0
            assert producer._producer_id >= 0
            records = (await read_all(cluster, "idem", [0]))[0]
            assert [r.value for r in records] == [b"%06d" % i for i in range(2000)]
            assert records[0].sequence == 0 and records[-1].sequence == 1999

    run(main())


def test_start_positions_and_long_polling(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("positions", 1)
            async with Producer(cluster) as producer:
                for i in range(10):
                    await producer.send("positions", b"old%d" % i, timestamp=1_000 + i)
            stamp = int(time.time() * 1000) - 1
            async with Producer(cluster) as producer:
                await producer.send_values("positions", [b"new%d" % i for i in range(5)])

            async def first_values(spec: OffsetSpec, n: int = 3) -> list[bytes | None]:
                consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=50))
                await consumer.assign([("positions", 0, spec)])
                got: list[bytes | None] = []
                while len(got) < n and not consumer.all_at_end:
                    for fetched in await consumer.poll():
                        got.extend(fetched.values())
                return got[:n]

            assert await first_values(OffsetSpec("absolute", 4)) == [b"old4", b"old5", b"old6"]
            assert await first_values(OffsetSpec("from_end", 2)) == [b"new3", b"new4"]
            assert await first_values(OffsetSpec("from_beginning", 9)) == [b"old9", b"new0",
                                                                             b"new1"]
            assert await first_values(OffsetSpec("timestamp", 1_005)) == [b"old5", b"old6",
                                                                          b"old7"]
            assert await first_values(OffsetSpec("timestamp", stamp)) == [b"new0", b"new1",
                                                                          b"new2"]
            assert await first_values(OffsetSpec("absolute", 999)) == []
            # From the end: a long poll returns as soon as a new record arrives.
            consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=5000))
            await consumer.assign([("positions", 0, END)])
            assert consumer.all_at_end
            poll = asyncio.ensure_future(consumer.poll())
            await asyncio.sleep(0.2)
            async with Producer(cluster) as producer:
                await producer.send("positions", b"live")
            started = time.monotonic()
            fetched = await poll
            assert time.monotonic() - started < 4
            assert [f.values() for f in fetched] == [[b"live"]]

    run(main())


def test_admin_operations(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            admin = Admin(cluster)
            await admin.create_topic("adm", 2, configs={"retention.ms": "3600000"})
            with pytest.raises(BrokerError) as info:
                await admin.create_topic("adm", 2)
            assert info.value.code == ErrorCode.TOPIC_ALREADY_EXISTS
            assert (await admin.list_topics())["adm"] == 2
            async with Producer(cluster) as producer:
                await producer.send_values("adm", [b"a", b"b", b"c"], partition=1)
            desc = await admin.describe_topic("adm")
            assert [(p.partition, p.log_start_offset, p.high_watermark)
                    for p in desc.partitions] == [(0, 0, 0), (1, 0, 3)]
            assert desc.partitions[0].leader == 1 and desc.partitions[0].isr == [1]
            assert desc.configs["retention.ms"] == "3600000"
            await admin.alter_configs("adm", {"retention.ms": "60000"})
            assert (await admin.describe_configs("adm"))["retention.ms"] == "60000"
            await admin.alter_configs("adm", {}, ["retention.ms"])
            assert (await admin.describe_configs("adm"))["retention.ms"] != "60000"
            await admin.create_partitions("adm", 4)
            assert (await admin.describe_topic("adm", configs=False)).partitions[3].partition == 3
            offsets = await admin.list_offsets("adm", -1)
            assert offsets[1][0] == 3
            await admin.delete_topic("adm")
            assert "adm" not in await admin.list_topics()
            with pytest.raises(BrokerError) as info:
                await admin.delete_topic("adm")
            assert info.value.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION

    run(main())


def test_producer_retries_across_a_restart(logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(logd) as cluster:
            await Admin(cluster).create_topic("restart", 1)
            async with Producer(cluster, ProducerConfig(linger_ms=1)) as producer:
                await producer.send_values("restart", [b"a%d" % i for i in range(100)])
                await producer.flush()
                await asyncio.get_running_loop().run_in_executor(None, logd.restart)
                await producer.send_values("restart", [b"b%d" % i for i in range(100)])
            assert producer.stats.failed == 0, producer.stats.errors
            records = (await read_all(cluster, "restart", [0]))[0]
            values = [r.value for r in records]
            assert values == [b"a%d" % i for i in range(100)] + [b"b%d" % i for i in range(100)]

    run(main())
