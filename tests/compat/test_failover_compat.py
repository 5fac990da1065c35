"""Real clients with their default settings through a leader's kill -9: kcat (-P and -C),
confluent-kafka, kafka-python and aiokafka, each producer and consumer against a 3-node cluster
(replication factor 3, ``cluster_harness``).

Per client: a consumer follows partition 0 of a new topic from the beginning while the
client's producer writes the first half of the records; once the consumer has read them (so
they are below the high watermark: on every in-sync replica) the partition's leader is killed
with kill -9; the *same* producer writes the second half, which must all be acknowledged
through the new leader, and the *same* consumer must go on to read every record once, in order.
The killed node is started again and rejoins the ISR before the next client's turn. The group
consumers of confluent-kafka, kafka-python and aiokafka (subscribe, auto commit) take the same
turn in a group whose coordinator is that leader, so the kill takes both.

The kill falls between the halves rather than under records in flight because aiokafka's
default is acks=1, where a leader's death may lose what it acknowledged alone (Kafka's contract);
in-flight kills with acks=all are tests/integration/test_replication*.py's part.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import confluent_kafka as ck
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from cluster_harness import LogdCluster, create_topic, wait_for
from compat_common import TIMEOUT
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from test_cluster import live_brokers
from tidelog.broker.groups.schema import partition_for

#: Records per client, half before the kill and half after.
RECORDS = 2000
HALF = RECORDS // 2
OFFSETS = "__consumer_offsets"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("failover"), 3, env={
        "TIDELOG_DEFAULT_REPLICATION_FACTOR": "3",
    }).start()
    try:
        wait_for("three brokers", lambda: live_brokers(c.bootstrap(1)) == {1, 2, 3}, TIMEOUT)
        yield c
    finally:
        c.close()
        print(c.logs())


def bootstrap(cluster: LogdCluster) -> str:
    return ",".join(n.bootstrap for n in cluster.nodes.values())


def partition0(cluster: LogdCluster, topic: str, via: int) -> tuple[int, list[int]]:
    """(leader, sorted ISR) of partition 0 as node ``via`` answers Metadata."""
    admin = AdminClient({"bootstrap.servers": cluster.nodes[via].bootstrap})
    p = admin.list_topics(topic, timeout=5).topics[topic].partitions[0]
    return p.leader, sorted(p.isrs)


def values(n: range) -> list[bytes]:
    return [b"r-%06d" % i for i in n]


class Scenario:
    """One client's turn: topic, leader, the kill and the return; see the module docstring."""

    def __init__(self, cluster: LogdCluster, topic: str) -> None:
        self.cluster = cluster
        self.topic = topic
        # every node answers; a new topic's partitions have all three in the ISR
        wait_for("three live brokers", lambda: all(
            live_brokers(n.bootstrap) == {1, 2, 3} for n in cluster.nodes.values()), TIMEOUT)
        create_topic(bootstrap(cluster), topic, 1)
        self.leader = wait_for(f"{topic}: a full ISR", lambda: (
            lambda s: s[0] if s[1] == [1, 2, 3] else None)(partition0(cluster, topic, 1)),
            TIMEOUT)
        self.others = [i for i in cluster.nodes if i != self.leader]

    def kill_leader(self) -> None:
        # a follower busy elsewhere (50 __consumer_offsets partitions made at a group
        # client's first FindCoordinator) may have left the ISR for a moment; with the
        # leader the only in-sync replica its death would leave the partition offline,
        # rightly, so the kill waits for the full ISR
        wait_for(f"{self.topic}: a full ISR before the kill", lambda: partition0(
            self.cluster, self.topic, self.leader) == (self.leader, [1, 2, 3]), TIMEOUT)
        self.cluster.nodes[self.leader].kill()
        wait_for(f"{self.topic}: a new leader", lambda: partition0(
            self.cluster, self.topic, self.others[0])[0] in self.others, TIMEOUT)

    def restore(self) -> None:
        node = self.cluster.nodes[self.leader]
        if not node.running:
            node.start()
        wait_for(f"{self.topic}: node {self.leader} back in the ISR", lambda: partition0(
            self.cluster, self.topic, self.others[0])[1] == [1, 2, 3], TIMEOUT)


def group_led_by(cluster: LogdCluster, node: int) -> str:
    """A group id whose coordinator is ``node`` (the leader of the group's
    ``__consumer_offsets`` partition)."""
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    # a FindCoordinator makes __consumer_offsets, if no group client has yet; the first
    # answers may be COORDINATOR_NOT_AVAILABLE or, from a broker whose metadata is behind,
    # NOT_COORDINATOR, which librdkafka's admin client does not retry
    wait_for("a group coordinator", lambda: admin.describe_consumer_groups(["probe"])[
        "probe"].result(10), TIMEOUT)

    def leaders() -> dict[int, int] | None:
        topic = admin.list_topics(OFFSETS, timeout=5).topics[OFFSETS]
        found = {p: m.leader for p, m in topic.partitions.items()}
        return found if found and all(leader > 0 for leader in found.values()) else None
    led = wait_for("__consumer_offsets with leaders", leaders, TIMEOUT)
    return next(g for g in (f"group-{i}" for i in range(10_000))
                if led[partition_for(g, len(led))] == node)


def wait_read(got: list[bytes], n: int, what: str) -> None:
    # Distinct records: duplicates (allowed without idempotence) must not end the wait before
    # the last records have been read.
    wait_for(f"{what}: {n} distinct records read (have {len(got)} with duplicates)",
             lambda: len(set(got)) >= n, TIMEOUT)


Follow = Callable[[list[bytes], threading.Event, str], None]


def run(cluster: LogdCluster, topic: str, produce: Callable[[range], None], follow: Follow,
        group: bool = False) -> list[bytes]:
    """The scenario with ``produce`` (returns once a range is acknowledged) and ``follow``
    (appends what it reads to the list until the event is set, in a thread). With ``group``
    ``follow`` gets a group id whose coordinator is the partition's leader (the kill takes
    both) and whose committed offset is 0 (a group consumer's default reset is to the log
    end, which would skip records written before it had its partition)."""
    s = Scenario(cluster, topic)
    got: list[bytes] = []
    done = threading.Event()
    failure: list[BaseException] = []
    group_id = ""
    if group:
        group_id = group_led_by(cluster, s.leader)
        admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
        admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
            group_id, [ck.TopicPartition(topic, 0, 0)])])[group_id].result(TIMEOUT)

    def consumer() -> None:
        try:
            follow(got, done, group_id)
        except BaseException as exc:  # shown by the test, not lost in the thread
            failure.append(exc)

    thread = threading.Thread(target=consumer, name=f"follow-{topic}", daemon=True)
    thread.start()
    try:
        produce(range(HALF))
        wait_read(got, HALF, "before the kill")
        s.kill_leader()
        produce(range(HALF, RECORDS))
        wait_read(got, RECORDS, "after the kill")
    finally:
        done.set()
        thread.join(TIMEOUT)
        s.restore()
    assert not failure, failure
    assert not thread.is_alive(), f"{topic}: the consumer did not stop in {TIMEOUT} s"
    return got


# -- kcat --------------------------------------------------------------------------------


def kcat() -> str:
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed (.ci/run installs it with apt-get)"
    return exe


def test_kcat_producer_and_consumer_through_a_leader_kill(cluster: LogdCluster,
                                                         tmp_path: Path) -> None:
    """kcat -P reads its stdin in blocks, so records cannot be handed to it half by half:
    one kcat -P gets a steady stream of lines, the leader is killed once the consumer has
    read a quarter of them, and the stream goes on to the end (kcat -P delivers what it
    read at end of input and exits). Without idempotence (librdkafka's default) a retry
    may write a record twice (Kafka's at-least-once), so duplicates are allowed; loss and
    reordering are not."""
    s = Scenario(cluster, "kc")
    servers = bootstrap(cluster)
    lines = values(range(RECORDS))
    log = (tmp_path / "kcat.stderr").open("w+b")
    consumer = subprocess.Popen([kcat(), "-b", servers, "-C", "-t", "kc", "-o", "beginning",
                                 "-u", "-q"], stdout=subprocess.PIPE, stderr=log)
    producer = subprocess.Popen([kcat(), "-b", servers, "-P", "-t", "kc"],
                                stdin=subprocess.PIPE, stderr=log)
    got: list[bytes] = []

    def read() -> None:
        assert consumer.stdout is not None
        for line in consumer.stdout:
            got.append(line.rstrip(b"\n"))

    def feed() -> None:
        assert producer.stdin is not None
        for i in range(0, RECORDS, 20):  # ~1000 lines/s
            producer.stdin.write(b"".join(v + b"\n" for v in lines[i:i + 20]))
            producer.stdin.flush()
            time.sleep(0.02)  # pacing the input, not synchronisation
        producer.stdin.close()

    reader = threading.Thread(target=read, daemon=True)
    feeder = threading.Thread(target=feed, daemon=True)
    reader.start()
    feeder.start()
    try:
        wait_read(got, RECORDS // 4, "before the kill")
        s.kill_leader()
        feeder.join(TIMEOUT)
        assert producer.wait(TIMEOUT) == 0
        wait_read(got, RECORDS, "after the kill")
    finally:
        producer.kill()
        consumer.terminate()
        consumer.wait(TIMEOUT)
        reader.join(TIMEOUT)
        s.restore()
        log.seek(0)
        print(log.read().decode())
    assert list(dict.fromkeys(got)) == lines, "every line, in order"


# -- confluent-kafka -----------------------------------------------------------------------


def test_confluent_kafka_through_a_leader_kill(cluster: LogdCluster) -> None:
    errors: list[object] = []
    producer = ck.Producer({"bootstrap.servers": bootstrap(cluster)})

    def produce(n: range) -> None:
        for v in values(n):
            producer.produce("ck", v, partition=0, on_delivery=lambda err, _: err and
                             errors.append(err))
            producer.poll(0)
        assert producer.flush(TIMEOUT) == 0
        assert errors == []

    def follow(got: list[bytes], done: threading.Event, _: str) -> None:
        consumer = ck.Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": "ck-f",
                                "enable.auto.commit": False})
        consumer.assign([ck.TopicPartition("ck", 0, ck.OFFSET_BEGINNING)])
        try:
            while not done.is_set():
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None:
                    got.append(msg.value())
        finally:
            consumer.close()

    got = run(cluster, "ck", produce, follow)
    assert got == values(range(RECORDS))


# -- kafka-python --------------------------------------------------------------------------


def test_kafka_python_through_a_leader_kill(cluster: LogdCluster) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap(cluster))

    def produce(n: range) -> None:
        futures = [producer.send("kp", v, partition=0) for v in values(n)]
        producer.flush(TIMEOUT)
        for f in futures:
            f.get(timeout=TIMEOUT)  # raises the delivery error, if any

    def follow(got: list[bytes], done: threading.Event, _: str) -> None:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap(cluster), group_id=None,
                                 enable_auto_commit=False)
        tp = KpTopicPartition("kp", 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        try:
            while not done.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    got.extend(r.value for r in records)
        finally:
            consumer.close()

    try:
        got = run(cluster, "kp", produce, follow)
    finally:
        producer.close(TIMEOUT)
    assert got == values(range(RECORDS))


# -- aiokafka ------------------------------------------------------------------------------


def aiokafka_on_a_thread(cluster: LogdCluster, name: str) -> tuple[
        asyncio.AbstractEventLoop, threading.Thread, Callable[[object], object],
        AIOKafkaProducer]:
    """An event loop running in a thread of its own, a function that runs a coroutine on it
    (bounded by TIMEOUT), and an aiokafka producer started there."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()

    def call(coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(TIMEOUT)  # type: ignore[arg-type]

    async def start() -> AIOKafkaProducer:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap(cluster))
        await p.start()
        return p

    producer: AIOKafkaProducer = call(start())  # type: ignore[assignment]
    return loop, thread, call, producer


def test_aiokafka_through_a_leader_kill(cluster: LogdCluster) -> None:
    """Producer and consumer on one event loop in a thread of their own; the scenario's
    calls reach them through it."""
    loop, thread, call, producer = aiokafka_on_a_thread(cluster, "aiokafka")

    def produce(n: range) -> None:
        async def send() -> None:
            futures = [await producer.send("aio", v, partition=0) for v in values(n)]
            await asyncio.gather(*futures)
        call(send())

    def follow(got: list[bytes], done: threading.Event, _: str) -> None:
        async def read() -> None:
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(cluster), group_id=None,
                                        enable_auto_commit=False)
            await consumer.start()
            try:
                tp = AioTopicPartition("aio", 0)
                consumer.assign([tp])
                await consumer.seek_to_beginning(tp)
                while not done.is_set():
                    for records in (await consumer.getmany(timeout_ms=200)).values():
                        got.extend(r.value for r in records)
            finally:
                await consumer.stop()
        asyncio.run_coroutine_threadsafe(read(), loop).result(TIMEOUT + 30)

    try:
        got = run(cluster, "aio", produce, follow)
    finally:
        call(producer.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()
    assert got == values(range(RECORDS))


# -- group consumers (subscribe, auto commit: the defaults), coordinator killed too ------
#
# A group consumer resumes from its last auto-commit (every 5 s by default) after a
# rebalance, so a record may come twice (Kafka's at-least-once): duplicates are allowed,
# loss and reordering are not.
#
# aiokafka 0.14's stop() never returns if its last auto-commit finds the coordinator dead:
# closing, it no longer looks a coordinator up (GroupCoordinator.ensure_coordinator_known
# stops at _closing) yet commit_offsets retries GROUP_COORDINATOR_NOT_AVAILABLE every 100 ms
# forever. Here the consumer has read everything about a second after the kill, before its
# next heartbeat (every 3 s) would have told it, so a plain stop() hung (run's join gave up
# after 60 s: the "60 s" once taken for a late read). It commits before it stops instead,
# which finds the new coordinator and needs it to know the member and its generation.


def test_confluent_kafka_group_consumer_through_a_leader_and_coordinator_kill(
        cluster: LogdCluster) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap(cluster)})

    def produce(n: range) -> None:
        for v in values(n):
            producer.produce("ckg", v)
            producer.poll(0)
        assert producer.flush(TIMEOUT) == 0

    def follow(got: list[bytes], done: threading.Event, group: str) -> None:
        consumer = ck.Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": group})
        consumer.subscribe(["ckg"])
        try:
            while not done.is_set():
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None:
                    got.append(msg.value())
        finally:
            consumer.close()

    got = run(cluster, "ckg", produce, follow, group=True)
    assert list(dict.fromkeys(got)) == values(range(RECORDS))


def test_kafka_python_group_consumer_through_a_leader_and_coordinator_kill(
        cluster: LogdCluster) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap(cluster))

    def produce(n: range) -> None:
        futures = [producer.send("kpg", v) for v in values(n)]
        producer.flush(TIMEOUT)
        for f in futures:
            f.get(timeout=TIMEOUT)

    def follow(got: list[bytes], done: threading.Event, group: str) -> None:
        consumer = KafkaConsumer("kpg", bootstrap_servers=bootstrap(cluster), group_id=group)
        try:
            while not done.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    got.extend(r.value for r in records)
        finally:
            consumer.close()

    try:
        got = run(cluster, "kpg", produce, follow, group=True)
    finally:
        producer.close(TIMEOUT)
    assert list(dict.fromkeys(got)) == values(range(RECORDS))


def test_aiokafka_group_consumer_through_a_leader_and_coordinator_kill(
        cluster: LogdCluster) -> None:
    loop, thread, call, producer = aiokafka_on_a_thread(cluster, "aiokafka-group")

    def produce(n: range) -> None:
        async def send() -> None:
            futures = [await producer.send("aiog", v) for v in values(n)]
            await asyncio.gather(*futures)
        call(send())

    def follow(got: list[bytes], done: threading.Event, group: str) -> None:
        async def read() -> None:
            consumer = AIOKafkaConsumer("aiog", bootstrap_servers=bootstrap(cluster),
                                        group_id=group)
            await consumer.start()
            try:
                while not done.is_set():
                    for records in (await consumer.getmany(timeout_ms=200)).values():
                        got.extend(r.value for r in records)
                await consumer.commit()  # see above: stop() alone may never return
            finally:
                await consumer.stop()
        asyncio.run_coroutine_threadsafe(read(), loop).result(TIMEOUT + 30)

    try:
        got = run(cluster, "aiog", produce, follow, group=True)
    finally:
        call(producer.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()
    assert list(dict.fromkeys(got)) == values(range(RECORDS))
