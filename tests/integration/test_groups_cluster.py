"""Consumer groups on a 3-node cluster: every broker names the same coordinator for a group
(the leader of its __consumer_offsets partition), the others answer NOT_COORDINATOR, and
kafka-python consumers bootstrapped from different brokers share a topic and commit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from cluster_harness import LogdCluster
from kafka_wire import WireClient
from tidelog.broker.groups.schema import partition_for
from tidelog.protocol import ApiKey
from tidelog.protocol.errors import ErrorCode


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("gcluster"), 3).start()
    try:
        yield c
    finally:
        c.close()
        print(c.logs())


def coordinator_from(bootstrap: str, group: str) -> int:
    deadline = time.monotonic() + 20
    while True:
        with WireClient(bootstrap) as c:
            res = c.request(ApiKey.FIND_COORDINATOR, 3, {"key": group, "key_type": 0})
        if res.error_code == 0 or time.monotonic() > deadline:
            assert res.error_code == 0, res
            return int(res.node_id)
        time.sleep(0.2)


def test_one_coordinator_per_group_and_a_group_across_brokers(cluster: LogdCluster) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    b1, b2, b3 = (cluster.bootstrap(i) for i in (1, 2, 3))
    deadline = time.monotonic() + 30
    while True:  # every broker registered and unfenced
        with WireClient(b1) as c:
            brokers = c.request(ApiKey.METADATA, 1, {"topics": []}).brokers
        if len(brokers) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    groups = [f"cg-{i}" for i in range(6)]
    for group in groups:
        nodes = {coordinator_from(b, group) for b in (b1, b2, b3)}
        assert len(nodes) == 1, (group, nodes)
    with WireClient(b1) as c:
        meta = c.request(ApiKey.METADATA, 1, {"topics": [{"name": "__consumer_offsets"}]})
    leaders = {p.partition_index: p.leader_id for p in meta.topics[0].partitions}
    for group in groups:
        assert coordinator_from(b2, group) == leaders[partition_for(group, len(leaders))]
    # A group request at a broker that does not coordinate the group is redirected.
    group = groups[0]
    other = next(i for i in (1, 2, 3) if i != coordinator_from(b1, group))
    with WireClient(cluster.bootstrap(other)) as c:
        res = c.request(ApiKey.HEARTBEAT, 3, {"group_id": group, "generation_id": 1,
                                              "member_id": "m"})
    assert res.error_code == ErrorCode.NOT_COORDINATOR

    admin = KafkaAdminClient(bootstrap_servers=b1)
    admin.create_topics([NewTopic("cgt", 3, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=b2, acks="all")
    for i in range(60):
        producer.send("cgt", str(i).encode(), partition=i % 3)
    producer.flush(30)
    producer.close(10)
    consumers = [KafkaConsumer("cgt", bootstrap_servers=b, group_id=group,
                               auto_offset_reset="earliest", enable_auto_commit=False,
                               session_timeout_ms=6000, heartbeat_interval_ms=500)
                 for b in (b2, b3)]
    got: set[int] = set()
    deadline = time.monotonic() + 60

    def consume(c: KafkaConsumer) -> None:
        # One thread per member: a member blocked in a rebalance's JoinGroup (held until
        # every member rejoins) must not keep the other from polling and rejoining.
        while len(got) < 60 and time.monotonic() < deadline:
            batches = c.poll(timeout_ms=100)
            for records in batches.values():
                got.update(int(m.value) for m in records)
            if batches:
                c.commit()

    threads = [threading.Thread(target=consume, args=(c,)) for c in consumers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
    finally:
        for c in consumers:
            c.close()
    assert got == set(range(60))

    from tidelog.client import Cluster
    from tidelog.client.group_admin import GroupAdmin

    async def committed() -> dict[tuple[str, int], int]:
        async with Cluster([("127.0.0.1", int(b3.rsplit(":", 1)[1]))]) as client:
            return await GroupAdmin(client).committed(group)

    assert asyncio.run(committed()) == {("cgt", p): 20 for p in range(3)}
