"""Group protocol variants with librdkafka (confluent-kafka) against logd: the cooperative
(incremental) protocol, where members assign and revoke partitions in two rebalances and the
broker only picks the protocol; and static membership, where a member that restarts with its
group.instance.id takes its place back without a rebalance."""

from __future__ import annotations

import signal
from pathlib import Path

from logd_harness import Logd
from test_groups_compat import Member, group_logd, produce, split_among, wait_for

__all__ = ["group_logd"]


def create(bootstrap: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic("gt", 6, 1)])
    admin.close()


def test_cooperative_sticky_members_split_and_consume(tmp_path: Path,
                                                      group_logd: Logd) -> None:
    b = group_logd.bootstrap
    create(b)
    produce(b, 0, 300)
    coop = {"partition.assignment.strategy": "cooperative-sticky"}
    members = [Member(tmp_path, "confluent", b, "gt", "coop", i, coop) for i in range(2)]
    try:
        wait_for("two cooperative members splitting 6 partitions",
                 lambda: split_among(b, "coop", 2))
        wait_for("every record", lambda: set().union(*(m.values() for m in members))
                 >= set(range(300)))
        members.append(Member(tmp_path, "confluent", b, "gt", "coop", 2, coop))
        wait_for("three cooperative members", lambda: split_among(b, "coop", 3))
        produce(b, 300, 300)
        wait_for("records after the join", lambda: set().union(*(m.values() for m in members))
                 >= set(range(600)))
    finally:
        for m in members:
            m.stop()
    assert "protocol cooperative-sticky" in group_logd.log()


def test_static_member_returns_without_a_rebalance(tmp_path: Path, group_logd: Logd) -> None:
    b = group_logd.bootstrap
    create(b)
    produce(b, 0, 120)

    def static(n: int) -> Member:
        return Member(tmp_path, "confluent", b, "gt", "static", n,
                      {"group.instance.id": f"instance-{n}", "session.timeout.ms": 30000})

    members = [static(0), static(1)]
    try:
        wait_for("two static members", lambda: split_among(b, "static", 2))
        wait_for("every record", lambda: set().union(*(m.values() for m in members))
                 >= set(range(120)))
        rebalances = group_logd.log().count("group static: rebalancing")
        members[1].stop(signal.SIGKILL)
        members[1] = static(1)  # the same instance id, a new process and member id
        wait_for("the static member replaced",
                 lambda: "static member instance-1 replaced" in group_logd.log())
        produce(b, 120, 120)
        wait_for("records after the restart",
                 lambda: set().union(*(m.values() for m in members)) >= set(range(240)))
        assert split_among(b, "static", 2)
        assert group_logd.log().count("group static: rebalancing") == rebalances
    finally:
        for m in members:
            m.stop()
