"""Transactions across a 3-node cluster (replication factor 3): the coordinator sends markers
to partition leaders on other brokers (WriteTxnMarkers), and a kill -9 of the coordinator
right after a commit was acknowledged (its markers possibly still in flight) leaves the
transaction committed: the node that takes over ``__transaction_state`` finishes it, and the
transactional id goes on working."""

from __future__ import annotations

import confluent_kafka as ck
from cluster_harness import LogdCluster, wait_for
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient
from test_cluster import live_brokers
from test_failover_compat import bootstrap, cluster, create_topic
from test_transactions_compat import read_values
from tidelog.broker.groups.schema import partition_for

TXN_TOPIC = "__transaction_state"


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
    committed = read_values(servers, "txc-spread", 9, "read_committed", "c1", 3)
    assert committed == sorted(b"c%d" % i for i in range(9))


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
        seen = read_values(others, "txc-kill", 9, "read_committed", "c2", 3)
        assert seen == sorted(b"k%d" % i for i in range(9))
        again = ck.Producer({"bootstrap.servers": others, "transactional.id": tid})
        again.init_transactions(TIMEOUT)  # the new coordinator knows the id
        again.begin_transaction()
        again.produce("txc-kill", b"after", partition=0)
        again.commit_transaction(TIMEOUT)
        assert b"after" in read_values(others, "txc-kill", 10, "read_committed", "c3", 3)
    finally:
        cluster.nodes[coordinator].start()
        wait_for("three brokers again", lambda: live_brokers(
            cluster.nodes[coordinator].bootstrap) == {1, 2, 3}, TIMEOUT)


__all__ = ["cluster"]
