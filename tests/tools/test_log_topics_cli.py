"""log-topics as a program against a real logd: the create contract, list, describe
(tab-separated and JSON), alter, delete, the --if-* flags and the exit statuses."""

from __future__ import annotations

import orjson
from client_tools_env import broker, run
from logd_harness import Logd

__all__ = ["broker"]


def test_create_list_describe_alter_delete(broker: Logd) -> None:
    run(broker, "log-topics", "-b", broker.bootstrap, "create", "orders", "--partitions", "3",
        "--config", "retention.ms=3600000")
    assert b"orders" in run(broker, "log-topics", "list").stdout.splitlines()
    result = run(broker, "log-topics", "create", "orders", "--partitions", "3", check=6)
    assert b"already exists" in result.stderr
    again = run(broker, "log-topics", "create", "orders", "--if-not-exists", "--json")
    assert orjson.loads(again.stdout) == {"topic": "orders", "action": "create",
                                          "changed": False}
    run(broker, "log-produce", "-t", "orders", "-p", "2", stdin=b"x\ny\n")
    lines = run(broker, "log-topics", "describe", "orders").stdout.decode().splitlines()
    assert lines[0].split("\t") == ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR",
                                    "OFFLINE", "LOG-START", "HIGH-WATERMARK"]
    assert lines[1:] == ["orders\t0\t1\t1\t1\t-\t0\t0", "orders\t1\t1\t1\t1\t-\t0\t0",
                         "orders\t2\t1\t1\t1\t-\t0\t2"]
    # one healthy broker: nothing under-replicated or unavailable, so nothing printed
    for flag in ("--under-replicated", "--unavailable-partitions"):
        assert run(broker, "log-topics", "describe", "orders", flag).stdout == b""
    configs = run(broker, "log-topics", "describe", "orders", "--configs").stdout.decode()
    assert "orders\tretention.ms\t3600000" in configs.splitlines()
    run(broker, "log-topics", "alter", "orders", "--partitions", "4", "--config",
        "retention.ms=60000")
    doc = orjson.loads(run(broker, "log-topics", "describe", "orders", "--json").stdout)
    assert [p["partition"] for p in doc["partitions"]] == [0, 1, 2, 3]
    assert doc["partitions"][2]["high_watermark"] == 2
    assert doc["configs"]["retention.ms"] == "60000"
    run(broker, "log-topics", "alter", "orders", "--delete-config", "retention.ms")
    listing = [orjson.loads(line) for line in
               run(broker, "log-topics", "list", "--json").stdout.splitlines()]
    assert {"topic": "orders", "partitions": 4} in listing
    deleted = run(broker, "log-topics", "delete", "orders")
    assert deleted.stdout == b"" and b"deleted topic orders" in deleted.stderr
    assert b"does not exist" in run(broker, "log-topics", "delete", "orders", check=5).stderr
    gone = run(broker, "log-topics", "delete", "orders", "--if-exists", "--json")
    assert orjson.loads(gone.stdout)["changed"] is False


def test_usage_errors(broker: Logd) -> None:
    assert b"alter needs" in run(broker, "log-topics", "alter", "x", check=2).stderr
    assert b"needs at least one TOPIC" in run(broker, "log-topics", "create", check=2).stderr
    run(broker, "log-topics", "explode", check=2)
    run(broker, "log-topics", "create", "t", "--config", "novalue", check=2)
    assert b"filter the partitions" in run(broker, "log-topics", "list",
                                           "--under-replicated", check=2).stderr
    run(broker, "log-topics", "describe", "--unavailable", "--configs", check=2)


def test_describe_cleaner_view(broker: Logd) -> None:
    run(broker, "log-topics", "create", "table", "--partitions", "2", "--config",
        "cleanup.policy=compact")
    run(broker, "log-produce", "-t", "table", "-p", "0", "-K", ":", stdin=b"a:1\na:2\n")
    lines = run(broker, "log-topics", "describe", "table", "--cleaner").stdout.decode()
    rows = [line.split("\t") for line in lines.splitlines()]
    assert rows[0] == ["TOPIC", "PARTITION", "SIZE", "COMPACTED", "DIRTY-RATIO", "FIRST-DIRTY",
                       "LAST-CLEANED", "ERROR"]
    # Partition 0: one active segment, nothing cleanable yet; partition 1 is empty.
    assert rows[1][:2] == ["table", "0"] and int(rows[1][2]) > 0
    assert rows[1][3:] == ["yes", "0.000", "0", "-", ""]
    assert rows[2] == ["table", "1", "0", "yes", "0.000", "0", "-", ""]
    doc = orjson.loads(run(broker, "log-topics", "describe", "table", "--cleaner",
                           "--json").stdout)
    view = doc["partitions"][0]["cleaner"]
    assert view["compacted"] is True and view["dirty_ratio"] == 0.0
    assert view["first_dirty_offset"] == 0 and view["last_cleaned_ms"] is None
    assert doc["partitions"][1]["cleaner"]["size"] == 0
    plain = orjson.loads(run(broker, "log-topics", "describe", "table", "--json").stdout)
    assert plain["partitions"][0]["cleaner"] is None


def test_describing_a_wide_topic_creates_no_logs(broker: Logd) -> None:
    """log-topics describe (and kcat -Q, both ListOffsets) of partitions never written answer
    offset 0 without creating their logs: creating a log per partition (directory, index
    preallocation, fsync) made describing a 5,000-partition topic take 41 s
    (scripts/bench/describe_topics.py measures it against kcat -L)."""
    import subprocess

    run(broker, "log-topics", "create", "wide", "--partitions", "200")
    run(broker, "log-produce", "-t", "wide", "-p", "7", stdin=b"one\n")
    lines = run(broker, "log-topics", "describe", "wide").stdout.decode().splitlines()[1:]
    assert len(lines) == 200
    assert lines[7] == "wide\t7\t1\t1\t1\t-\t0\t1" and lines[8] == "wide\t8\t1\t1\t1\t-\t0\t0"
    query = subprocess.run(["kcat", "-b", broker.bootstrap, "-Q", "-t", "wide:9:-1"],
                           capture_output=True, text=True, timeout=60, check=True)
    assert "offset 0" in query.stdout
    logs = sorted(p.name for p in broker.data_dir.glob("wide-*"))
    assert logs == ["wide-7"]
