#!/usr/bin/env python3
"""Benchmark: rebalance time of a consumer group in logd.

For groups of 2, 8 and 32 members (tidelog's GroupMember, one connection each, eager
protocol, range assignor) on a topic with one partition per member: the group forms (this
first rebalance waits for ``--delay-ms``, logd's group_initial_rebalance_delay_ms), then one
more member joins and the time is measured from its JoinGroup to every member consuming again
(each has its new assignment, its committed offsets and one fetch answered). Members learn of
a rebalance from their next heartbeat, so the figure includes up to one heartbeat interval
(``--heartbeat-ms``). The baseline printed next to it is a join into an empty group without
delay, measured in the same run (one member: coordinator round trips only).

Goal: under 1 s plus the configured rebalance delay for 32 members.

Usage: python scripts/bench/group_rebalance.py [--sizes 2,8,32] [--delay-ms 0]
       [--heartbeat-ms MS (default: the client's, 500)]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "lib")]

from tidelog.client import Admin, Cluster, Consumer  # noqa: E402
from tidelog.client.group import GroupConfig, GroupMember  # noqa: E402
from tidelog.client.offsets import OffsetSpec  # noqa: E402


def start_logd(data: Path, delay_ms: int) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ, TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS=str(delay_ms))
    env.pop("TIDELOG_CONFIG", None)
    log = (data.parent / "logd.stderr").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tidelog.tools.logd", "--data-dir", str(data),
                             "--listen", "127.0.0.1:0", "--log-level", "info"], cwd=ROOT,
                            stderr=log, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)",
                      (data.parent / "logd.stderr").read_text())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("logd did not start")


async def consuming(cluster: Cluster, member: GroupMember) -> None:
    """Join (or rejoin), then start consuming: committed offsets and one fetch."""
    assignment = await member.join()
    parts = [(t, p) for t, ps in assignment.items() for p in ps]
    if not parts:
        return
    starts = await member.committed(parts)
    consumer = Consumer(cluster)
    await consumer.assign([(t, p, OffsetSpec("absolute", off) if off >= 0 else
                            OffsetSpec("beginning")) for (t, p), off in starts.items()])
    await consumer.poll(0)


async def measure(port: int, size: int, heartbeat_ms: int) -> float:
    topic = f"bench-{size}"
    config = GroupConfig(heartbeat_interval_ms=heartbeat_ms, session_timeout_ms=10_000)
    clusters = [Cluster([("127.0.0.1", port)]) for _ in range(size)]
    try:
        await Admin(clusters[0]).create_topic(topic, size, 1)
        members = [GroupMember(c, f"g-{size}", [topic], config) for c in clusters]
        await asyncio.gather(*(consuming(c, m) for c, m in zip(clusters, members[:-1],
                                                                  strict=False)))
        start = time.perf_counter()
        joiner = asyncio.ensure_future(consuming(clusters[-1], members[-1]))

        async def rejoin(c: Cluster, m: GroupMember) -> None:
            await m.rebalance_needed.wait()
            await consuming(c, m)

        await asyncio.gather(joiner, *(rejoin(c, m) for c, m in zip(clusters, members[:-1],
                                                                      strict=False)))
        elapsed = time.perf_counter() - start
        for m in members:
            await m.leave()
        return elapsed
    finally:
        for c in clusters:
            await c.close()


async def baseline(port: int) -> float:
    async with Cluster([("127.0.0.1", port)]) as cluster:
        await Admin(cluster).create_topic("bench-base", 1, 1)
        member = GroupMember(cluster, "g-base", ["bench-base"])
        start = time.perf_counter()
        await consuming(cluster, member)
        elapsed = time.perf_counter() - start
        await member.leave()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,8,32")
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--heartbeat-ms", type=int,
                        default=GroupConfig().heartbeat_interval_ms)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_logd(Path(tmp) / "data", args.delay_ms)
        try:
            base = asyncio.run(baseline(port)) if args.delay_ms == 0 else 0.0
            if base:
                print(f"baseline: one member joining an empty group: {base * 1000:.0f} ms")
            else:
                print("baseline: not measured (an empty group waits for --delay-ms)")
            for size in (int(s) for s in args.sizes.split(",")):
                took = asyncio.run(measure(port, size, args.heartbeat_ms))
                goal = 1.0 + args.delay_ms / 1000
                ratio = f", {took / base:.1f}x baseline" if base else ""
                print(f"{size:3d} members: {took * 1000:6.0f} ms from a join to all consuming "
                      f"(heartbeat {args.heartbeat_ms} ms{ratio}; goal < {goal:.1f} s: "
                      f"{'met' if took < goal else 'MISSED'})")
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
