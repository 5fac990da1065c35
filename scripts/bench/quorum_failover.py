#!/usr/bin/env python3
"""Benchmark: failover time of the metadata quorum, and metadata commits per second.

A 3-node cluster (combined broker + controller nodes on 127.0.0.1, 127.0.0.2, 127.0.0.3).

1. Failover, ``--rounds`` times (default 10): kill -9 the active controller and take the time
   from the kill to the new leader's own log line ``metadata quorum: node N leads epoch E``
   (stderr timestamps, millisecond resolution); restart the killed node and wait until it
   follows again. Prints the median and the spread. Baseline, from the same configuration:
   the shortest election timeout Raft allows (``election_ticks`` x tick): a follower waits at
   least that long after it last heard from the leader before it may campaign, so ``ratio``
   says how the failover compares with bare detection (it can dip below 1.0: the leader was
   last heard a little before the kill).
2. Commit rate: ``--clients`` admin clients create ``--topics`` topics each, concurrently
   through different nodes (each topic is one TopicRecord + one PartitionRecord, committed
   by the quorum before its CreateTopics answer); records per second = the growth of the
   quorum's high watermark over the elapsed time. Baseline: fdatasyncs per second of a plain
   file in the same directory, since every commit waits for at least two of them (leader
   and one follower, in turn).

Usage: python scripts/bench/quorum_failover.py [--rounds 10] [--clients 4] [--topics 50]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "lib"), str(ROOT)]

from tidelog.broker.quorum.metadata_quorum import TICK_S  # noqa: E402
from tidelog.client import Admin, Cluster  # noqa: E402
from tidelog.protocol.apis import ApiKey  # noqa: E402
from tidelog.raft.config import RaftConfig  # noqa: E402

LEADS = re.compile(
    r"^(\S+ \S+) INFO tidelog\.quorum: metadata quorum: node (\d+) leads epoch (\d+)", re.M)
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(self, base: Path, node_id: int, quorum: str) -> None:
        self.id = node_id
        self.log = base / f"node{node_id}.log"
        self.args = [sys.executable, "-m", "tidelog.tools.logd", "--node-id", str(node_id),
                     "--quorum", quorum, "--data-dir", str(base / f"node{node_id}"),
                     "--listen", "127.0.0.1:0", "--log-level", "info"]
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        args = list(self.args)
        if self.port:
            args[args.index("127.0.0.1:0")] = f"127.0.0.1:{self.port}"
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = LISTENING.search(self.log.read_bytes()[offset:].decode("utf-8", "replace"))
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.02)
        raise RuntimeError(f"node {self.id} did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def leads(self) -> list[tuple[float, int, int]]:
        """(unix time, leader, epoch) of every leader line this node logged."""
        out = []
        for m in LEADS.finditer(self.log.read_text("utf-8", "replace")):
            when = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((when, int(m.group(2)), int(m.group(3))))
        return out


async def describe(port: int) -> tuple[int, int]:
    """(leader id, high watermark) as the node on ``port`` reports it."""
    async with Cluster([("127.0.0.1", port)]) as c:
        conn = await c.any_node()
        reply = await conn.request(ApiKey.DESCRIBE_QUORUM, {"topics": [
            {"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}]})
    part = reply.topics[0].partitions[0]
    return int(part.leader_id), int(part.high_watermark)


def wait_leader(nodes: dict[int, Node], exclude: int | None = None, timeout: float = 20) -> int:
    """The leader every live node agrees on (other than ``exclude``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = set()
        for n in nodes.values():
            if n.id == exclude or n.proc is None or n.proc.poll() is not None:
                continue
            try:
                seen.add(asyncio.run(describe(n.port))[0])
            except Exception:
                seen.add(-1)
        if len(seen) == 1 and min(seen) >= 0 and exclude not in seen:
            return seen.pop()
        time.sleep(0.05)
    raise RuntimeError("no leader")


def failover(nodes: dict[int, Node], rounds: int) -> list[float]:
    times = []
    for r in range(rounds):
        leader = wait_leader(nodes)
        survivors = [n for i, n in nodes.items() if i != leader]
        seen = {n.id: len(n.leads()) for n in survivors}
        t_kill = time.time()
        nodes[leader].kill()
        new = wait_leader(nodes, exclude=leader)
        # the new leader's own line names the moment it won
        deadline = time.monotonic() + 10
        won = None
        while won is None and time.monotonic() < deadline:
            lines = nodes[new].leads()[seen.get(new, 0):]
            won = next((t for t, lid, _ in lines if lid == new), None)
            time.sleep(0.02)
        if won is None:
            raise RuntimeError("the new leader logged no leader line")
        times.append(won - t_kill)
        print(f"  round {r + 1}: node {leader} killed, node {new} leads after "
              f"{won - t_kill:.3f} s", file=sys.stderr)
        nodes[leader].start()
        wait_leader(nodes)
        time.sleep(0.3)  # let the restarted node catch up before the next kill
    return times


async def commit_rate(nodes: dict[int, Node], clients: int, topics: int) -> tuple[int, float]:
    ports = [n.port for n in nodes.values()]
    _, hw0 = await describe(ports[0])

    async def one(k: int) -> None:
        async with Cluster([("127.0.0.1", ports[k % len(ports)])]) as c:
            admin = Admin(c)
            for i in range(topics):
                await admin.create_topic(f"bench-{k}-{i}", 1)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(clients)))
    elapsed = time.perf_counter() - t0
    _, hw1 = await describe(ports[0])
    return hw1 - hw0, elapsed


def fsync_rate(directory: Path, n: int = 200) -> float:
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 100)
            os.fdatasync(fd)
        return n / (time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--topics", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quorum-bench-") as tmp:
        base = Path(tmp)
        hosts = {i: f"127.0.0.{i}" for i in (1, 2, 3)}
        quorum = ",".join(f"{i}@{h}:{free_port(h)}" for i, h in hosts.items())
        nodes = {i: Node(base, i, quorum) for i in hosts}
        try:
            for n in nodes.values():
                n.start()
            wait_leader(nodes)
            times = failover(nodes, args.rounds)
            records, elapsed = asyncio.run(commit_rate(nodes, args.clients, args.topics))
            syncs = fsync_rate(base)
        finally:
            for n in nodes.values():
                n.stop()
    floor = RaftConfig(1, (1,)).election_ticks * TICK_S
    median = statistics.median(times)
    print(f"failover after kill -9 of the active controller: median {median * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {len(times)} rounds); "
          f"baseline: minimum election timeout {floor * 1000:.0f} ms; "
          f"ratio {median / floor:.2f}")
    rate = records / elapsed
    print(f"metadata records committed: {records} in {elapsed:.2f} s = {rate:.0f} records/s "
          f"({args.clients} clients x {args.topics} topics); baseline: {syncs:.0f} fdatasyncs/s "
          f"of a plain file; ratio {rate / syncs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
