"""Transactions with unmodified clients (issue 14): confluent-kafka's transactional producer
(init, begin, produce, send_offsets_to_transaction, commit, abort) against read_committed
consumers of confluent-kafka and kafka-python, which must see committed records only, and
read_uncommitted ones, which see everything; a zombie producer is fenced; a transaction left
open is aborted by its timeout, also across a broker restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import confluent_kafka as ck
import kafka
import pytest
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient, NewTopic
from logd_harness import Logd


def _create(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions)]).values():
        future.result(TIMEOUT)


def _producer(bootstrap: str, tid: str, **extra: object) -> ck.Producer:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": tid, **extra})
    producer.init_transactions(TIMEOUT)
    return producer


def read_values(bootstrap: str, topic: str, expected: int, isolation: str,
               group: str, partitions: int = 1) -> list[bytes]:
    """Read ``topic`` from the start until ``expected`` values came and every partition
    reached its end (or the timeout), to catch records that must not be there."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "isolation.level": isolation, "enable.partition.eof": True})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING)
                     for p in range(partitions)])
    values: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    eof = set()
    parts = partitions
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == ck.KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                    if len(values) >= expected and len(eof) >= parts:
                        break
                    continue
                if msg.error().retriable():  # a leader moving in a cluster
                    continue
                raise AssertionError(msg.error())
            eof.discard(msg.partition())
            values.append(msg.value())
    finally:
        consumer.close()
    return sorted(values) if partitions > 1 else values


def _kp_committed(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap,
                                   auto_offset_reset="earliest", isolation_level="read_committed",
                                   consumer_timeout_ms=3000, group_id=None)
    values: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            batch = [m.value for m in consumer]
            values += batch
            if len(values) >= expected and not batch:
                break
    finally:
        consumer.close()
    return values


@pytest.fixture(scope="module")
def broker(shared_logd: Logd) -> Iterator[str]:
    yield shared_logd.bootstrap


def test_committed_and_aborted_transactions_as_consumers_see_them(broker: str) -> None:
    _create(broker, "tx-mixed", partitions=2)
    producer = _producer(broker, "tx-mixed-1")
    producer.begin_transaction()
    for i in range(5):
        producer.produce("tx-mixed", b"c1-%d" % i, partition=i % 2)
    producer.commit_transaction(TIMEOUT)
    producer.begin_transaction()
    for i in range(3):
        producer.produce("tx-mixed", b"ab-%d" % i, partition=i % 2)
    producer.flush(TIMEOUT)  # the aborted records are in the log, not only in the client
    producer.abort_transaction(TIMEOUT)
    producer.begin_transaction()
    for i in range(2):
        producer.produce("tx-mixed", b"c2-%d" % i, partition=i % 2)
    producer.commit_transaction(TIMEOUT)
    committed = sorted([b"c1-%d" % i for i in range(5)] + [b"c2-%d" % i for i in range(2)])
    assert sorted(read_values(broker, "tx-mixed", 7, "read_committed", "rc", 2)) == committed
    everything = sorted(committed + [b"ab-%d" % i for i in range(3)])
    assert sorted(read_values(broker, "tx-mixed", 10, "read_uncommitted", "ru", 2)) == everything
    assert sorted(_kp_committed(broker, "tx-mixed", 7)) == committed


def test_consume_transform_produce_commits_offsets_with_the_output(broker: str) -> None:
    _create(broker, "tx-in")
    _create(broker, "tx-out")
    plain = ck.Producer({"bootstrap.servers": broker})
    for i in range(10):
        plain.produce("tx-in", b"%d" % i)
    plain.flush(TIMEOUT)
    consumer = ck.Consumer({"bootstrap.servers": broker, "group.id": "ctp",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["tx-in"])
    producer = _producer(broker, "ctp-1")
    seen, retried = 0, False
    deadline = time.monotonic() + TIMEOUT
    try:
        while seen < 10 and time.monotonic() < deadline:
            msgs = consumer.consume(5, 1.0)
            msgs = [m for m in msgs if not m.error()]
            if not msgs:
                continue
            producer.begin_transaction()
            for m in msgs:
                producer.produce("tx-out", m.value() + b"!")
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata(),
                TIMEOUT)
            if not retried:
                producer.abort_transaction(TIMEOUT)  # the first chunk is done twice
                consumer.seek(ck.TopicPartition("tx-in", 0, 0))
                retried = True
                continue
            producer.commit_transaction(TIMEOUT)
            seen += len(msgs)
        committed = consumer.committed([ck.TopicPartition("tx-in", 0)], TIMEOUT)
    finally:
        consumer.close()
    assert committed[0].offset == 10
    out = read_values(broker, "tx-out", 10, "read_committed", "ctp-check")
    assert sorted(out) == sorted(b"%d!" % i for i in range(10))


def test_a_zombie_producer_is_fenced(broker: str) -> None:
    _create(broker, "tx-zombie")
    zombie = _producer(broker, "zombie-1")
    zombie.begin_transaction()
    zombie.produce("tx-zombie", b"old")
    zombie.flush(TIMEOUT)
    fresh = _producer(broker, "zombie-1")  # aborts the zombie's transaction, fences it
    fresh.begin_transaction()
    fresh.produce("tx-zombie", b"new")
    fresh.commit_transaction(TIMEOUT)
    with pytest.raises(ck.KafkaException) as info:
        zombie.commit_transaction(TIMEOUT)
    err = info.value.args[0]
    assert err.code() in (ck.KafkaError._FENCED, ck.KafkaError.PRODUCER_FENCED,
                          ck.KafkaError.INVALID_PRODUCER_EPOCH), err
    assert read_values(broker, "tx-zombie", 1, "read_committed", "zc") == [b"new"]


def test_an_abandoned_transaction_times_out_across_a_restart(logd: Logd) -> None:
    _create(logd.bootstrap, "tx-abandoned")
    left = _producer(logd.bootstrap, "abandoned-1", **{"transaction.timeout.ms": 4000})
    left.begin_transaction()
    left.produce("tx-abandoned", b"never")
    left.flush(TIMEOUT)
    del left  # the process goes away without ending it
    logd.restart()
    after = ck.Producer({"bootstrap.servers": logd.bootstrap})
    after.produce("tx-abandoned", b"later")
    after.flush(TIMEOUT)
    # read_committed sees "later" only once the coordinator aborted the open transaction
    assert read_values(logd.bootstrap, "tx-abandoned", 1, "read_committed", "ab") == [b"later"]


def test_kafka_python_and_aiokafka_transactional_producers(broker: str) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    _create(broker, "tx-py", partitions=2)
    kp = kafka.KafkaProducer(bootstrap_servers=broker, transactional_id="kp-tx")
    kp.init_transactions()
    kp.begin_transaction()
    kp.send("tx-py", b"kp-c", partition=0)
    kp.commit_transaction()
    kp.begin_transaction()
    kp.send("tx-py", b"kp-a", partition=1)
    kp.flush()
    kp.abort_transaction()
    kp.close()

    async def aio() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker, transactional_id="aio-tx")
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait("tx-py", b"aio-c", partition=1)
            await producer.begin_transaction()
            await producer.send_and_wait("tx-py", b"aio-a", partition=0)
            await producer.abort_transaction()
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(aio(), TIMEOUT))
    assert read_values(broker, "tx-py", 2, "read_committed", "py-rc", 2) == [b"aio-c", b"kp-c"]
    assert read_values(broker, "tx-py", 4, "read_uncommitted", "py-ru", 2) == sorted(
        [b"aio-a", b"aio-c", b"kp-a", b"kp-c"])
