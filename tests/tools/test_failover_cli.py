"""The programs through failures of a real 3-node cluster (replication factor 3): log-produce
--idempotent fed numbered lines through a pipe while the leader is killed with kill -9 writes
each exactly once and in order; log-consume following a topic rides a leader kill, a
controlled shutdown and a restart, and waits out a single broker's restart, printing every
record once; log-topics describe shows offline replicas, its filters pick the under-replicated
and unavailable partitions, and a partition without a leader is a row, not a failure; a
consumer fetching above a new leader's high watermark is not sent back (OFFSET_OUT_OF_RANGE).
With a broker down, unkeyed log-produce writes around its partition and log-consume starts
and reads the rest, then that partition once it is back. log-consume -g (a group member)
misses nothing through a leader kill. A record acknowledged before a kill -9 is readable once
its broker is back."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
from client_tools_env import PYCACHE, tool
from cluster_harness import LogdCluster, wait_for
from kafka_wire import WireClient, batch, fetch_body, produce_body
from logd_harness import Logd
from tidelog.protocol import ApiKey
from tidelog.protocol.errors import ErrorCode

TIMEOUT = 120


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogdCluster]:
    c = LogdCluster(tmp_path_factory.mktemp("failover-cli"), 3, env={
        "TIDELOG_DEFAULT_REPLICATION_FACTOR": "3",
        "TIDELOG_REPLICA_LAG_TIME_MAX_MS": "1500",
    }).start()
    try:
        wait_for("three brokers", lambda: _live(c) == {1, 2, 3}, 30)
        yield c
    finally:
        c.close()
        print(c.logs())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TIDELOG_BOOTSTRAP", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def bootstrap(c: LogdCluster) -> str:
    return ",".join(n.bootstrap for n in c.nodes.values())


def run(c: LogdCluster | Logd, prog: str, *args: str, stdin: bytes = b"",
        check: int | None = 0) -> subprocess.CompletedProcess[bytes]:
    servers = c.bootstrap if isinstance(c, Logd) else bootstrap(c)
    result = subprocess.run([tool(prog), "-b", servers, *args], input=stdin,
                            capture_output=True, timeout=TIMEOUT, env=_env(), check=False)
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stderr.decode())
    return result


def describe(c: LogdCluster, *topics: str, flags: tuple[str, ...] = ()
             ) -> dict[str, list[dict[str, Any]]]:
    """topic -> partitions, from ``log-topics describe --json``."""
    out = run(c, "log-topics", "describe", *topics, "--json", "--timeout", "5", *flags)
    docs = [orjson.loads(line) for line in out.stdout.splitlines()]
    return {d["topic"]: d["partitions"] for d in docs}


def _live(c: LogdCluster) -> set[int]:
    import asyncio

    from tidelog.client.cluster import Cluster

    async def main() -> set[int]:
        cl = Cluster([("127.0.0.1", n.port) for n in c.running()], connect_timeout=2)
        try:
            await cl.refresh_once()
            return set(cl.brokers)
        finally:
            await cl.close()

    return asyncio.run(main())


def full_isr(c: LogdCluster, topic: str) -> bool:
    parts = describe(c, topic).get(topic, [])
    return bool(parts) and all(sorted(p["isr"]) == [1, 2, 3] and p["leader"] > 0
                               for p in parts)


def leader_of(c: LogdCluster, topic: str, partition: int = 0) -> int:
    return int(describe(c, topic)[topic][partition]["leader"])


def heal(c: LogdCluster) -> None:
    """Every node running and registered again."""
    for node in c.nodes.values():
        if not node.running:
            node.start()
    wait_for("three brokers", lambda: _live(c) == {1, 2, 3}, 60)


def create(c: LogdCluster, topic: str, partitions: int = 1, rf: int = 3) -> None:
    # every broker registered first: on a loaded machine one may be between a restart's
    # fenced registration and its unfencing (INVALID_REPLICATION_FACTOR otherwise)
    wait_for("three brokers", lambda: _live(c) == {1, 2, 3}, 60)

    def created() -> bool:
        # The controller can still count one broker out for a moment after Metadata lists
        # it (INVALID_REPLICATION_FACTOR); an operator's script would retry the same way.
        result = run(c, "log-topics", "create", topic, "--partitions", str(partitions),
                     "--replication-factor", str(rf), "--if-not-exists", check=None)
        return result.returncode == 0

    wait_for(f"topic {topic} created", created, 60)
    if rf == 3:
        wait_for(f"a full ISR of {topic}", lambda: full_isr(c, topic), 30)


def numbers(lo: int, hi: int) -> bytes:
    return b"".join(b"%d\n" % i for i in range(lo, hi))


class Lines:
    """The stdout lines of a running program, read by a thread (bounded waits)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue()
        self.lines: list[bytes] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.queue.put(line.rstrip(b"\n"))
        self.queue.put(None)

    def until(self, count: int, timeout: float = 60) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            try:
                line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        assert len(self.lines) >= count, f"got {len(self.lines)} of {count} lines"
        return self.lines

    def until_distinct(self, count: int, timeout: float = 60) -> list[bytes]:
        """All lines read once ``count`` different ones arrived."""
        deadline = time.monotonic() + timeout
        while len(set(self.lines)) < count:
            try:
                line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        assert len(set(self.lines)) >= count, f"{len(set(self.lines))} of {count} lines"
        return self.lines

    def until_one_with(self, text: bytes, timeout: float = 30) -> bytes:
        """The first line (read from now on) that contains ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {self.lines!r}")


def test_idempotent_log_produce_through_a_leader_kill(cluster: LogdCluster) -> None:
    create(cluster, "numbers")
    total = 60_000
    proc = subprocess.Popen(
        [tool("log-produce"), "-b", bootstrap(cluster), "-t", "numbers", "--idempotent",
         "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_env())
    assert proc.stdin is not None
    try:
        proc.stdin.write(numbers(0, total // 2))
        proc.stdin.flush()
        # Records are flowing (acknowledged by all three) before the leader dies.
        wait_for("records written", lambda: (describe(cluster, "numbers")["numbers"][0]
                                             ["high_watermark"] or 0) > 0, 30)
        leader = leader_of(cluster, "numbers")
        cluster.nodes[leader].kill()
        out, err = proc.communicate(numbers(total // 2, total), timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    report = orjson.loads(out)
    assert report["records"] == total and report["failed"] == 0
    new_leader = leader_of(cluster, "numbers")
    assert new_leader not in (leader, -1)
    got = run(cluster, "log-consume", "-t", "numbers", "-e").stdout.splitlines()
    assert got == [b"%d" % i for i in range(total)], "each line once, in order"
    heal(cluster)


def test_log_consume_follows_through_leader_changes(cluster: LogdCluster) -> None:
    create(cluster, "follow")
    consumer = subprocess.Popen(
        [tool("log-consume"), "-b", bootstrap(cluster), "-t", "follow", "--timeout", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert consumer.stdout is not None
    lines = Lines(consumer.stdout)
    try:
        run(cluster, "log-produce", "-t", "follow", stdin=numbers(0, 100))
        lines.until(100)
        # 1. the leader dies (kill -9): another replica takes over
        first = leader_of(cluster, "follow")
        cluster.nodes[first].kill()
        run(cluster, "log-produce", "-t", "follow", stdin=numbers(100, 200))
        lines.until(200)
        heal(cluster)
        wait_for("a full ISR", lambda: full_isr(cluster, "follow"), 60)
        # 2. the leader stops cleanly (controlled shutdown), then restarts
        second = leader_of(cluster, "follow")
        assert cluster.nodes[second].stop() == 0
        run(cluster, "log-produce", "-t", "follow", stdin=numbers(200, 300))
        lines.until(300)
        heal(cluster)
        run(cluster, "log-produce", "-t", "follow", stdin=numbers(300, 400))
        got = lines.until(400)
        assert consumer.poll() is None, "still following"
    finally:
        consumer.send_signal(signal.SIGINT)
        try:
            _, err = consumer.communicate(timeout=30)
        finally:
            consumer.kill()
    assert consumer.returncode == 130, err.decode()
    assert got == [b"%d" % i for i in range(400)], "every record once, in order"


def test_log_consume_waits_out_a_broker_restart(tmp_path: Path) -> None:
    logd = Logd(tmp_path, "--num-partitions", "1").start()
    consumer = None
    try:
        run(logd, "log-produce", "-t", "restart", stdin=numbers(0, 10))
        consumer = subprocess.Popen(
            [tool("log-consume"), "-b", logd.bootstrap, "-t", "restart", "--timeout", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        assert consumer.stdout is not None and consumer.stderr is not None
        lines = Lines(consumer.stdout)
        errors = Lines(consumer.stderr)
        lines.until(10)
        assert logd.stop() == 0
        errors.until_one_with(b"unreachable")
        # Down for longer than the consumer's --timeout (1 s): following, it keeps waiting.
        with pytest.raises(subprocess.TimeoutExpired):
            consumer.wait(timeout=3)
        logd.start()
        run(logd, "log-produce", "-t", "restart", stdin=numbers(10, 20))
        got = lines.until(20)
        assert got == [b"%d" % i for i in range(20)]
        errors.until_one_with(b"reachable again")
    finally:
        if consumer is not None:
            consumer.send_signal(signal.SIGINT)
            try:
                consumer.wait(timeout=30)
            finally:
                consumer.kill()
        if logd.running:
            logd.stop()
        logd.kill()
    assert consumer.returncode == 130


def test_describe_produce_and_consume_with_a_broker_down(cluster: LogdCluster) -> None:
    create(cluster, "trio", partitions=2)
    create(cluster, "solo", partitions=3, rf=1)
    wait_for("solo led", lambda: all(p["leader"] > 0
                                     for p in describe(cluster, "solo")["solo"]), 30)
    solo = describe(cluster, "solo")["solo"]
    victim = int(solo[0]["leader"])
    on_victim = {p["partition"] for p in solo if p["leader"] == victim}
    assert len(on_victim) < 3, "replicas spread over the brokers"
    run(cluster, "log-produce", "-t", "solo", "-p", "0", stdin=b"before\n")
    cluster.nodes[victim].kill()
    wait_for("the victim offline", lambda: all(
        victim in p["offline_replicas"]
        for p in describe(cluster, "trio")["trio"]), 30)
    wait_for("trio led elsewhere", lambda: all(
        p["leader"] not in (victim, -1) for p in describe(cluster, "trio")["trio"]), 30)

    started = time.monotonic()
    result = run(cluster, "log-topics", "describe", "solo", "trio")
    assert time.monotonic() - started < 20, "a dead leader does not stall describe"
    lines = result.stdout.decode().splitlines()
    assert lines[0].split("\t") == ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR",
                                    "OFFLINE", "LOG-START", "HIGH-WATERMARK"]
    rows = {(r[0], int(r[1])): r for r in (line.split("\t") for line in lines[1:])}
    assert len(rows) == 5
    down = rows[("solo", 0)]
    assert down[2:] == ["none", str(victim), "-", str(victim), "-", "-"]
    assert b"LEADER_NOT_AVAILABLE" in result.stderr
    for p in (0, 1):
        row = rows[("trio", p)]
        assert row[5] == str(victim) and str(victim) not in row[4].split(",")
        assert row[6] == "0" and row[7] == "0"
    for p in (1, 2):
        row = rows[("solo", p)]
        if int(solo[p]["leader"]) != victim:
            assert row[2] == str(solo[p]["leader"]) and row[5] == "-"

    doc = describe(cluster, "solo", "trio")
    dead = doc["solo"][0]
    assert dead["leader"] == -1 and dead["offline_replicas"] == [victim]
    assert dead["error"] == "LEADER_NOT_AVAILABLE" and dead["high_watermark"] is None
    assert all(p["error"] is None and p["high_watermark"] == 0 for p in doc["trio"])

    unavailable = describe(cluster, "solo", "trio", flags=("--unavailable-partitions",))
    assert list(unavailable) == ["solo"]
    assert {p["partition"] for p in unavailable["solo"]} == on_victim
    under = describe(cluster, "solo", "trio", flags=("--under-replicated",))
    assert {p["partition"] for p in under["trio"]} == {0, 1}
    assert {p["partition"] for p in under["solo"]} == on_victim

    # A consumer starts while partition 0 has no leader; unkeyed records go around it.
    consumer = subprocess.Popen(
        [tool("log-consume"), "-b", bootstrap(cluster), "-t", "solo", "--timeout", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert consumer.stdout is not None
    lines = Lines(consumer.stdout)
    try:
        written = [b"u%d" % i for i in range(20)]
        run(cluster, "log-produce", "-t", "solo", "--linger-ms", "0",
            stdin=b"".join(w + b"\n" for w in written))
        assert sorted(lines.until(20)) == sorted(written)
        heal(cluster)
        got = lines.until(21)
    finally:
        consumer.send_signal(signal.SIGINT)
        try:
            consumer.wait(timeout=30)
        finally:
            consumer.kill()
    assert sorted(got) == sorted([*written, b"before"]), "each record once"
    wait_for("a full ISR of trio", lambda: full_isr(cluster, "trio"), 60)
    healthy = run(cluster, "log-topics", "describe", "trio", "--under-replicated-partitions")
    assert healthy.stdout == b"", "nothing under-replicated: nothing printed"


def test_consumer_fetch_above_the_high_watermark_is_empty(cluster: LogdCluster) -> None:
    create(cluster, "above")
    leader = leader_of(cluster, "above")
    followers = [n for n in (1, 2, 3) if n != leader]
    procs = [cluster.nodes[n].proc for n in followers]
    with WireClient(cluster.nodes[leader].bootstrap) as c:
        for proc in procs:
            assert proc is not None
            os.kill(proc.pid, signal.SIGSTOP)
        try:
            # acks=1: the leader's log end moves, its high watermark waits for followers.
            res = c.request(ApiKey.PRODUCE, 8, produce_body("above", batch([b"a", b"b"]),
                                                            acks=1))
            assert res.responses[0].partition_responses[0].error_code == 0
            answer = c.request(ApiKey.FETCH, 11, fetch_body("above", 1)).responses[0]
            part = answer.partitions[0]
        finally:
            for proc in procs:
                assert proc is not None
                os.kill(proc.pid, signal.SIGCONT)
    assert part.high_watermark < 1, "the followers had not fetched yet"
    assert part.error_code == ErrorCode.NONE, ErrorCode(part.error_code).name
    past = None
    with WireClient(cluster.nodes[leader].bootstrap) as c:
        past = c.request(ApiKey.FETCH, 11, fetch_body("above", 99)).responses[0].partitions[0]
    assert past.error_code == ErrorCode.OFFSET_OUT_OF_RANGE
    heal(cluster)


def test_log_consume_group_member_through_a_leader_kill(cluster: LogdCluster) -> None:
    create(cluster, "grouped")
    consumer = subprocess.Popen(
        [tool("log-consume"), "-b", bootstrap(cluster), "-t", "grouped", "-g", "readers",
         "--timeout", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert consumer.stdout is not None
    lines = Lines(consumer.stdout)
    try:
        run(cluster, "log-produce", "-t", "grouped", stdin=numbers(0, 100))
        lines.until(100)
        cluster.nodes[leader_of(cluster, "grouped")].kill()
        run(cluster, "log-produce", "-t", "grouped", stdin=numbers(100, 200))
        # Repeats are allowed (below), so read until 200 distinct lines arrived.
        got = lines.until_distinct(200)
        assert consumer.poll() is None, "still a member"
    finally:
        consumer.send_signal(signal.SIGINT)
        try:
            _, err = consumer.communicate(timeout=30)
        finally:
            consumer.kill()
    assert consumer.returncode == 130, err.decode()
    # At-least-once: a commit lost with the coordinator may repeat records, never skip one.
    assert list(dict.fromkeys(got)) == [b"%d" % i for i in range(200)]
    heal(cluster)


def test_acknowledged_records_are_readable_after_a_crash(cluster: LogdCluster) -> None:
    create(cluster, "crashed", rf=1)
    wait_for("a leader", lambda: leader_of(cluster, "crashed") > 0, 30)
    node = cluster.nodes[leader_of(cluster, "crashed")]
    # A clean stop writes the checkpoints (recovery point and high watermark 0) ...
    assert node.stop() == 0
    heal(cluster)
    wait_for("a leader", lambda: leader_of(cluster, "crashed") > 0, 30)
    run(cluster, "log-produce", "-t", "crashed", stdin=b"acknowledged\n")
    # ... so after kill -9 the record lies above the checkpointed recovery point.
    node.kill()
    heal(cluster)
    wait_for("a leader", lambda: leader_of(cluster, "crashed") > 0, 30)
    wait_for("the record readable", lambda: run(
        cluster, "log-consume", "-t", "crashed", "-e", "--timeout", "5").stdout
        == b"acknowledged\n", 30)
