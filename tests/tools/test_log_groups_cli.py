"""log-groups as a program against a real logd: list, describe (offsets and lag, --members,
--state, JSON keys), reset-offsets in every mode (the plan alone changes nothing; --execute
commits it, checked by consuming with the group afterwards), the refusal while the group has
members, lag --max as an alert, delete, and the exit statuses."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from client_tools_env import Logd, run

TOPIC = "rt"
GROUP = "rg"
PER_PARTITION = 10
SPACING_MS = 10_000


@pytest.fixture(scope="module")
def gbroker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Logd, int]]:
    """A broker with TOPIC (2 partitions, 10 records each, 10 s apart in time) and the time
    of the first record."""
    from kafka import KafkaProducer

    logd = Logd(tmp_path_factory.mktemp("logd"),
                env={"TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}).start()
    try:
        run(logd, "log-topics", "create", TOPIC, "--partitions", "2")
        base = int(time.time() * 1000) - 200_000
        producer = KafkaProducer(bootstrap_servers=logd.bootstrap)
        for i in range(PER_PARTITION):
            for p in (0, 1):
                producer.send(TOPIC, f"{p}-{i}".encode(), partition=p,
                              timestamp_ms=base + i * SPACING_MS)
                producer.flush()  # a batch per record: time lookups are per batch in logd
        producer.flush()
        producer.close()
        yield logd, base
        assert logd.stop() == 0, logd.log()
    finally:
        logd.kill()


def groups(logd: Logd, *args: str, check: int | None = 0) -> Any:
    return run(logd, "log-groups", *args, check=check)


def jsonl(logd: Logd, *args: str) -> list[dict[str, Any]]:
    out = groups(logd, *args, "--json").stdout.decode()
    return [json.loads(line) for line in out.splitlines()]


def committed(logd: Logd) -> dict[int, int | None]:
    """The group's committed offsets, read in process (a program run costs half a second;
    the describe output itself is checked in the next test)."""
    from tidelog.client import Cluster
    from tidelog.client.group_admin import GroupAdmin

    async def read() -> dict[int, int | None]:
        async with Cluster([("127.0.0.1", logd.port)]) as cluster:
            found = await GroupAdmin(cluster).committed(GROUP)
        return {p: off for (t, p), off in found.items() if t == TOPIC}

    return asyncio.run(asyncio.wait_for(read(), 30))


def first_offsets_read_by_the_group(logd: Logd) -> dict[int, int]:
    """Consume as a member of the group (tidelog's client, no commit): the offset each
    partition starts at."""
    from tidelog.client import Cluster, Consumer
    from tidelog.client.group import GroupMember
    from tidelog.client.offsets import OffsetSpec

    async def consume() -> dict[int, int]:
        async with Cluster([("127.0.0.1", logd.port)]) as cluster:
            member = GroupMember(cluster, GROUP, [TOPIC])
            try:
                assignment = await member.join()
                parts = [(t, p) for t, ps in assignment.items() for p in ps]
                starts = await member.committed(parts)
                consumer = Consumer(cluster)
                await consumer.assign([(t, p, OffsetSpec("absolute", starts[(t, p)]))
                                       for t, p in parts])
                first: dict[int, int] = {}
                for _ in range(20):
                    for fetched in await consumer.poll(100):
                        if fetched.records:
                            first.setdefault(fetched.partition, fetched.records[0].offset)
                    if len(first) == len(parts):
                        break
                return first
            finally:
                await member.leave()

    return asyncio.run(asyncio.wait_for(consume(), 30))


def reset(logd: Logd, *mode: str, before: dict[int, int | None]) -> dict[int, int | None]:
    """Plan (checked to change nothing), then execute; returns the committed offsets."""
    plan = jsonl(logd, "reset-offsets", GROUP, *mode)
    assert committed(logd) == before  # the plan alone changes nothing
    done = jsonl(logd, "reset-offsets", GROUP, *mode, "--execute")
    assert done == plan
    after = committed(logd)
    assert {r["partition"]: r["new_offset"] for r in plan}.items() <= after.items()
    return after


def test_reset_offsets_in_every_mode(gbroker: tuple[Logd, int]) -> None:
    logd, base = gbroker
    # No such group yet: a dry run of a reset prints the plan and creates nothing.
    res = groups(logd, "reset-offsets", GROUP, "-t", TOPIC, "--to-offset", "3")
    assert res.stdout.decode().splitlines() == [
        "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET", f"{GROUP}\t{TOPIC}\t0\t-\t3",
        f"{GROUP}\t{TOPIC}\t1\t-\t3"]
    assert b"dry run" in res.stderr
    assert groups(logd, "describe", GROUP, check=5).returncode == 5

    t = ("-t", TOPIC)
    now = reset(logd, *t, "--to-offset", "3", before={})
    assert now == {0: 3, 1: 3}
    assert first_offsets_read_by_the_group(logd) == {0: 3, 1: 3}
    now = reset(logd, *t, "--to-earliest", before=now)
    assert now == {0: 0, 1: 0}
    assert first_offsets_read_by_the_group(logd) == {0: 0, 1: 0}
    now = reset(logd, *t, "--to-latest", before=now)
    assert now == {0: PER_PARTITION, 1: PER_PARTITION}
    now = reset(logd, *t, "--shift-by", "-4", before=now)
    assert now == {0: 6, 1: 6}
    assert first_offsets_read_by_the_group(logd) == {0: 6, 1: 6}
    now = reset(logd, *t, "--to-datetime", str(base + 5 * SPACING_MS), before=now)
    assert now == {0: 5, 1: 5}
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + 2 * SPACING_MS) / 1000))
    now = reset(logd, *t, "--to-datetime", iso, before=now)  # whole seconds
    assert set(now.values()) <= {2, 3}
    # A duration that ends between the 5th and the 6th record (5 s either side).
    ago_s = (time.time() * 1000 - (base + 4.5 * SPACING_MS)) / 1000
    now = reset(logd, *t, "--by-duration", f"{ago_s:.0f}s", before=now)
    assert now == {0: 5, 1: 5}
    assert first_offsets_read_by_the_group(logd) == {0: 5, 1: 5}
    # Only some partitions, clamped to the log; without -t: the committed partitions.
    now = reset(logd, "-t", f"{TOPIC}:1", "--to-offset", "99", before=now)
    assert now == {0: 5, 1: PER_PARTITION}
    now = reset(logd, "--shift-by", "-1", before=now)
    assert now == {0: 4, 1: PER_PARTITION - 1}


def test_describe_lag_members_state_and_delete(gbroker: tuple[Logd, int]) -> None:
    from kafka import KafkaConsumer

    logd, _ = gbroker
    groups(logd, "reset-offsets", "lagging", "-t", TOPIC, "--to-offset", "6", "--execute")
    rows = jsonl(logd, "describe", "lagging")
    assert [set(r) for r in rows] == [{"group", "topic", "partition", "current_offset",
                                       "log_end_offset", "lag", "consumer_id", "host",
                                       "client_id"}] * 2
    assert [(r["partition"], r["current_offset"], r["log_end_offset"], r["lag"],
             r["consumer_id"]) for r in rows] == [(0, 6, 10, 4, None), (1, 6, 10, 4, None)]
    table = groups(logd, "describe", "lagging").stdout.decode().splitlines()
    assert table[0].split("\t") == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
                                    "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
                                    "CLIENT-ID"]
    assert table[1].split("\t") == ["lagging", TOPIC, "0", "6", "10", "4", "-", "-", "-"]
    assert groups(logd, "lag", "lagging").stdout == b"8\n"
    assert groups(logd, "lag", "lagging", "--max", "7", check=8).returncode == 8
    groups(logd, "lag", "lagging", "--max", "8")
    assert "lagging" in groups(logd, "list").stdout.decode().split()
    assert {"group": "lagging", "protocol_type": "", "state": "Empty"} in jsonl(logd, "list")

    consumer = KafkaConsumer(TOPIC, bootstrap_servers=logd.bootstrap, group_id="lagging",
                             enable_auto_commit=False, session_timeout_ms=6000,
                             heartbeat_interval_ms=500, client_id="me")
    try:
        deadline = time.monotonic() + 60  # bounded; the join takes seconds on a loaded machine
        while time.monotonic() < deadline and len(consumer.assignment()) < 2:
            consumer.poll(timeout_ms=100)
        assert jsonl(logd, "describe", "lagging", "--state")[0]["state"] == "Stable"
        members = jsonl(logd, "describe", "lagging", "--members")
        assert [(m["client_id"], m["assignment"]) for m in members] == [
            ("me", {TOPIC: [0, 1]})]
        rows = jsonl(logd, "describe", "lagging")
        assert {r["consumer_id"] for r in rows} == {members[0]["consumer_id"]}
        assert {r["host"] for r in rows} == {"/127.0.0.1"}
        # An active group: resets and deletion are refused.
        res = groups(logd, "reset-offsets", "lagging", "--to-earliest", "--execute", check=7)
        assert b"active members" in res.stderr
        groups(logd, "delete", "lagging", check=7)
    finally:
        consumer.close()
    groups(logd, "delete", "lagging")
    assert "lagging" not in groups(logd, "list").stdout.decode().split()
    groups(logd, "delete", "lagging", check=5)
    groups(logd, "lag", "lagging", check=5)


def test_usage_errors(gbroker: tuple[Logd, int]) -> None:
    logd, _ = gbroker
    groups(logd, "describe", check=2)
    groups(logd, "reset-offsets", "g", "--to-earliest", "--to-latest", check=2)
    groups(logd, "reset-offsets", "g", check=2)
    groups(logd, "reset-offsets", "g", "--by-duration", "soon", check=2)
    groups(logd, "describe", "g", "--members", "--state", check=2)


def test_reset_offsets_of_a_missing_topic_creates_nothing(gbroker: tuple[Logd, int]) -> None:
    """reset-offsets -t typo (a dry run, then --execute) answers that the topic does not exist
    and creates it neither way, as kafka-python's admin client confirms (logd auto-creates
    topics for clients that ask)."""
    from kafka import KafkaAdminClient

    logd, _ = gbroker
    for mode in (["--to-earliest"], ["--to-earliest", "--execute"], ["--to-offset", "0"]):
        res = groups(logd, "reset-offsets", "typo-group", "-t", "typo", *mode, check=5)
        assert b"'typo' does not exist" in res.stderr
    groups(logd, "reset-offsets", "typo-group", "-t", f"{TOPIC}:7", "--to-earliest", check=5)
    admin = KafkaAdminClient(bootstrap_servers=logd.bootstrap)
    try:
        assert "typo" not in admin.list_topics()
    finally:
        admin.close()
    assert "typo-group" not in groups(logd, "list").stdout.decode().split()
