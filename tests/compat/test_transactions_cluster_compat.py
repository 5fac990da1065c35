"""Transactions across a 3-node cluster (replication factor 3): the coordinator sends markers
to partition leaders on other brokers (WriteTxnMarkers), and a kill -9 of the coordinator
right after a commit was acknowledged (its markers possibly still in flight) leaves the
transaction committed: the node that takes over ``__transaction_state`` finishes it, and the
transactional id goes on working."""

from __future__ import annotations

import time
from collections.abc import Iterator

import confluent_kafka as ck
import pytest
from cluster_harness import LogdCluster, wait_for
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient
from test_cluster import live_brokers
from test_failover_compat import bootstrap, create_topic
from tidelog.broker.groups.schema import partition_for

TXN_TOPIC = "__transaction_state"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("txn-cluster"), 3, env={
        "TIDELOG_DEFAULT_REPLICATION_FACTOR": "3",
    }).start()
    try:
        wait_for("three brokers", lambda: live_brokers(c.bootstrap(1)) == {1, 2, 3}, TIMEOUT)
        yield c
    finally:
        c.close()
        print(c.logs())


def _read_committed(servers: str, topic: str, partitions: int, expected: int) -> list[bytes]:
    consumer = ck.Consumer({"bootstrap.servers": servers, "group.id": "check",
                            "isolation.level": "read_committed", "enable.partition.eof": True})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING)
                     for p in range(partitions)])
    values: list[bytes] = []
    eof: set[int] = set()
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == ck.KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                    if len(values) >= expected and len(eof) == partitions:
                        break
                    continue
                if msg.error().retriable():
                    continue
                raise AssertionError(msg.error())
            eof.discard(msg.partition())
            values.append(msg.value())
    finally:
        consumer.close()
    return sorted(values)


def _coordinator(servers: str, tid: str) -> int:
    admin = AdminClient({"bootstrap.servers": servers})
    p = wait_for(f"{TXN_TOPIC} listed", lambda: admin.list_topics(
        TXN_TOPIC, timeout=5).topics[TXN_TOPIC].partitions or None, TIMEOUT)
    return int(p[partition_for(tid, len(p))].leader)


def test_markers_reach_leaders_on_other_brokers(cluster: LogdCluster) -> None:
    servers = bootstrap(cluster)
    create_topic(servers, "txc-spread", 3)  # leaders on all three nodes
    producer = ck.Producer({"bootstrap.servers": servers, "transactional.id": "spread-1"})
    producer.init_transactions(TIMEOUT)
    for tag, commit in ((b"c", True), (b"a", False)):
        producer.begin_transaction()
        for i in range(9):
            producer.produce("txc-spread", tag + b"%d" % i, partition=i % 3)
        producer.flush(TIMEOUT)
        if commit:
            producer.commit_transaction(TIMEOUT)
        else:
            producer.abort_transaction(TIMEOUT)
    assert _read_committed(servers, "txc-spread", 3, 9) == sorted(b"c%d" % i for i in range(9))


def test_a_commit_survives_the_coordinators_kill(cluster: LogdCluster) -> None:
    servers = bootstrap(cluster)
    create_topic(servers, "txc-kill", 3)
    tid = "killed-coordinator-1"
    producer = ck.Producer({"bootstrap.servers": servers, "transactional.id": tid})
    producer.init_transactions(TIMEOUT)
    coordinator = _coordinator(servers, tid)
    producer.begin_transaction()
    for i in range(9):
        producer.produce("txc-kill", b"k%d" % i, partition=i % 3)
    producer.commit_transaction(TIMEOUT)  # answered once PrepareCommit is replicated
    cluster.nodes[coordinator].kill()
    try:
        others = ",".join(n.bootstrap for i, n in cluster.nodes.items() if i != coordinator)
        assert _read_committed(others, "txc-kill", 3, 9) == sorted(b"k%d" % i
                                                                   for i in range(9))
        again = ck.Producer({"bootstrap.servers": others, "transactional.id": tid})
        again.init_transactions(TIMEOUT)  # the new coordinator knows the id
        again.begin_transaction()
        again.produce("txc-kill", b"after", partition=0)
        again.commit_transaction(TIMEOUT)
        assert b"after" in _read_committed(others, "txc-kill", 3, 10)
    finally:
        cluster.nodes[coordinator].start()
        wait_for("three brokers again", lambda: live_brokers(
            cluster.nodes[coordinator].bootstrap) == {1, 2, 3}, TIMEOUT)
