"""Metrics and readiness of a real 3-node cluster: every node becomes ready, exactly one is
the active controller, and a paused follower shows as an under-replicated partition and an
ISR shrink on the leader's metrics and in log-top --once --json, then as an expand once it
is back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cluster_harness import LogdCluster, wait_for
from logd_harness import ROOT
from metrics_scrape import get, metrics_port, scrape, value
from test_cluster import live_brokers
from test_replication import LAG_MS, create, partition, produce

RM = "kafka_server_replicamanager_"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("observability"), 3, env={
                        "TIDELOG_METRICS_LISTEN": "127.0.0.1:0",
                        "TIDELOG_DEFAULT_REPLICATION_FACTOR": "3",
                        "TIDELOG_REPLICA_LAG_TIME_MAX_MS": str(LAG_MS),
                        "TIDELOG_OFFSETS_TOPIC_NUM_PARTITIONS": "5",
                    }).start()
    try:
        wait_for("three brokers", lambda: live_brokers(c.bootstrap(1)) == {1, 2, 3}, 30)
        yield c
    finally:
        c.close()
        print(c.logs())


def metric(cluster: LogdCluster, node: int, name: str) -> float:
    found = value(scrape(metrics_port(cluster.nodes[node])), name)
    assert found is not None, name
    return found


def top_with_urp(cluster: LogdCluster, leader: int) -> dict[str, Any] | None:
    """log-top --once --json through the leader (with every node's metrics) once it shows
    m-urp under-replicated."""
    done = subprocess.run(
        [sys.executable, "-m", "tidelog.tools.log_top", "-b", cluster.bootstrap(leader),
         "-m", ",".join(f"127.0.0.1:{metrics_port(n)}" for n in cluster.nodes.values()),
         "--once", "--json", "--interval", "0.3", "--timeout", "20", "--groups", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    topic = {t["topic"]: t for t in doc["topics"]}.get("m-urp")
    return doc if topic is not None and topic["under_replicated"] == 1 else None


def test_every_node_gets_ready_and_one_is_the_active_controller(cluster: LogdCluster) -> None:
    for i, node in cluster.nodes.items():
        wait_for(f"node {i} ready", lambda node=node: get(metrics_port(node), "/readyz")
                 == (200, "ready\n"), timeout=30)
        # the line (and systemd's READY=1) follows within a readiness check period
        wait_for(f"node {i} logging ready",
                 lambda node=node: "tidelog.broker.metrics: ready\n" in node.log(), timeout=10)
    leader = cluster.leader(1)
    wait_for("one active controller", lambda: [
        metric(cluster, i, "kafka_controller_kafkacontroller_activecontrollercount")
        for i in (1, 2, 3)] == [int(i == leader) for i in (1, 2, 3)], timeout=30)
    assert metric(cluster, leader, "kafka_server_raft_metrics_current_leader") == leader


def test_a_paused_follower_is_under_replicated_on_the_leader(cluster: LogdCluster) -> None:
    create(cluster, "m-urp")
    wait_for("a full ISR", lambda: partition(cluster, "m-urp")[2] == [1, 2, 3])
    produce(cluster, "m-urp", range(5), [])
    leader = partition(cluster, "m-urp")[0]
    quorum_leader = cluster.leader(leader)
    follower = next(i for i in (1, 2, 3) if i not in (leader, quorum_leader))
    # the leader's own image may trail the Metadata answer that showed the full ISR
    wait_for("the leader seeing the full ISR", lambda: metric(
        cluster, leader, RM + "underreplicatedpartitions") == 0, timeout=30)
    shrinks = metric(cluster, leader, RM + "isrshrinks_total")
    expands = metric(cluster, leader, RM + "isrexpands_total")
    proc = cluster.nodes[follower].proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        wait_for("an under-replicated partition on the leader", lambda: metric(
            cluster, leader, RM + "underreplicatedpartitions") >= 1, timeout=60)
        assert metric(cluster, leader, RM + "isrshrinks_total") > shrinks
        doc = wait_for("log-top showing the partition", lambda: top_with_urp(cluster, leader),
                       timeout=60)
        (urp,) = [p for p in doc["under_replicated_partitions"] if p["topic"] == "m-urp"]
        assert (urp["leader"], urp["offline"]) == (leader, False)
        assert follower not in urp["isr"] and urp["replicas"] == [1, 2, 3]
        assert {b["node_id"]: b["ready"] for b in doc["brokers"]}[leader] is True
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    wait_for("the follower back in the ISR", lambda: partition(cluster, "m-urp")[2] == [1, 2, 3],
             timeout=60)
    wait_for("no under-replicated partition", lambda: metric(
        cluster, leader, RM + "underreplicatedpartitions") == 0, timeout=30)
    assert metric(cluster, leader, RM + "isrexpands_total") > expands
