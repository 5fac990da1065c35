#!/usr/bin/env python3
"""Benchmark: from kill -9 of a partition leader to the first acknowledged record after it.

A local cluster with default settings: three combined nodes, or (``--split``) three
controllers and three brokers. Each round creates a topic of three partitions with
replication factor 3 (so each broker leads one), picks the partition whose leader is the
case's victim, and runs a confluent-kafka idempotent producer (``enable.idempotence``,
otherwise the client's defaults: acks=all) writing one record every ``--interval-ms`` to that
partition. Once records are acknowledged, the leader is killed with SIGKILL, and the round's
time is from the kill to the first delivery report of a record acknowledged after it (by the
new leader). The killed node is restarted and the cluster waits until it is back in every ISR
before the next round.

Cases (``--case``, default: both for combined nodes, ``broker`` with ``--split``):

* ``controller``: the partition leader is also the active controller, so the metadata quorum
  elects a new leader before anyone can fence the dead broker;
* ``broker``: the partition leader is not the active controller (with ``--split`` no broker
  is).

For each case it prints the median, minimum and maximum of ``--rounds`` (default 10) and the
median of each phase, from the nodes' own log lines (millisecond timestamps, one machine
clock): new quorum leader, broker fenced, new partition leader in its epoch, first
acknowledgement. Baseline, from the same configuration: the session timeout a fence waits
for without fast fencing (``broker_session_timeout_ms``, the defaults'), since detection by
heartbeat alone could not be faster; ``ratio`` = median / that. Goal: median under 1 s.

Usage: python scripts/bench/replication_failover.py [--rounds 10] [--split]
       [--case controller|broker] [--interval-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import confluent_kafka as ck
from bench_cluster import BenchCluster, Node, wait_for

QUORUM_LEADS = re.compile(r"tidelog\.quorum: metadata quorum: node (\d+) leads epoch (\d+)")
FENCING = re.compile(r"tidelog\.quorum: fencing broker (\d+):")
UNFENCED = re.compile(r"registered and unfenced")


def active_controller(cluster: BenchCluster) -> int:
    from tidelog.client import Cluster
    from tidelog.protocol.apis import ApiKey

    async def ask() -> int:
        hosts = [("127.0.0.1", n.port) for n in cluster.brokers if n.running]
        async with Cluster(hosts) as c:
            conn = await c.any_node()
            reply = await conn.request(ApiKey.DESCRIBE_QUORUM, {"topics": [
                {"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}]})
        return int(reply.topics[0].partitions[0].leader_id)

    return wait_for("an active controller",
                    lambda: (lid := asyncio.run(ask())) >= 0 and lid, 30, 0.05)


def first(nodes: list[Node], pattern: re.Pattern[str], since: float,
          accept: Any = None) -> float | None:
    """The earliest time any of ``nodes`` logged ``pattern`` at or after ``since``."""
    times = [t for n in nodes for t, m in n.lines(pattern, since)
             if accept is None or accept(m)]
    return min(times) if times else None


def one_round(cluster: BenchCluster, topic: str, case: str, interval: float,
              client_debug: str | None = None) -> dict[str, float | None]:
    controller = active_controller(cluster)
    cluster.create_topic(topic, 3, partitions=3)
    leaders = {p: cluster.partition(topic, p)[0] for p in range(3)}
    if case == "controller":
        choice = [p for p, lid in leaders.items() if lid == controller]
    else:
        choice = [p for p, lid in leaders.items() if lid != controller]
    if not choice:
        raise RuntimeError(f"{topic}: no partition led by a {case} victim ({leaders})")
    partition = choice[0]
    victim = cluster.nodes[leaders[partition]]
    acks: list[tuple[float, int]] = []
    failures: list[str] = []

    def delivered(err: ck.KafkaError | None, msg: ck.Message) -> None:
        if err is None:
            acks.append((time.time(), msg.offset() or 0))
        else:
            failures.append(str(err))

    settings: dict[str, Any] = {"bootstrap.servers": cluster.bootstrap(),
                                "enable.idempotence": True, "log_level": 3}
    if client_debug:
        settings.update({"debug": client_debug, "log_level": 7})
    producer = ck.Producer(settings)
    t_kill = 0.0
    deadline = time.monotonic() + 60
    seq = 0
    try:
        while time.monotonic() < deadline:
            producer.produce(topic, b"%d" % seq, partition=partition, on_delivery=delivered)
            seq += 1
            producer.poll(interval)
            if not t_kill and len(acks) >= 20:
                t_kill = victim.kill()
            elif t_kill and acks and acks[-1][0] > t_kill:
                break
        producer.flush(30)
    finally:
        del producer
    if failures:
        raise RuntimeError(f"{topic}: deliveries failed: {failures[:3]}")
    after = [t for t, _ in acks if t > t_kill]
    if not t_kill or not after:
        raise RuntimeError(f"{topic}: no record acknowledged after the kill")
    survivors = [n for n in cluster.nodes.values() if n is not victim]
    tp = re.compile(rf"{re.escape(topic)}-{partition}: leader in epoch (\d+)")
    phases: dict[str, float | None] = {"total": after[0] - t_kill}
    if victim.id == controller:
        won = first(survivors, QUORUM_LEADS, t_kill, lambda m: int(m.group(1)) != victim.id)
        phases["quorum leader"] = None if won is None else won - t_kill
    fenced = first(survivors, FENCING, t_kill, lambda m: int(m.group(1)) == victim.id)
    phases["fenced"] = None if fenced is None else fenced - t_kill
    led = first(survivors, tp, t_kill)
    phases["new partition leader"] = None if led is None else led - t_kill
    # bring the victim back and wait until it is in sync everywhere again
    restarted = time.time()
    victim.start()
    # the restarted node's own Metadata answers come from its stale image until it has
    # caught up: wait for its own word that it is registered and unfenced
    wait_for(f"node {victim.id} unfenced",
             lambda: next(victim.lines(UNFENCED, restarted), None) is not None, 60, 0.05)
    wait_for(f"{topic}: full ISRs", lambda: all(
        len(cluster.partition(topic, p)[2]) == 3 for p in range(3)), 60, 0.1)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--split", action="store_true",
                        help="three controllers and three brokers, not three combined nodes")
    parser.add_argument("--case", choices=("controller", "broker"))
    parser.add_argument("--interval-ms", type=float, default=5.0,
                        help="time between the producer's records")
    parser.add_argument("--client-debug", metavar="CONTEXTS",
                        help="librdkafka debug contexts for the producer (e.g. metadata,topic)")
    parser.add_argument("--keep", type=Path,
                        help="keep the nodes' data and logs in this (new) directory")
    args = parser.parse_args()
    cases = [args.case] if args.case else (["broker"] if args.split else
                                           ["controller", "broker"])
    if args.split and "controller" in cases:
        parser.error("with --split no broker is a controller")
    from tidelog.broker.config import BrokerConfig

    session_ms = BrokerConfig().broker_session_timeout_ms
    results: dict[str, list[dict[str, float | None]]] = {c: [] for c in cases}
    with tempfile.TemporaryDirectory(prefix="repl-failover-") as tmp:
        base = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True)
            base = args.keep
        cluster = BenchCluster(base, split=args.split)
        try:
            cluster.start()
            for r in range(args.rounds):
                for case in cases:
                    phases = one_round(cluster, f"failover-{case}-{r}", case,
                                       args.interval_ms / 1000, args.client_debug)
                    results[case].append(phases)
                    detail = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in phases.items()
                                       if v is not None)
                    print(f"  round {r + 1} ({case}): {detail}", file=sys.stderr)
        finally:
            cluster.close()
    layout = "3 controllers + 3 brokers" if args.split else "3 combined nodes"
    print(f"failover after kill -9 of a partition leader ({layout}, defaults, "
          f"load average {os.getloadavg()[0]:.1f}):")
    for case, rounds in results.items():
        totals = [p["total"] for p in rounds if p["total"] is not None]
        median = statistics.median(totals)
        what = "also the active controller" if case == "controller" else \
            "not the active controller"
        print(f"  leader {what}: median {median * 1000:.0f} ms (min {min(totals) * 1000:.0f}, "
              f"max {max(totals) * 1000:.0f}, {len(totals)} rounds); baseline: session "
              f"timeout {session_ms} ms; ratio {median * 1000 / session_ms:.2f}; goal < 1000 ms")
        for phase in ("quorum leader", "fenced", "new partition leader"):
            seen = [v for p in rounds if (v := p.get(phase)) is not None]
            if seen:
                print(f"    {phase}: median {statistics.median(seen) * 1000:.0f} ms "
                      f"after the kill")
    return 0


if __name__ == "__main__":
    sys.exit(main())
