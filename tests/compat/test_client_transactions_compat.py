"""tidelog.client's transactional producer and read_committed consumer against a real logd
(issue 14), cross-checked with confluent-kafka's (its consumer reads what ours wrote, ours
reads what its producer wrote): commits and aborts across partitions,
offsets committed inside a transaction, fencing of an older instance, an abortable failure
followed by a clean transaction, and calls out of order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import confluent_kafka as ck
import pytest
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient, NewTopic
from logd_harness import Logd
from test_transactions_compat import read_values as ck_read
from tidelog.client import BEGINNING, END, Admin, ClientError, Cluster, Consumer, ConsumerConfig
from tidelog.client.group import GroupConfig, GroupMember
from tidelog.client.retry import RetryPolicy
from tidelog.client.transactions import (
    AbortableTransactionError,
    ProducerFenced,
    TransactionalProducer,
    TxnState,
)


def cluster_for(broker: Logd) -> Cluster:
    return Cluster([("127.0.0.1", broker.port)],
                   retry=RetryPolicy(attempts=40, backoff=0.05, max_backoff=0.5))


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 90))  # type: ignore[arg-type]


async def read_values(cluster: Cluster, topic: str, partitions: list[int],
                      committed_only: bool) -> list[bytes | None]:
    consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=100,
                                                isolation_level=int(committed_only)))
    await consumer.assign([(topic, p, BEGINNING) for p in partitions])
    out: list[bytes | None] = []
    while not consumer.all_at_end:
        for fetched in await consumer.poll():
            out.extend(r.value for r in fetched.records)
    return out


def test_commits_and_aborts_as_our_and_confluent_kafkas_consumers_see_them(
        shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("ctx-mixed", 3)
            producer = TransactionalProducer(cluster, "ctx-mixed-1")
            await producer.init_transactions()
            producer.begin_transaction()
            await producer.send_values("ctx-mixed", [b"c1-%d" % i for i in range(300)])
            for i in range(3):
                await producer.send("ctx-mixed", b"k1-%d" % i, b"key-%d" % i, partition=i)
            await producer.commit_transaction()
            producer.begin_transaction()
            for i in range(6):
                await producer.send("ctx-mixed", b"ab-%d" % i, partition=i % 3)
            await producer.flush()  # in the log, and still never read as committed
            await producer.abort_transaction()
            producer.begin_transaction()
            await producer.send("ctx-mixed", b"c2", partition=1)
            await producer.commit_transaction()
            producer.begin_transaction()  # an empty transaction ends without a request
            await producer.commit_transaction()
            assert producer.stats.failed == 0, producer.stats.errors
            await producer.close()
            committed = sorted([b"c1-%d" % i for i in range(300)]
                               + [b"k1-%d" % i for i in range(3)] + [b"c2"])
            everything = sorted(committed + [b"ab-%d" % i for i in range(6)])
            assert sorted(await read_values(cluster, "ctx-mixed", [0, 1, 2], True)) \
                == committed  # type: ignore[type-var]
            assert sorted(await read_values(cluster, "ctx-mixed", [0, 1, 2], False)) \
                == everything  # type: ignore[type-var]

    run(main())
    committed = sorted([b"c1-%d" % i for i in range(300)] + [b"k1-%d" % i for i in range(3)]
                       + [b"c2"])
    assert ck_read(shared_logd.bootstrap, "ctx-mixed", len(committed), "read_committed",
                   "ck-check", 3) == committed


def test_confluent_kafkas_transactions_read_by_our_read_committed_consumer(
        shared_logd: Logd) -> None:
    admin = AdminClient({"bootstrap.servers": shared_logd.bootstrap})
    for future in admin.create_topics([NewTopic("ctx-ck", 2)]).values():
        future.result(TIMEOUT)
    producer = ck.Producer({"bootstrap.servers": shared_logd.bootstrap,
                            "transactional.id": "ctx-ck-1"})
    producer.init_transactions(TIMEOUT)
    producer.begin_transaction()
    for i in range(4):
        producer.produce("ctx-ck", b"ck-c%d" % i, partition=i % 2)
    producer.commit_transaction(TIMEOUT)
    producer.begin_transaction()
    producer.produce("ctx-ck", b"ck-a", partition=0)
    producer.flush(TIMEOUT)
    producer.abort_transaction(TIMEOUT)
    producer.begin_transaction()
    producer.produce("ctx-ck", b"ck-open", partition=1)
    producer.flush(TIMEOUT)  # left open: read_committed stops before it

    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            got = await read_values(cluster, "ctx-ck", [0, 1], True)
            assert sorted(got) == [b"ck-c%d" % i for i in range(4)]  # type: ignore[type-var]
            # "end" for read_committed is the last stable offset, before the open record
            consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=100, isolation_level=1))
            await consumer.assign([("ctx-ck", 1, END)])
            uncommitted = Consumer(cluster, ConsumerConfig(max_wait_ms=100))
            await uncommitted.assign([("ctx-ck", 1, END)])
            assert consumer.partitions[("ctx-ck", 1)].position == \
                uncommitted.partitions[("ctx-ck", 1)].position - 1

    try:
        run(main())
    finally:
        producer.abort_transaction(TIMEOUT)


def test_offsets_sent_to_a_transaction_count_only_when_it_commits(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("ctx-in", 1)
            await Admin(cluster).create_topic("ctx-out", 1)
            member = GroupMember(cluster, "ctx-group", ["ctx-in"],
                                 GroupConfig(join_timeout_s=TIMEOUT))
            assert await member.join() == {"ctx-in": [0]}
            producer = TransactionalProducer(cluster, "ctx-offsets-1")
            await producer.init_transactions()
            try:
                producer.begin_transaction()
                await producer.send("ctx-out", b"first")
                await producer.send_offsets_to_transaction({("ctx-in", 0): 7},
                                                           member.metadata())
                await producer.commit_transaction()
                assert await member.committed([("ctx-in", 0)], require_stable=True) \
                    == {("ctx-in", 0): 7}
                producer.begin_transaction()
                await producer.send("ctx-out", b"undone")
                await producer.send_offsets_to_transaction({("ctx-in", 0): 9},
                                                           member.metadata())
                await producer.abort_transaction()
                assert await member.committed([("ctx-in", 0)], require_stable=True) \
                    == {("ctx-in", 0): 7}
                # a member that is not in the group's generation cannot commit: abortable
                producer.begin_transaction()
                stale = member.metadata()
                stale = type(stale)(stale.group_id, stale.generation_id + 5, stale.member_id)
                with pytest.raises(AbortableTransactionError):
                    await producer.send_offsets_to_transaction({("ctx-in", 0): 11}, stale)
                assert producer.state is TxnState.ABORTABLE
                await producer.abort_transaction()
                assert await member.committed([("ctx-in", 0)], require_stable=True) \
                    == {("ctx-in", 0): 7}
            finally:
                await member.leave()
                await producer.close()
            assert await read_values(cluster, "ctx-out", [0], True) == [b"first"]

    run(main())


def test_a_new_instance_fences_the_old_and_aborts_its_transaction(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("ctx-fence", 1)
            old = TransactionalProducer(cluster, "ctx-fence-1")
            await old.init_transactions()
            old.begin_transaction()
            await old.send("ctx-fence", b"zombie")
            await old.flush()
            new = TransactionalProducer(cluster, "ctx-fence-1")
            await new.init_transactions()  # aborts the old instance's open transaction
            new.begin_transaction()
            await new.send("ctx-fence", b"fresh")
            await new.commit_transaction()
            await old.send("ctx-fence", b"zombie-2")
            with pytest.raises(ProducerFenced):
                await old.commit_transaction()
            assert old.state is TxnState.FATAL
            with pytest.raises(ProducerFenced):
                old.begin_transaction()
            with pytest.raises(ProducerFenced):
                await old.abort_transaction()
            await old.close()
            await new.close()
            assert await read_values(cluster, "ctx-fence", [0], True) == [b"fresh"]

    run(main())


def test_a_failed_batch_makes_the_transaction_abortable_and_the_next_one_clean(
        shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("ctx-small", 2,
                                              configs={"max.message.bytes": "2000"})
            producer = TransactionalProducer(cluster, "ctx-small-1")
            await producer.init_transactions()
            producer.begin_transaction()
            await producer.send("ctx-small", b"kept-out", partition=0)
            await producer.send("ctx-small", b"x" * 5000, partition=1)  # MESSAGE_TOO_LARGE
            with pytest.raises(AbortableTransactionError, match="MESSAGE_TOO_LARGE"):
                await producer.commit_transaction()
            assert producer.state is TxnState.ABORTABLE
            with pytest.raises(AbortableTransactionError):
                await producer.send("ctx-small", b"refused")
            await producer.abort_transaction()
            # a new epoch (KIP-360): partition 1's sequence starts again at 0
            producer.begin_transaction()
            await producer.send("ctx-small", b"ok-0", partition=0)
            await producer.send("ctx-small", b"ok-1", partition=1)
            await producer.commit_transaction()
            await producer.close()
            assert sorted(await read_values(cluster, "ctx-small", [0, 1], True)) \
                == [b"ok-0", b"ok-1"]  # type: ignore[type-var]

    run(main())


def test_calls_out_of_order_are_refused_and_change_nothing(shared_logd: Logd) -> None:
    async def main() -> None:
        async with cluster_for(shared_logd) as cluster:
            await Admin(cluster).create_topic("ctx-order", 1)
            producer = TransactionalProducer(cluster, "ctx-order-1")
            with pytest.raises(ClientError, match="uninitialized"):
                producer.begin_transaction()
            await producer.init_transactions()
            with pytest.raises(ClientError, match="begin_transaction"):
                await producer.send("ctx-order", b"outside")
            with pytest.raises(ClientError, match="no transaction"):
                await producer.commit_transaction()
            with pytest.raises(ClientError, match="ready"):
                await producer.abort_transaction()
            producer.begin_transaction()
            with pytest.raises(ClientError, match="in transaction"):
                producer.begin_transaction()
            await producer.send("ctx-order", b"inside")
            await producer.commit_transaction()
            await producer.close()
            assert await read_values(cluster, "ctx-order", [0], True) == [b"inside"]
        with pytest.raises(ClientError, match="acks=all"):
            from tidelog.client import ProducerConfig
            TransactionalProducer(cluster, "x", ProducerConfig(acks=1))

    run(main())
