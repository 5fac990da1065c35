"""A real 3-node cluster (3 combined nodes) and a split one (1 controller + 2 brokers):
the metadata quorum elects and fails over, brokers register, are fenced and come back,
admin requests work through any node, and clients produce and consume through any broker."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_harness import SESSION_MS, LogdCluster, wait_for
from logd_harness import ROOT, Logd
from tidelog.client import (
    BEGINNING,
    Admin,
    Cluster,
    Consumer,
    ConsumerConfig,
    Producer,
    ProducerConfig,
)
from tidelog.client.retry import RetryPolicy
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.errors import ErrorCode


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def client(bootstrap: str) -> Cluster:
    host, port = bootstrap.rsplit(":", 1)
    return Cluster([(host, int(port))],
                   retry=RetryPolicy(attempts=60, backoff=0.05, max_backoff=0.3))


async def metadata(bootstrap: str) -> Any:
    async with client(bootstrap) as c:
        return await c.refresh(None)


def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    answer = run(metadata(bootstrap))
    for t in answer.topics:
        if t.name == topic:
            return {p.partition_index: p.leader_id for p in t.partitions}
    return {}


def live_brokers(bootstrap: str) -> set[int]:
    return {b.node_id for b in run(metadata(bootstrap)).brokers}


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    async def main() -> None:
        async with client(bootstrap) as c:
            await Admin(c).create_topic(name, partitions)
    run(main())


def produce_consume(produce_via: str, consume_via: str, topic: str, n: int) -> list[bytes]:
    async def main() -> list[bytes]:
        async with client(produce_via) as c, Producer(c, ProducerConfig(linger_ms=0)) as producer:
            info = await producer.topic(topic)
            for i in range(n):
                await producer.send(topic, b"v%d" % i, partition=i % info.count)
            await producer.flush()
        async with client(consume_via) as c:
            info = await c.topic(topic)
            consumer = Consumer(c, ConsumerConfig(max_wait_ms=100))
            await consumer.assign([(topic, p, BEGINNING) for p in info.partitions])
            got: list[bytes] = []
            while not consumer.all_at_end:
                for fetched in await consumer.poll():
                    got.extend(v for v in fetched.values() if v is not None)
            return got
    result: list[bytes] = run(main())
    return result


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("cluster"), 3).start()
    try:
        yield c
    finally:
        c.close()
        print(c.logs())


def test_quorum_status_contract(cluster: LogdCluster) -> None:
    leader = cluster.leader(via=2)
    doc = cluster.status(3)
    assert doc["leader_id"] == leader and doc["exit"] == 0
    assert doc["leader_epoch"] >= 1 and doc["high_watermark"] > 0
    assert sorted(doc["voters"]) == [1, 2, 3]
    wait_for("every broker registered", lambda: live_brokers(cluster.bootstrap(1)) == {1, 2, 3})
    out = subprocess.run(
        [sys.executable, "-m", "tidelog.tools.log_quorum", "-b", cluster.bootstrap(1), "describe",
         "--replication"], capture_output=True, cwd=ROOT, timeout=30, check=True, text=True)
    lines = out.stdout.splitlines()
    assert lines[0].split("\t")[0] == "NODE" and len(lines) == 4
    assert [line.split("\t")[-1] for line in lines[1:]].count("Leader") == 1


def test_topics_spread_and_clients_use_any_broker(cluster: LogdCluster) -> None:
    wait_for("every broker registered", lambda: live_brokers(cluster.bootstrap(1)) == {1, 2, 3})
    create_topic(cluster.bootstrap(2), "spread", 3)
    # every broker answers Metadata for the whole cluster, the same way
    placement = leaders(cluster.bootstrap(3), "spread")
    assert sorted(placement.values()) == [1, 2, 3]
    assert leaders(cluster.bootstrap(1), "spread") == placement
    got = produce_consume(cluster.bootstrap(1), cluster.bootstrap(3), "spread", 30)
    assert sorted(got) == sorted(b"v%d" % i for i in range(30))
    # a broker that does not lead a partition sends clients to the one that does
    p, leader = next(iter(placement.items()))
    other = next(i for i in (1, 2, 3) if i != leader)

    async def list_offset(node: int) -> int:
        async with client(cluster.bootstrap(node)) as c:
            conn = await c.connection_to("127.0.0.1", cluster.nodes[node].port)
            answer = await conn.request(ApiKey.LIST_OFFSETS, {"replica_id": -1, "topics": [
                {"name": "spread", "partitions": [{"partition_index": p, "timestamp": -1}]}]})
        return int(answer.topics[0].partitions[0].error_code)

    assert run(list_offset(other)) == ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert run(list_offset(leader)) == ErrorCode.NONE


def test_a_deleted_topic_is_deleted_on_every_broker_not_set_aside(cluster: LogdCluster) -> None:
    """kafka-python deletes a topic whose partitions three brokers hold: each broker deletes
    its logs (the metadata decided it), none renames them aside as -stray, which is only for
    logs the metadata never knew."""
    from kafka.admin import KafkaAdminClient

    wait_for("every broker registered", lambda: live_brokers(cluster.bootstrap(1)) == {1, 2, 3})
    create_topic(cluster.bootstrap(1), "gone", 3)
    assert len(produce_consume(cluster.bootstrap(2), cluster.bootstrap(3), "gone", 9)) == 9

    def dirs() -> list[str]:
        return sorted(d.name for n in cluster.nodes.values() for d in n.data_dir.glob("gone-*"))

    assert [d for d in dirs() if "." not in d] == ["gone-0", "gone-1", "gone-2"]
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap(2))
    try:
        admin.delete_topics(["gone"])
    finally:
        admin.close()
    wait_for("the logs of the deleted topic gone", lambda: all("." in d for d in dirs()))
    assert all(d.endswith("-delete") for d in dirs()), dirs()


def test_active_controller_killed(cluster: LogdCluster) -> None:
    first = cluster.leader(via=1)
    other = next(i for i in cluster.nodes if i != first)
    create_topic(cluster.bootstrap(other), "before-failover", 1)
    t0 = time.monotonic()
    cluster.nodes[first].kill()
    new = cluster.leader(via=other, not_=first, timeout=10)
    elapsed = time.monotonic() - t0
    assert new != first and elapsed < 8, elapsed
    create_topic(cluster.bootstrap(other), "after-failover", 1)
    assert leaders(cluster.bootstrap(other), "after-failover")
    # the killed node comes back, catches up and is a broker again
    cluster.nodes[first].start()
    wait_for("the restarted node back", lambda: first in live_brokers(cluster.bootstrap(other)))
    wait_for("the new topic on the restarted node",
             lambda: leaders(cluster.bootstrap(first), "after-failover"))


def test_stopped_broker_is_fenced_and_returns(cluster: LogdCluster) -> None:
    wait_for("every broker registered", lambda: live_brokers(cluster.bootstrap(1)) == {1, 2, 3})
    create_topic(cluster.bootstrap(1), "fencing", 3)
    placement = leaders(cluster.bootstrap(1), "fencing")
    controller = cluster.leader(via=1)
    # a broker that leads a partition and is not the controller (a broker fenced by a stall
    # of the loaded machine while the topic was created may lead none)
    victim = next(i for i in sorted(set(placement.values())) if i not in (controller, -1))
    watcher = next(i for i in (1, 2, 3) if i != victim)
    assert cluster.nodes[victim].stop() == 0
    wait_for("the broker fenced", lambda: victim not in live_brokers(cluster.bootstrap(watcher)),
             timeout=SESSION_MS / 1000 + 8)
    offline = [p for p, leader in placement.items() if leader == victim]
    now = leaders(cluster.bootstrap(watcher), "fencing")
    assert all(now[p] == -1 for p in offline) and offline
    cluster.nodes[victim].start()
    wait_for("the broker back", lambda: leaders(cluster.bootstrap(watcher), "fencing") == placement)
    got = produce_consume(cluster.bootstrap(watcher), cluster.bootstrap(victim), "fencing", 9)
    assert len(got) == 9


def test_a_node_with_another_voter_set_is_refused(cluster: LogdCluster, tmp_path: Path) -> None:
    wrong = cluster.quorum + ",9@127.0.0.9:1"
    node = Logd(tmp_path, "--node-id", "4", "--roles", "broker", "--quorum", wrong, name="bad")
    try:
        node.start()
        assert node.proc is not None
        assert node.proc.wait(15) == 1
        assert "refused by the quorum" in node.log()
    finally:
        node.kill()


def test_a_data_dir_of_another_cluster_is_refused(cluster: LogdCluster, tmp_path: Path) -> None:
    single = Logd(tmp_path, "--node-id", "4", name="other")
    single.start()
    assert single.stop() == 0
    node = Logd(tmp_path, "--node-id", "4", "--roles", "broker", "--quorum", cluster.quorum,
                name="other")
    try:
        node.start()
        assert node.proc is not None
        assert node.proc.wait(15) == 1
        assert "belongs to cluster" in node.new_log()
    finally:
        node.kill()
    assert len(cluster.running()) == 3  # the healthy nodes carry on


def test_split_roles(tmp_path: Path) -> None:
    """One controller and two broker-only nodes: brokers register as observers."""
    c = LogdCluster(tmp_path, 1, 2).start()
    try:
        wait_for("both brokers registered", lambda: live_brokers(c.bootstrap(2)) == {2, 3})
        doc = c.status(3)
        assert doc["leader_id"] == 1 and sorted(doc["observers"]) == [2, 3]
        create_topic(c.bootstrap(3), "split", 2)
        assert sorted(leaders(c.bootstrap(2), "split").values()) == [2, 3]
        assert len(produce_consume(c.bootstrap(2), c.bootstrap(3), "split", 10)) == 10
        twin = Logd(tmp_path, "--node-id", "3", "--roles", "broker", "--quorum", c.quorum,
                    name="twin")
        try:
            twin.start()
            assert twin.proc is not None
            assert twin.proc.wait(15) == 1
            assert "already connected" in twin.log()
        finally:
            twin.kill()
        assert c.nodes[3].running
        assert c.nodes[2].stop(signal.SIGTERM) == 0
    finally:
        c.close()
        print(c.logs())


def test_kafka_python_through_any_broker(cluster: LogdCluster) -> None:
    """An unmodified Kafka client finds each partition's leader through Metadata."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    wait_for("every broker up", lambda: live_brokers(cluster.bootstrap(1)) == {1, 2, 3})
    create_topic(cluster.bootstrap(1), "kp", 3)
    assert sorted(leaders(cluster.bootstrap(1), "kp").values()) == [1, 2, 3]
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap(2), acks="all")
    try:
        for i in range(30):
            producer.send("kp", b"kp-%d" % i, partition=i % 3)
        producer.flush(30)
    finally:
        producer.close(10)
    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap(3),
                             auto_offset_reset="earliest", enable_auto_commit=False)
    got: list[bytes] = []
    try:
        consumer.assign([TopicPartition("kp", p) for p in range(3)])
        deadline = time.monotonic() + 20
        while len(got) < 30 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                got.extend(m.value for m in records)
        got.sort()
    finally:
        consumer.close()
    assert got == sorted(b"kp-%d" % i for i in range(30))
