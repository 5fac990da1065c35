"""log-quorum against a single-node logd (the one-voter quorum): --status and --replication,
text and JSON, and the exit statuses (the cluster cases are in tests/integration and
test_cluster_script)."""

from __future__ import annotations

import orjson
from client_tools_env import broker, run
from logd_harness import Logd

__all__ = ["broker"]


def test_status(broker: Logd) -> None:
    doc = orjson.loads(run(broker, "log-quorum", "describe", "--status", "--json").stdout)
    assert doc["leader_id"] == 1 and doc["voters"] == [1] and doc["observers"] == []
    assert doc["leader_epoch"] >= 1 and doc["high_watermark"] >= 2
    assert doc["max_follower_lag"] == 0 and doc["cluster_id"]
    lines = run(broker, "log-quorum", "describe", "--status").stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag",
        "MaxFollowerLagTimeMs", "CurrentVoters", "CurrentObservers"]
    assert lines[1] == "LeaderId\t1" and lines[0] == f"ClusterId\t{doc['cluster_id']}"


def test_replication(broker: Logd) -> None:
    doc = orjson.loads(run(broker, "log-quorum", "describe", "--replication", "--json").stdout)
    (me,) = doc["replicas"]
    assert me["node_id"] == 1 and me["status"] == "Leader" and me["lag"] == 0
    assert me["log_end_offset"] >= 2 and me["last_fetch_timestamp"] > 0
    lines = run(broker, "log-quorum", "describe", "--replication").stdout.decode().splitlines()
    assert lines[0].split("\t") == ["NODE", "LOG-END-OFFSET", "LAG", "LAST-FETCH-MS-AGO",
                                    "LAST-CAUGHT-UP-MS-AGO", "STATUS"]
    assert lines[1].split("\t")[-1] == "Leader"


def test_usage_and_unreachable(broker: Logd) -> None:
    assert b"exactly one" in run(broker, "log-quorum", "describe", check=2).stderr
    run(broker, "log-quorum", "describe", "--status", "--replication", check=2)
    run(broker, "log-quorum", "-b", "127.0.0.1:1", "describe", "--status", "--timeout", "1",
        check=1)
