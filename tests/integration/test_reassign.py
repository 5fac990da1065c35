"""Replica reassignment and leader elections on a real cluster (3 combined nodes and a fourth
broker), through Kafka's own admin clients: a move under a steady acks=all producer loses no
acknowledged record and the old replica deletes its copy; cancel mid-move restores the
replicas; a move survives a kill -9 of the active controller; preferred and unclean elections
answer as Kafka's do."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cluster_harness import LogdCluster, wait_for
from confluent_kafka import ElectionType, KafkaError, Producer
from confluent_kafka import TopicPartition as CTopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource
from kafka import KafkaAdminClient
from kafka import TopicPartition as KTopicPartition
from kafka.admin import NewTopic
from logd_harness import ROOT
from steady_producer import SteadyProducer
from test_cluster import live_brokers
from test_replication import consume_all


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("reassign"), 3, 1, combined=True, env={
        "TIDELOG_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
        "TIDELOG_REPLICA_LAG_TIME_MAX_MS": "1500",
        # leadership stays where the tests put it (a rebalance would do the elections' job)
        "TIDELOG_AUTO_LEADER_REBALANCE_ENABLE": "false",
    }).start()
    try:
        wait_for("four brokers", lambda: live_brokers(c.bootstrap(1)) == {1, 2, 3, 4}, 60)
        yield c
    finally:
        c.close()
        print(c.logs())


def bootstrap(cluster: LogdCluster) -> str:
    return ",".join(n.bootstrap for n in cluster.running())


def admin(cluster: LogdCluster) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap(cluster))


def create(cluster: LogdCluster, topic: str, rf: int, brokers: frozenset[int] = frozenset(
        {1, 2, 3, 4})) -> list[int]:
    """Create ``topic`` (one partition) once exactly ``brokers`` are live (its replicas go
    there); its replicas once in sync. Every node must list exactly those: kafka-python's
    admin client sends to any broker a Metadata answer lists and gives up on one that
    refuses (a just-fenced broker stays listed a moment: tidelog.broker.liveness)."""
    wait_for(f"live brokers {sorted(brokers)}",
             lambda: all(live_brokers(n.bootstrap) == brokers for n in cluster.running()), 60)
    a = admin(cluster)
    try:
        a.create_topics([NewTopic(topic, 1, rf)])
    finally:
        a.close()
    return wait_for(f"{topic} in sync", lambda: (lambda r, i: r if sorted(i) == sorted(r)
                                                  else None)(*assignment(cluster, topic)[1:]))


def assignment(cluster: LogdCluster, topic: str) -> tuple[int, list[int], list[int]]:
    """(leader, replicas in order, isr) of partition 0 as Metadata answers it."""
    md = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(topic, timeout=10)
    p = md.topics[topic].partitions[0]
    return p.leader, list(p.replicas), list(p.isrs)


def reassign(cluster: LogdCluster, topic: str, replicas: list[int] | None) -> None:
    a = admin(cluster)
    try:
        result = a.alter_partition_reassignments({KTopicPartition(topic, 0): replicas})
    finally:
        a.close()
    assert result == {KTopicPartition(topic, 0): None}


def moving(cluster: LogdCluster) -> dict[KTopicPartition, dict[str, list[int]]]:
    a = admin(cluster)
    try:
        return dict(a.list_partition_reassignments())
    finally:
        a.close()


def finished(cluster: LogdCluster, topic: str, target: list[int]) -> bool:
    return not moving(cluster) and assignment(cluster, topic)[1] == target


def test_a_move_under_acks_all_load_loses_nothing(cluster: LogdCluster) -> None:
    old = create(cluster, "moving", 3)
    # replace the preferred replica (the leader) by the broker that has none: the data moves
    # to broker 4 and leadership has to hand over when the move completes
    target = [b for b in (1, 2, 3, 4) if b not in old] + old[1:]
    with SteadyProducer(bootstrap(cluster), "moving") as producer:
        acked = producer.acked
        wait_for("records acknowledged before the move", lambda: len(acked) > 2000, 60)
        reassign(cluster, "moving", target)
        wait_for("the move done", lambda: finished(cluster, "moving", target), 90)
        count = len(acked)
        wait_for("records acknowledged after the move", lambda: len(acked) > count + 1000, 60)
    errors = producer.errors
    assert not errors, errors[:3]
    leader, replicas, isr = assignment(cluster, "moving")
    assert replicas == target and sorted(isr) == sorted(target) and leader in target
    got = consume_all(cluster, "moving", len(acked))
    assert sorted(acked) == list(range(len(acked)))
    assert got[:len(acked)] == list(range(len(acked))), "every acknowledged record once, in order"
    gone = old[0]
    wait_for(f"broker {gone}'s copy deleted",
             lambda: not (cluster.nodes[gone].data_dir / "moving-0").exists(), 30)


def test_cancel_mid_move_restores_the_replicas(cluster: LogdCluster) -> None:
    # the new replica's broker (4, no controller) is down: the move cannot finish until it
    # is cancelled
    cluster.nodes[4].kill()
    extra = 4
    try:
        old = create(cluster, "cancelled", 2, frozenset({1, 2, 3}))
        reassign(cluster, "cancelled", [extra, old[0]])
        ongoing = moving(cluster)[KTopicPartition("cancelled", 0)]
        assert ongoing == {"replicas": [extra, old[0], old[1]], "adding_replicas": [extra],
                           "removing_replicas": [old[1]]}
        reassign(cluster, "cancelled", None)
        assert KTopicPartition("cancelled", 0) not in moving(cluster)
        assert assignment(cluster, "cancelled")[1] == old
        a = admin(cluster)
        try:  # nothing left to cancel: Kafka's error, per partition
            result = a.alter_partition_reassignments({KTopicPartition("cancelled", 0): None})
        finally:
            a.close()
        assert result[KTopicPartition("cancelled", 0)].__name__ == \
            "NoReassignmentInProgressError"
    finally:
        cluster.nodes[4].start()


def test_a_move_survives_a_controller_kill(cluster: LogdCluster) -> None:
    cluster.nodes[4].kill()
    try:
        old = create(cluster, "failover", 2, frozenset({1, 2, 3}))
        controller = cluster.leader(via=1)
        keep = next(b for b in old if b != controller)
        target = [4, keep]
        reassign(cluster, "failover", target)
        assert KTopicPartition("failover", 0) in moving(cluster)
        cluster.nodes[controller].kill()
        cluster.leader(via=keep, not_=controller, timeout=30)
    finally:
        cluster.nodes[4].start()
    try:
        wait_for("the move done under the new controller",
                 lambda: finished(cluster, "failover", target), 90)
    finally:
        cluster.nodes[controller].start()


def test_preferred_and_unclean_elections(cluster: LogdCluster) -> None:
    old = create(cluster, "elect", 3)
    leader = assignment(cluster, "elect")[0]
    assert leader == old[0]
    # a reorder of in-sync replicas completes at once and keeps the leader: now it is not the
    # preferred replica any more
    reordered = [old[1], old[0], old[2]]
    reassign(cluster, "elect", reordered)
    wait_for("the reorder", lambda: assignment(cluster, "elect")[:2] == (leader, reordered))
    c = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    tp = CTopicPartition("elect", 0)
    assert c.elect_leaders(ElectionType.PREFERRED, [tp]).result(30) == {tp: None}
    assert assignment(cluster, "elect")[0] == old[1]
    again = c.elect_leaders(ElectionType.PREFERRED, [tp]).result(30)
    assert again[tp] is not None and again[tp].code() == KafkaError.ELECTION_NOT_NEEDED
    a = admin(cluster)
    try:  # unclean, with a live leader: nothing to do
        response = a.elect_leaders(1, {"elect": [0]})
    finally:
        a.close()
    codes = [p.error_code for r in response.replica_election_results
             for p in r.partition_result]
    assert codes == [84]  # ELECTION_NOT_NEEDED


def log_reassign(cluster: LogdCluster, *args: str, stdin: bytes = b"",
                 check: int | None = 0) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [sys.executable, "-m", "tidelog.tools.log_reassign", "-b", bootstrap(cluster), *args],
        input=stdin, capture_output=True, cwd=ROOT, timeout=60, check=False)
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stderr.decode())
    return result


def test_log_reassign_verify_and_watch_follow_the_controller(cluster: LogdCluster) -> None:
    cluster.nodes[4].kill()
    try:
        old = create(cluster, "watched", 2, frozenset({1, 2, 3}))
        producer = Producer({"bootstrap.servers": bootstrap(cluster)})
        for _ in range(2000):
            producer.produce("watched", b"x" * 200)
        assert producer.flush(60) == 0
        # a plan as Kafka's tool writes it, through a pipe; broker 4 is down, so it waits
        plan = json.dumps({"version": 1, "partitions": [
            {"topic": "watched", "partition": 0, "replicas": [4, old[0]],
             "log_dirs": ["any", "any"]}]}).encode()
        rollback = json.loads(log_reassign(cluster, "execute", "-", "--throttle", "200KB",
                                           stdin=plan).stdout)
        assert rollback["partitions"][0]["replicas"] == old
        assert throttles(cluster, "watched", old[0]) == (
            ",".join(f"0:{b}" for b in old), "0:4", "200000")
        doc = json.loads(log_reassign(cluster, "verify", "-", "--json", stdin=plan,
                                      check=11).stdout)
        assert doc["done"] is False and doc["partitions"][0]["state"] == "moving"
        watch = subprocess.Popen(
            [sys.executable, "-m", "tidelog.tools.log_reassign", "-b", bootstrap(cluster),
             "watch", "--json", "--interval", "0.2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    finally:
        cluster.nodes[4].start()
    out, err = watch.communicate(timeout=120)
    assert watch.returncode == 0, err.decode()
    reports = [json.loads(line) for line in out.decode().splitlines()]
    assert reports[-1]["done"] is True and reports[-1]["percent"] == 100.0
    assert reports[-1]["bytes_moved"] == reports[-1]["bytes_total"] > 400_000
    assert all(r["percent"] < 100 and not r["done"] for r in reports[:-1])
    # watch ended when the controller said so: the move is done there
    assert not moving(cluster) and assignment(cluster, "watched")[1] == [4, old[0]]
    log_reassign(cluster, "verify", "-", stdin=plan)
    # the throttles went with the move
    assert throttles(cluster, "watched", old[0]) == (None, None, None)


def throttles(cluster: LogdCluster, topic: str, broker: int
              ) -> tuple[str | None, str | None, str | None]:
    """(leader list, follower list) of ``topic`` and ``broker``'s leader rate."""
    c = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    t = ConfigResource(ConfigResource.Type.TOPIC, topic)
    b = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    found = c.describe_configs([t, b])
    topic_configs, broker_configs = found[t].result(30), found[b].result(30)
    values = [topic_configs.get("leader.replication.throttled.replicas"),
              topic_configs.get("follower.replication.throttled.replicas"),
              broker_configs.get("leader.replication.throttled.rate")]
    leader, follower, rate = (None if v is None else v.value for v in values)
    return leader, follower, rate
