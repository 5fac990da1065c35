"""How fast a cluster notices a killed process (3 real combined nodes).

With a long heartbeat interval (so neither the session timeout nor the two-interval grace of a
closed connection could explain it), a broker killed with SIGKILL is fenced because its quorum
connection closed *and* its client listener refuses connections; a killed active controller's
followers elect a successor, which fences the old controller the same way. The reasons are
read from the controller's log, so the test does not depend on timing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cluster_harness import LogdCluster, wait_for
from test_cluster import create_topic, leaders, live_brokers

HEARTBEAT_MS = 2000
SESSION_MS = 20000
PROBED = "its connection closed and its client listener refuses connections"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("detection"), 3, 0,
                    "--broker-heartbeat-interval-ms", str(HEARTBEAT_MS),
                    "--broker-session-timeout-ms", str(SESSION_MS)).start()
    try:
        wait_for("three brokers", lambda: live_brokers(c.bootstrap(1)) == {1, 2, 3}, 60)
        yield c
    finally:
        c.close()
        print(c.logs())


def fenced_for(cluster: LogdCluster, broker: int) -> str:
    lines = [line for n in cluster.running() for line in n.log().splitlines()
             if f"fencing broker {broker}:" in line]
    return "\n".join(lines)


def test_killed_broker_is_fenced_by_its_refusing_listener(cluster: LogdCluster) -> None:
    controller = cluster.leader(via=1)
    victim = next(i for i in (1, 2, 3) if i != controller)
    watcher = next(i for i in (1, 2, 3) if i not in (victim,))
    create_topic(cluster.bootstrap(watcher), "detected", 3)
    cluster.nodes[victim].kill()
    wait_for("the killed broker fenced",
             lambda: victim not in live_brokers(cluster.bootstrap(watcher)), 15)
    assert PROBED in fenced_for(cluster, victim), fenced_for(cluster, victim)
    assert victim not in leaders(cluster.bootstrap(watcher), "detected").values()
    cluster.nodes[victim].start()
    wait_for("the broker back", lambda: live_brokers(cluster.bootstrap(watcher)) == {1, 2, 3},
             30)


def test_killed_controller_is_fenced_by_its_successor(cluster: LogdCluster) -> None:
    wait_for("three brokers", lambda: live_brokers(cluster.bootstrap(1)) == {1, 2, 3}, 30)
    old = cluster.leader(via=1)
    watcher = next(i for i in (1, 2, 3) if i != old)
    cluster.nodes[old].kill()
    new = cluster.leader(via=watcher, not_=old, timeout=15)
    wait_for("the old controller fenced",
             lambda: old not in live_brokers(cluster.bootstrap(watcher)), 15)
    assert new != old
    assert PROBED in fenced_for(cluster, old), fenced_for(cluster, old)
