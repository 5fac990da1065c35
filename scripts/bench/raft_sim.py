#!/usr/bin/env python3
"""Benchmark: the sans-I/O Raft core (tidelog.raft) in the deterministic simulator.

Two figures:

1. Failover: in the simulator (3 voters, messages delayed 0.1-1.5 ticks, no loss) the leader
   crashes (kill -9); we count the ticks until another voter leads, over ``--seeds`` seeds,
   and print the median next to the election timeout (``election_ticks``; a follower waits a
   random [1, 2) times that before it asks for pre-votes), so the ratio shows the protocol's
   own overhead on top of the timeout it must wait out. The same again for a clean shutdown
   (the leader resigns with EndQuorumEpoch first), which needs no timeout.
2. Throughput: a 3-voter cluster in memory (instant network, MemoryStorage) commits
   proposals of ``--batch`` entries for ``--seconds``; we print entries committed per second
   of wall time, and the same for a single voter measured in the same run as the baseline
   (ratio 3/1 = the cost of replication in the core).

Usage: python scripts/bench/raft_sim.py [--seeds 100] [--seconds 2] [--batch 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "sim"))

from simulation import SimParams, Simulation
from tidelog.raft import (
    MemoryStorage,
    Message,
    PersistentState,
    RaftConfig,
    RaftNode,
    Role,
    persist,
)

ELECTION_TICKS = RaftConfig(1, (1,)).election_ticks


def failover_ticks(seed: int, graceful: bool = False) -> int:
    params = SimParams.without_faults(voters=3, observers=0)
    sim = Simulation(seed, params)
    sim.faults = False
    while True:  # a settled leader that has committed something of its own
        sim.tick()
        lead = sim.leader()
        if lead is not None and lead.raft is not None and lead.raft.high_watermark > 0:
            break
    for _ in range(5):
        sim.tick()
    lead = sim.leader()
    assert lead is not None and lead.raft is not None
    old_epoch = lead.raft.epoch
    if graceful:  # a clean shutdown: resign (EndQuorumEpoch to the voters), then stop
        lead.raft.resign()
        sim.drain(lead)
    sim.crash(lead)
    start = sim.tick_no
    while True:
        sim.tick()
        new = sim.leader()
        if new is not None and new.raft is not None and new.raft.epoch > old_epoch:
            return sim.tick_no - start


class Cluster:
    """Voters in memory with an instant, lossless network."""

    def __init__(self, n: int) -> None:
        voters = tuple(range(1, n + 1))
        self.nodes = {
            i: RaftNode(RaftConfig(i, voters), PersistentState(), random.Random(i)) for i in voters
        }
        self.storage = {i: MemoryStorage() for i in voters}
        self.queue: deque[Message] = deque()
        self.committed = 0

    def pump(self) -> None:
        nodes, queue = self.nodes, self.queue
        busy = True
        while busy:
            busy = False
            for i, node in nodes.items():
                while node.has_ready():
                    busy = True
                    ready = node.ready()
                    persist(self.storage[i], ready)
                    queue.extend(ready.messages)
                    if i == 1:
                        self.committed += len(ready.committed)
                    node.advance(ready)
            while queue:
                busy = True
                msg = queue.popleft()
                nodes[msg.dst].step(msg)

    def elect(self) -> RaftNode:
        leader = self.nodes[1]
        while leader.role is not Role.LEADER:
            leader.tick()  # only node 1 ticks, so it wins the first election
            self.pump()
        return leader

    def throughput(self, seconds: float, batch: int) -> float:
        leader = self.elect()
        data = [b'{"type":"noop","version":0}'] * batch
        self.committed = 0
        rounds = 0
        start = time.perf_counter()
        while True:
            leader.propose(data)
            self.pump()
            rounds += 1
            if rounds % 16 == 0:
                leader.tick()  # time passes: parked fetches expire, timers run
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    return self.committed / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--batch", type=int, default=1, help="entries per proposal")
    args = ap.parse_args()

    for graceful in (False, True):
        ticks = [failover_ticks(seed, graceful) for seed in range(args.seeds)]
        median = statistics.median(ticks)
        how = "resigned and stopped" if graceful else "crashed"
        print(
            f"failover: new leader {median:g} ticks after the leader {how} (median of "
            f"{args.seeds} seeds; min {min(ticks)}, max {max(ticks)}); election timeout "
            f"{ELECTION_TICKS} ticks, ratio {median / ELECTION_TICKS:.2f}"
        )
    one = Cluster(1).throughput(args.seconds, args.batch)
    three = Cluster(3).throughput(args.seconds, args.batch)
    print(
        f"throughput ({args.batch} entr{'y' if args.batch == 1 else 'ies'}/proposal): "
        f"3 voters {three:,.0f} entries/s, 1 voter {one:,.0f} entries/s (baseline), "
        f"ratio {three / one:.2f}"
    )


if __name__ == "__main__":
    main()
