"""A seeded, deterministic simulation of a Raft quorum (tidelog.raft) under faults.

Everything random comes from one ``random.Random(seed)``: node RNGs, message loss, delay,
duplication (and so reordering), partitions, crashes and restarts, proposals and snapshots.
The same seed therefore replays the same run exactly; a failure prints the command to do so::

    python tests/sim/simulation.py --seed N --trace

Model:

* Time: a global clock in sub-ticks (``SUB`` per tick); every live node ticks at each whole
  tick. Messages take 1..``max_delay`` sub-ticks, so they arrive between ticks, reordered.
* Network: each message may be dropped or duplicated; a partition splits the nodes in two
  groups and drops messages across them, at send and at delivery.
* Disk (:class:`FakeDisk`): writes are pending until ``sync``; a crash keeps a random prefix
  of the pending writes (possibly none) and loses the rest. Crashes happen between events and
  also in the middle of persisting a Ready (after its writes, before its sync). With
  ``disk_latency`` a sync takes time and the node takes messages and ticks meanwhile.
* Pauses: a node may stop for a while (a long GC, a stopped VM) with its state intact: no
  ticks, its messages wait; a paused leader wakes up believing it still leads.
* Each node applies committed entries to a state machine (the list of data it applied) and
  now and then snapshots it; a restarted node restores the state machine from its snapshot.

Named invariants, checked after every event (a violation raises :class:`InvariantViolation`):

* ElectionSafety: at most one leader per epoch, ever.
* LeaderCompleteness: a node that becomes leader of epoch E holds every entry committed in
  an epoch before E.
* CommittedStable: an entry, once committed anywhere, never changes (same epoch and data on
  every node that commits it) and is never truncated (no node truncates below the high
  watermark it exposed).
* LogsAgree: (checked every few ticks, for every pair of live nodes) the logs hold the same
  entries below the smaller high watermark, and Log Matching holds: equal epoch at an offset
  implies equal entries up to it.
* CheckQuorum: a leader that a partition cuts off from a majority of voters no longer leads
  ``check_quorum_ticks`` later.
* HighWatermarkMonotonic: a node's high watermark never goes back, across restarts too.
* BatchAtomicity: a high watermark never falls inside a proposal (its entries commit together).
* StateMachineSafety: every node applies entries in offset order, and what it applies is the
  committed entry at that offset, so applied sequences are prefixes of one another.

Liveness: after ``fault_ticks`` the faults stop (partitions heal, crashed nodes restart, the
network stops losing messages; with ``minority_down`` a minority of voters, the leader first,
stays crashed) and so does the random workload; within ``liveness_ticks`` a leader must be
elected and commit a proposed entry on every live voter.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from dataclasses import dataclass, field
from typing import Any

from fake_disk import FakeDisk
from tidelog.raft import (
    Entry,
    Message,
    NotLeaderError,
    RaftConfig,
    RaftError,
    RaftNode,
    Ready,
    Role,
    persist,
)

SUB = 10  # sub-ticks per tick


class InvariantViolation(AssertionError):
    """A named invariant failed; the message names it and the seed that replays it."""


def replay_command(seed: int) -> str:
    return f"python tests/sim/simulation.py --seed {seed} --trace"


# ------------------------------------------------------------------------ the state machine


def encode_state(applied: list[tuple[int, bytes]]) -> bytes:
    return b"\n".join(b"%d %s" % (off, data) for off, data in applied)


def decode_state(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    for line in data.split(b"\n") if data else []:
        off, _, value = line.partition(b" ")
        out.append((int(off), value))
    return out


@dataclass
class SimNode:
    """One simulated process: its disk survives crashes, the rest does not."""

    node_id: int
    config: RaftConfig
    disk: FakeDisk = field(default_factory=FakeDisk)
    raft: RaftNode | None = None
    applied: list[tuple[int, bytes]] = field(default_factory=list)
    applied_end: int = 0
    visible_hw: int = 0
    incarnation: int = 0
    #: a pause (a long GC, a stopped VM): no ticks, messages wait, state intact
    paused_until: int = 0
    last_tick: int = 0
    leader_epochs: set[int] = field(default_factory=set)

    @property
    def alive(self) -> bool:
        return self.raft is not None


# ------------------------------------------------------------------------- the simulation


@dataclass(frozen=True)
class DiskDone:
    """A sync that completes: then the Ready's messages go out and its entries apply."""

    node: SimNode
    incarnation: int
    ready: Ready


@dataclass
class SimParams:
    voters: int = 3
    observers: int = 1
    fault_ticks: int = 120
    liveness_ticks: int = 150
    max_delay: int = 15  # sub-ticks
    p_drop: float = 0.05
    p_dup: float = 0.03
    p_crash: float = 0.006  # per live node per tick
    p_crash_mid_ready: float = 0.004  # per Ready
    p_restart: float = 0.1  # per dead node per tick
    p_partition: float = 0.015
    p_heal: float = 0.06
    p_propose: float = 0.4
    p_compact: float = 0.02
    check_every: int = 10  # ticks between full log comparisons
    max_fetch_entries: int = 256
    #: after the faults stop, keep a minority of voters (the leader first) crashed for good
    minority_down: bool = False
    #: sub-ticks a sync takes (0: synchronous); the node keeps working meanwhile
    disk_latency: int = 0
    p_pause: float = 0.004  # per live node per tick
    p_resign: float = 0.005  # per tick: the leader resigns (a graceful shutdown)
    max_pause: int = 40  # ticks

    @classmethod
    def without_faults(cls, **overrides: Any) -> SimParams:
        """No drops, duplicates, crashes, partitions or compaction (pauses and resignations
        keep their defaults unless overridden)."""
        quiet: dict[str, Any] = dict(
            p_drop=0, p_dup=0, p_crash=0, p_crash_mid_ready=0, p_partition=0, p_compact=0
        )
        return cls(**{**quiet, **overrides})


class Simulation:
    """One seeded run; :meth:`run` raises InvariantViolation on the first broken invariant."""

    def __init__(self, seed: int, params: SimParams | None = None, trace: bool = False) -> None:
        self.seed = seed
        self.p = params or SimParams()
        self.rng = random.Random(seed)
        self.trace_on = trace
        self.trace: list[str] = []
        p = self.p
        voters = tuple(range(1, p.voters + 1))
        ids = list(voters) + [100 + i for i in range(p.observers)]
        self.voters = voters
        self.nodes = {
            i: SimNode(i, RaftConfig(i, voters, max_fetch_entries=p.max_fetch_entries)) for i in ids
        }
        self.now = 0  # sub-ticks
        self.queue: list[tuple[int, int, Message | DiskDone]] = []
        self.seq = 0
        self.groups: dict[int, int] | None = None  # partition: node -> side
        self.faults = True
        self.leaders: dict[int, int] = {}  # epoch -> leader id
        self.committed: dict[int, Entry] = {}
        self.commit_epoch: dict[int, int] = {}
        self.committed_end = 0
        self.proposed = 0
        self.tick_no = 0
        self.down: set[int] = set()  # voters kept down after the faults stop
        self.partition_since = 0
        for node in self.nodes.values():
            self._start(node)

    # ---------------------------------------------------------------------------- helpers

    def log(self, text: str) -> None:
        if self.trace_on:
            self.trace.append(f"[t={self.now / SUB:.1f}] {text}")

    def fail(self, name: str, detail: str) -> None:
        raise InvariantViolation(
            f"{name} violated (seed {self.seed}, tick {self.tick_no}): {detail}\n"
            f"replay: {replay_command(self.seed)}"
        )

    def _start(self, node: SimNode) -> None:
        state = node.disk.load()
        node.raft = RaftNode(node.config, state, random.Random(self.rng.getrandbits(32)))
        node.last_tick = self.tick_no
        node.paused_until = 0
        node.applied = decode_state(state.snapshot.data)
        node.applied_end = state.snapshot.end_offset
        for off, data in node.applied:
            self._check_applied(node, off, data)
        if node.raft.high_watermark < node.visible_hw:
            self.fail(
                "HighWatermarkMonotonic",
                f"node {node.node_id} restarted with high watermark {node.raft.high_watermark}"
                f" below the {node.visible_hw} it had exposed",
            )
        self.log(
            f"node {node.node_id} starts: {state.hard_state}, log end {node.raft.log_end_offset}"
        )

    def crash(self, node: SimNode, mid_ready: bool = False) -> None:
        keep = self.rng.randint(0, len(node.disk.pending))
        self.log(
            f"node {node.node_id} crashes{' mid-Ready' if mid_ready else ''}, keeping "
            f"{keep}/{len(node.disk.pending)} unsynced writes"
        )
        node.disk.crash(keep)
        node.raft = None
        node.incarnation += 1

    def partitioned(self, a: int, b: int) -> bool:
        g = self.groups
        return g is not None and g[a] != g[b]

    def send(self, msg: Message) -> None:
        if self.partitioned(msg.src, msg.dst):
            return
        copies = 1
        if self.faults:
            if self.rng.random() < self.p.p_drop:
                return
            if self.rng.random() < self.p.p_dup:
                copies = 2
        for _ in range(copies):
            self.seq += 1
            at = self.now + self.rng.randint(1, self.p.max_delay)
            heapq.heappush(self.queue, (at, self.seq, msg))

    # ------------------------------------------------------------------------- processing

    def drain(self, node: SimNode) -> None:
        """Carry out the node's Readies, checking invariants on each.

        A Ready's writes reach the disk at once; its sync (and then its messages and
        applies) completes at once, or ``disk_latency`` sub-ticks later, when the node goes on
        taking messages and ticks meanwhile (fsync off the event loop, as logd does it).
        """
        raft = node.raft
        while raft is not None and raft.has_ready():
            ready = raft.ready()
            self._check_ready(node, ready)
            writes = Ready(
                snapshot=ready.snapshot,
                truncate_to=ready.truncate_to,
                entries=ready.entries,
                hard_state=ready.hard_state,
            )
            persist(node.disk, writes)  # no sync yet
            if self.faults and ready.must_sync and self.rng.random() < self.p.p_crash_mid_ready:
                self.crash(node, mid_ready=True)
                return
            if self.p.disk_latency and ready.must_sync:
                self.seq += 1
                at = self.now + self.rng.randint(1, self.p.disk_latency)
                heapq.heappush(self.queue, (at, self.seq, DiskDone(node, node.incarnation, ready)))
                break
            self._complete(node, raft, ready)
        self._check_node(node)

    def _complete(self, node: SimNode, raft: RaftNode, ready: Ready) -> None:
        if ready.must_sync:
            node.disk.sync()
        for msg in ready.messages:
            self.send(msg)
        if ready.restore_snapshot and ready.snapshot is not None:
            node.applied = decode_state(ready.snapshot.data)
            node.applied_end = ready.snapshot.end_offset
            for off, data in node.applied:
                self._check_applied(node, off, data)
        for entry in ready.committed:
            self._apply(node, entry)
        raft.advance(ready)
        # exposed = persisted: the in-memory value may run ahead until the next Ready
        if ready.hard_state is not None:
            hw = ready.hard_state.high_watermark
            node.visible_hw = max(node.visible_hw, hw)
            if hw > raft.log_start_offset and not raft.entries(hw - 1, hw)[0].batch_end:
                self.fail(
                    "BatchAtomicity",
                    f"node {node.node_id}: high watermark {hw} splits a proposal",
                )

    def _apply(self, node: SimNode, entry: Entry) -> None:
        if entry.offset != node.applied_end:
            self.fail(
                "StateMachineSafety",
                f"node {node.node_id} applies offset {entry.offset}"
                f" but has applied up to {node.applied_end}",
            )
        self._commit(node, entry)
        node.applied_end = entry.offset + 1
        if not entry.control:
            node.applied.append((entry.offset, entry.data))

    def _commit(self, node: SimNode, entry: Entry) -> None:
        known = self.committed.get(entry.offset)
        if known is None:
            self.committed[entry.offset] = entry
            # the epoch it was committed in, or later: the applying node learned the high
            # watermark from that epoch's leader (or from its own hard state of that epoch)
            raft = node.raft
            self.commit_epoch[entry.offset] = raft.epoch if raft is not None else 1 << 62
            while self.committed_end in self.committed:
                self.committed_end += 1
        elif known != entry:
            self.fail(
                "CommittedStable",
                f"node {node.node_id} commits {entry} but {known} "
                f"was committed at offset {entry.offset}",
            )

    def _check_applied(self, node: SimNode, off: int, data: bytes) -> None:
        known = self.committed.get(off)
        if known is not None and known.data != data:
            self.fail(
                "StateMachineSafety",
                f"node {node.node_id} state holds {data!r} at {off}, committed is {known.data!r}",
            )

    def _check_ready(self, node: SimNode, ready: Ready) -> None:
        if (
            ready.truncate_to is not None
            and ready.truncate_to < node.visible_hw
            and not (
                ready.restore_snapshot
                and ready.snapshot is not None
                and ready.truncate_to == ready.snapshot.end_offset
                and ready.snapshot.end_offset >= node.visible_hw
            )
        ):
            self.fail(
                "CommittedStable",
                f"node {node.node_id} truncates to {ready.truncate_to}"
                f" below its high watermark {node.visible_hw}",
            )

    def _check_node(self, node: SimNode) -> None:
        raft = node.raft
        if raft is None:
            return
        if raft.high_watermark < node.visible_hw:
            self.fail(
                "HighWatermarkMonotonic",
                f"node {node.node_id}: high watermark {raft.high_watermark} < {node.visible_hw}",
            )
        if raft.role is Role.LEADER:
            holder = self.leaders.setdefault(raft.epoch, node.node_id)
            if holder != node.node_id:
                self.fail(
                    "ElectionSafety",
                    f"nodes {holder} and {node.node_id} both lead epoch {raft.epoch}",
                )
            if raft.epoch not in node.leader_epochs:
                node.leader_epochs.add(raft.epoch)
                self.log(f"node {node.node_id} leads epoch {raft.epoch}")
                self._check_leader_complete(node, raft)

    def _check_quorum(self) -> None:
        """A leader cut off from a majority of voters steps down within check_quorum_ticks."""
        groups = self.groups
        if groups is None:
            return
        for node in self.nodes.values():
            raft = node.raft
            if raft is None or raft.role is not Role.LEADER or node.paused_until > self.tick_no:
                continue  # a paused leader cannot notice anything; it resigns when it wakes
            side = sum(1 for v in self.voters if groups[v] == groups[node.node_id])
            cut_off = self.tick_no - self.partition_since
            if side < raft.config.majority and cut_off > raft.config.check_quorum_ticks:
                self.fail(
                    "CheckQuorum",
                    f"leader {node.node_id} of epoch {raft.epoch} still leads {cut_off} ticks "
                    f"after a partition left it {side} of {len(self.voters)} voters",
                )

    def _check_leader_complete(self, node: SimNode, raft: RaftNode) -> None:
        """Entries committed in an epoch before this leader's are all in its log.

        (A leader of an older epoch may still be elected late, by votes that waited out a
        pause; it owes nothing to later epochs, and their followers fence it.)
        """
        owed = [o for o in range(self.committed_end) if self.commit_epoch[o] < raft.epoch]
        if not owed:
            return
        if raft.log_end_offset <= owed[-1]:
            self.fail(
                "LeaderCompleteness",
                f"leader {node.node_id} of epoch {raft.epoch} ends at {raft.log_end_offset}, "
                f"but offset {owed[-1]} was committed in an earlier epoch",
            )
        held = {e.offset: e for e in raft.entries(raft.log_start_offset, owed[-1] + 1)}
        for off in owed:
            if off in held and held[off] != self.committed[off]:
                self.fail(
                    "LeaderCompleteness",
                    f"leader {node.node_id} has {held[off]}, committed is {self.committed[off]}",
                )

    def check_logs(self) -> None:
        live = [n.raft for n in self.nodes.values() if n.raft is not None]
        for i, a in enumerate(live):
            ea = a.entries(a.log_start_offset, a.log_end_offset)
            for entry in a.entries(a.log_start_offset, a.high_watermark):
                known = self.committed.get(entry.offset)
                if known is not None and known != entry:
                    self.fail(
                        "LogsAgree",
                        f"node {a.id} holds {entry} below its high watermark, committed is {known}",
                    )
            for b in live[i + 1 :]:
                lo = max(a.log_start_offset, b.log_start_offset)
                hi = min(a.log_end_offset, b.log_end_offset)
                if lo >= hi:
                    continue
                eb = b.entries(lo, hi)
                sa = ea[lo - a.log_start_offset : hi - a.log_start_offset]
                last_same = -1
                for k in range(len(sa) - 1, -1, -1):
                    if sa[k].epoch == eb[k].epoch:
                        last_same = k
                        break
                if sa[: last_same + 1] != eb[: last_same + 1]:
                    self.fail(
                        "LogsAgree",
                        f"nodes {a.id} and {b.id} share epoch "
                        f"{sa[last_same].epoch} at {lo + last_same} but differ below it",
                    )
                agree_to = min(a.high_watermark, b.high_watermark) - lo
                if agree_to > 0 and sa[:agree_to] != eb[:agree_to]:
                    self.fail(
                        "LogsAgree", f"nodes {a.id} and {b.id} differ below their high watermarks"
                    )

    # ---------------------------------------------------------------------------- events

    def deliver_until(self, t: int) -> None:
        q = self.queue
        while q and q[0][0] <= t:
            at, _, msg = heapq.heappop(q)
            self.now = at
            if isinstance(msg, DiskDone):
                done = msg.node
                if done.paused_until > self.tick_no:
                    self.seq += 1
                    heapq.heappush(q, (done.paused_until * SUB + 1, self.seq, msg))
                    continue
                if done.raft is not None and done.incarnation == msg.incarnation:
                    self._complete(done, done.raft, msg.ready)
                    self.drain(done)
                continue
            node = self.nodes[msg.dst]
            if node.raft is None or self.partitioned(msg.src, msg.dst):
                continue
            if node.paused_until > self.tick_no:  # it reads its socket when it wakes up
                self.seq += 1
                heapq.heappush(q, (node.paused_until * SUB + 1, self.seq, msg))
                continue
            try:
                node.raft.step(msg)
            except RaftError as exc:
                self.fail("NoRaftError", f"node {node.node_id} on {msg}: {exc}")
            self.drain(node)
        self.now = t

    def tick(self) -> None:
        self.tick_no += 1
        self.deliver_until(self.tick_no * SUB)
        rng, p = self.rng, self.p
        for node in self.nodes.values():
            if node.raft is not None and node.paused_until <= self.tick_no:
                # as the I/O layer does: one tick per tick interval elapsed on its monotonic
                # clock, so a node waking from a pause catches up on its timeouts at once
                while node.last_tick < self.tick_no and node.raft is not None:
                    node.last_tick += 1
                    node.raft.tick()
                    self.drain(node)
        self._check_quorum()
        if self.faults:
            self._faults(rng, p)
        self._workload(rng, p)
        if self.tick_no % p.check_every == 0:
            self.check_logs()

    def _faults(self, rng: random.Random, p: SimParams) -> None:
        for node in self.nodes.values():
            if node.raft is not None:
                if rng.random() < p.p_crash:
                    self.crash(node)
                elif node.paused_until <= self.tick_no and rng.random() < p.p_pause:
                    node.paused_until = self.tick_no + rng.randint(1, p.max_pause)
                    self.log(f"node {node.node_id} pauses until tick {node.paused_until}")
            elif rng.random() < p.p_restart:
                self._start(node)
                self.drain(node)
        lead = self.leader()
        if lead is not None and lead.raft is not None and rng.random() < p.p_resign:
            self.log(f"leader {lead.node_id} resigns")
            lead.raft.resign()
            self.drain(lead)
        if self.groups is None and rng.random() < p.p_partition:
            ids = list(self.nodes)
            self.groups = {i: rng.randrange(2) for i in ids}
            self.partition_since = self.tick_no
            self.log(f"partition {self.groups}")
        elif self.groups is not None and rng.random() < p.p_heal:
            self.groups = None
            self.log("heal")

    def _workload(self, rng: random.Random, p: SimParams) -> None:
        # after the faults stop only the liveness probe proposes: a backlog the followers
        # cannot drain (max_fetch_entries=1 and slow links) is not a liveness failure
        if self.faults and rng.random() < p.p_propose:
            self.propose_somewhere(rng.randint(1, 3))
        for node in self.nodes.values():
            raft = node.raft
            awake = node.paused_until <= self.tick_no
            if raft is not None and awake and rng.random() < p.p_compact:
                end = node.applied_end
                if end > raft.log_start_offset + 3:
                    upto = [(o, d) for o, d in node.applied if o < end]
                    raft.compact(end, encode_state(upto))
                    self.log(f"node {node.node_id} snapshots at {end}")
                    self.drain(node)

    def leader(self) -> SimNode | None:
        best: SimNode | None = None
        for node in self.nodes.values():
            r = node.raft
            if (
                r is not None
                and node.paused_until <= self.tick_no
                and r.role is Role.LEADER
                and (best is None or best.raft is None or r.epoch > best.raft.epoch)
            ):
                best = node
        return best

    def propose_somewhere(self, n: int) -> int | None:
        node = self.leader()
        if node is None or node.raft is None:
            return None
        data = []
        for _ in range(n):
            self.proposed += 1
            data.append(b"v%d" % self.proposed)
        try:
            last = node.raft.propose(data)
        except NotLeaderError:  # pragma: no cover - leader() only returns leaders
            return None
        self.log(f"leader {node.node_id} proposes {n} entries up to offset {last}")
        self.drain(node)
        return last

    # ------------------------------------------------------------------------------- run

    def heal(self) -> None:
        self.faults = False
        self.groups = None
        for node in self.nodes.values():
            if node.raft is None:
                self._start(node)
                self.drain(node)
        if self.p.minority_down:
            lead = self.leader()
            order = [lead.node_id] if lead is not None and lead.node_id in self.voters else []
            order += [v for v in self.rng.sample(self.voters, len(self.voters)) if v not in order]
            for v in order[: (len(self.voters) - 1) // 2]:
                self.crash(self.nodes[v])
                self.down.add(v)
        self.log(f"faults stop: healed, no more loss, every node up but {sorted(self.down)}")

    def run(self) -> dict[str, int]:
        """Fault phase, then the liveness phase; returns a few counters."""
        for _ in range(self.p.fault_ticks):
            self.tick()
        self.heal()
        self.check_logs()
        start = self.tick_no
        target: int | None = None
        target_epoch = -1
        while self.tick_no - start < self.p.liveness_ticks:
            self.tick()
            lead = self.leader()
            if lead is None or lead.raft is None:
                continue
            if target is None or lead.raft.epoch != target_epoch:
                target = self.propose_somewhere(1)
                target_epoch = lead.raft.epoch
                continue
            voters = [self.nodes[v].raft for v in self.voters if v not in self.down]
            if all(r is not None and r.high_watermark > target for r in voters):
                self.check_logs()
                return {
                    "ticks": self.tick_no,
                    "recovery_ticks": self.tick_no - start,
                    "committed": self.committed_end,
                    "epochs": len(self.leaders),
                }
        self.fail(
            "Liveness",
            f"no leader committed a new entry on every voter within "
            f"{self.p.liveness_ticks} ticks after the faults stopped",
        )
        raise AssertionError("unreachable")


def run_seed(seed: int, params: SimParams | None = None, trace: bool = False) -> dict[str, int]:
    sim = Simulation(seed, params, trace)
    try:
        return sim.run()
    except InvariantViolation:
        if trace:
            print("\n".join(sim.trace[-400:]), file=sys.stderr)
        raise


def params_for_seed(seed: int) -> SimParams:
    """Vary the cluster shape with the seed: 1, 3 or 5 voters, 0-2 observers."""
    r = random.Random(seed ^ 0x5EED)
    return SimParams(
        voters=r.choice((1, 3, 3, 3, 5, 5)),
        observers=r.randint(0, 2),
        max_fetch_entries=r.choice((1, 2, 256)),
        minority_down=r.random() < 0.5,
        disk_latency=r.choice((0, 0, 5, 20)),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, help="run this one seed")
    ap.add_argument("--seeds", type=int, default=100, help="run seeds 0..N-1")
    ap.add_argument("--trace", action="store_true", help="print the event trace on failure")
    args = ap.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else list(range(args.seeds))

    def run(s: int) -> dict[str, int]:
        return run_seed(s, params_for_seed(s), args.trace)

    for s in seeds:
        try:
            result = run(s)
        except InvariantViolation as exc:
            print(exc, file=sys.stderr)
            return 1
        if args.seed is not None:
            print(f"seed {s}: ok {result}")
    print(f"{len(seeds)} seeds ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
