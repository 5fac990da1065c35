"""A seeded, deterministic simulation of partition replication (tidelog.replication) under faults.

One partition with N replicas on N simulated brokers, a simulated controller, producers and a
consumer. The decisions are the real code's: the leader's :class:`~tidelog.replication.LeaderState`
(high watermark, ISR proposals), the follower's :func:`~tidelog.replication.truncation_offset`,
the controller's :mod:`tidelog.metadata.elections` (fencing, election from the ISR,
AlterPartition with epoch checks, a returning broker, preferred leaders) applied to a real
:class:`~tidelog.metadata.image.MetadataImage`, and storage's
:class:`~tidelog.storage.epoch_cache.LeaderEpochCache`. What the broker does around them
(``broker/replication``: manager, partition, fetcher, the Fetch and OffsetForLeaderEpoch
handlers) is modelled here step by step, in the same order. Everything random comes from one
``random.Random(seed)``, so a seed replays exactly; a failure prints the command::

    python tests/sim/replication_sim.py --seed N --trace

Model:

* Time: milliseconds; every live broker does its periodic work (heartbeats, ISR checks, the
  fetcher) each ``TICK_MS``; messages take 1..``max_delay_ms`` and so arrive reordered.
* Network: messages may be dropped; a partition splits brokers and the controller in two and
  drops what crosses it. Clients (producer, consumer) reach every broker.
* Disk (:class:`SimLog`): appends and truncations are pending until a flush completes (a
  flush syncs the writes made before it started, as fdatasync on a worker thread does); a
  crash keeps a random prefix of the pending writes. The leader-epoch cache is written
  through at every change (storage rewrites its checkpoint atomically), and on restart it is
  cut to the recovered log end and re-learns epochs from the recovered batches, as
  ``PartitionLog`` does. The high watermark is checkpointed now and then; a log without a
  checkpointed value starts with it at its log end, as storage does.
* Flush policy ``durable`` (the default, ``log.flush=always``): the leader's share of the high
  watermark is its recovery point; a follower flushes after each append and fetches on
  meanwhile (without waiting at the leader while a flush runs), each fetch reporting its
  recovery point as ``durable_offset``; a crash loses unsynced writes. Otherwise (Kafka's
  policy) crashes are process kills that lose nothing.
* Faults: crashes and restarts, pauses (a stopped VM: the broker wakes believing what it
  believed), controlled shutdowns (fence first, stop once the metadata shows no leadership),
  partitions, message loss. The controller fences a broker after the session timeout without
  a heartbeat, or sooner when its process died (connection closed), as ``ClusterNode`` does.

Named invariants, checked after every event (a violation raises :class:`InvariantViolation`);
"committed" are the records a producer got acks=all for and those a consumer read:

* AckedDurable: an acknowledged record is on the disk of at least ``min.insync.replicas``
  replicas when the answer goes out (durable policy), on their logs otherwise.
* NoCommittedLoss: a replica that becomes leader holds every committed record at its offset;
  every member of the controller's ISR holds them (durably, with the durable policy);
  after the faults stop every replica holds them.
* ConsumerReadsStable: a consumer never reads, at an offset, something other than what was
  committed there (so nothing it read disappears or changes later).
* ReplicasAgree: the leader's in-sync followers have the leader's records below the high
  watermark (up to their own log end).
* HighWatermarkMonotonic: a leader's high watermark never moves back during its epoch.
* LeaderNeverTruncates, NoOverlappingAppend: a leader's log only grows; a follower never
  appends a batch that starts below its log end.
* OneLeaderPerEpoch: at most one broker ever leads a given leader epoch.
* IsrWithinReplicas: the controller's ISR is a non-empty subset of the replicas holding the
  leader; a leader's ISR and proposals are subsets of the replicas holding itself.

Liveness: after ``fault_ticks`` the faults stop (partitions heal, every broker restarts, no
more loss); within ``liveness_ticks`` a leader must have every replica in the ISR, all logs
equal to its own, and a new acks=all record acknowledged.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import random
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tidelog.broker.replication.manager import ISR_CHECK_S, NOT_APPLIED, SUPERSEDED
from tidelog.metadata import elections
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import (
    NO_LEADER,
    MetadataRecord,
    PartitionRecord,
    RegisterBrokerRecord,
    TopicRecord,
)
from tidelog.replication import LeaderState, truncation_offset
from tidelog.storage.epoch_cache import LeaderEpochCache

TICK_MS = 50
ISR_CHECK_MS = int(ISR_CHECK_S * 1000)
TOPIC = "sim"
CONTROLLER = 0


class InvariantViolation(AssertionError):
    """A named invariant failed; the message names it and the seed that replays it."""


def replay_command(seed: int) -> str:
    return f"python tests/sim/replication_sim.py --seed {seed} --trace"


# ------------------------------------------------------------------------------ the disk


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    base: int
    epoch: int
    values: tuple[int, ...]

    @property
    def next(self) -> int:
        return self.base + len(self.values)


def _truncated(batches: list[Batch], offset: int) -> list[Batch]:
    """Storage's truncate_to: drop every batch holding ``offset`` or later (whole)."""
    return [b for b in batches if b.next <= offset]


class MemoryEpochCache(LeaderEpochCache):
    """Storage's epoch cache, kept in memory: the sim's disk holds what the file would."""

    def __init__(self, entries: list[Any] | None = None) -> None:
        super().__init__(Path("/nonexistent/leader-epoch-checkpoint"), entries)

    def _save(self) -> None:
        pass  # written through: the file always equals the entries


class SimLog:
    """One replica's log of the partition: current state, durable state, epoch cache."""

    def __init__(self, durable: bool) -> None:
        self.durable_policy = durable
        self.batches: list[Batch] = []
        self.durable: list[Batch] = []
        #: writes not yet synced: ("append", batch) or ("truncate", offset)
        self.pending: list[tuple[str, Any]] = []
        #: writes ever made (the last pending one is number ``writes``)
        self.writes = 0
        #: truncations ever made (a flush that overlaps one does not move the recovery point)
        self.cuts = 0
        self.epochs = MemoryEpochCache()
        self.recovery_point = 0
        self._hw: int | None = None
        self.hw_checkpoint: int | None = None
        #: the flush running (target, last write it covers, cuts at its start, callbacks)
        #: and the next one
        self.flush_running: tuple[int, int, int, list[Callable[[], None]]] | None = None
        self.flush_next: list[Callable[[], None]] | None = None

    @property
    def leo(self) -> int:
        return self.batches[-1].next if self.batches else 0

    @property
    def high_watermark(self) -> int:
        hw = self.leo if self._hw is None else self._hw
        return max(0, min(hw, self.leo))

    @high_watermark.setter
    def high_watermark(self, value: int) -> None:
        self._hw = max(0, min(value, self.leo))

    @property
    def latest_epoch(self) -> int:
        return self.epochs.latest_epoch

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        return self.epochs.end_offset_for_epoch(epoch, self.leo)

    def start_leader_epoch(self, epoch: int) -> None:
        self.epochs.assign(epoch, self.leo, persist=False)

    def append_as_leader(self, epoch: int, values: tuple[int, ...]) -> Batch:
        batch = Batch(self.leo, epoch, values)
        self.batches.append(batch)
        self._write("append", batch)
        self.epochs.assign(epoch, batch.base, persist=False)
        return batch

    def append_as_follower(self, batches: list[Batch]) -> None:
        for b in batches:
            self.batches.append(b)
            self._write("append", b)
            self.epochs.assign(b.epoch, b.base, persist=False)

    def truncate_to(self, offset: int) -> None:
        if offset >= self.leo:
            # as storage does: an epoch this replica started as leader without appending
            # to it ends at its log end and goes (the new leader does not have it)
            self.epochs.truncate_from_end(self.leo, persist=False)
            return
        self.batches = _truncated(self.batches, offset)
        self._write("truncate", offset)
        self.cuts += 1
        # storage makes the cut durable at once (the epoch cache, written through, must never
        # describe records a crash could bring back)
        self.sync_all()
        self.epochs.truncate_from_end(self.leo, persist=False)

    def read(self, offset: int, limit: int, max_batches: int) -> list[Batch]:
        out = []
        for b in self.batches:
            if b.next <= offset:
                continue
            if b.base >= limit or b.next > limit or len(out) >= max_batches:
                break
            out.append(b)
        return out

    def value_at(self, batches: list[Batch], offset: int) -> tuple[int, int] | None:
        """(epoch, value) at ``offset`` of ``batches``, None if they do not hold it."""
        lo, hi = 0, len(batches)
        while lo < hi:
            mid = (lo + hi) // 2
            if batches[mid].next <= offset:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(batches) and batches[lo].base <= offset:
            b = batches[lo]
            return b.epoch, b.values[offset - b.base]
        return None

    # -- flushing (group commit) and crashes ---------------------------------------------

    def _write(self, op: str, arg: Any) -> None:
        self.pending.append((op, arg))
        self.writes += 1

    def flush_start(self, callback: Callable[[], None]) -> bool:
        """Ask for a flush covering everything written so far; True if one must be started
        now (the caller schedules :meth:`flush_done`)."""
        if self.flush_running is None:
            self.flush_running = (self.leo, self.writes, self.cuts, [callback])
            return True
        if self.flush_next is None:
            self.flush_next = []
        self.flush_next.append(callback)
        return False

    def flush_done(self) -> tuple[list[Callable[[], None]], bool]:
        """The running flush completed: (its callbacks, whether the next one starts now)."""
        assert self.flush_running is not None
        target, last_write, cuts, callbacks = self.flush_running
        # only the writes made before it started (a truncation meanwhile synced them all)
        self._sync(max(0, len(self.pending) - (self.writes - last_write)))
        if cuts == self.cuts:
            # as storage does: a truncation during the flush leaves the recovery point where
            # the truncation put it (what the flush synced may be gone, its offsets reused)
            self.recovery_point = max(self.recovery_point, min(target, self.leo))
        self.flush_running = None
        nxt, self.flush_next = self.flush_next, None
        if nxt is not None:
            self.flush_running = (self.leo, self.writes, self.cuts, nxt)
        return callbacks, nxt is not None

    def _sync(self, n: int) -> None:
        for op, arg in self.pending[:n]:
            if op == "append":
                self.durable.append(arg)
            else:
                self.durable = _truncated(self.durable, arg)
        del self.pending[:n]

    def sync_all(self) -> None:
        self._sync(len(self.pending))
        self.recovery_point = self.leo

    def checkpoint(self) -> None:
        self.hw_checkpoint = self.high_watermark

    def crash(self, keep: int) -> None:
        """Lose every pending write but the first ``keep``; then recover as storage does."""
        self._sync(keep)
        self.pending.clear()
        self.batches = list(self.durable)
        self.flush_running = None
        self.flush_next = None
        self.recover()

    def recover(self) -> None:
        self.epochs.truncate_from_end(self.leo, persist=False)
        for b in self.batches:  # recovery re-reads batches and re-learns newer epochs
            self.epochs.assign(b.epoch, b.base, persist=False)
        self.recovery_point = self.leo
        self._hw = self.hw_checkpoint


# ------------------------------------------------------------------------------ messages


@dataclasses.dataclass(frozen=True, slots=True)
class Msg:
    src: int
    dst: int
    kind: str
    body: dict[str, Any]


@dataclasses.dataclass(slots=True)
class Produce:
    pid: int
    values: tuple[int, ...]
    acks_all: bool
    offset: int = -1  # the end offset the high watermark must reach
    deadline: int = 0
    sent_at: int = 0


@dataclasses.dataclass(slots=True)
class Fetcher:
    """The follower side of one partition (ReplicaFetcher's _Fetching, plus its loop)."""

    leader: int
    epoch: int
    truncate: bool = True
    inflight: int = 0  # request id, 0 for none
    deadline: int = 0
    paused_until: int = 0
    #: flushes this fetcher asked for that have not completed (ReplicaFetcher._syncs)
    syncs: int = 0
    #: an immediate fetch came back empty while syncing: the next one waits for the syncs
    wait_sync: bool = False


@dataclasses.dataclass(slots=True)
class Alter:
    token: int
    state: LeaderState
    deadline: int
    proposal: tuple[int, ...]
    waiting_for_version: int = -1


class SimBroker:
    """One simulated broker process: its log survives crashes, the rest does not."""

    def __init__(self, broker_id: int, durable: bool) -> None:
        self.id = broker_id
        self.log = SimLog(durable)
        self.alive = True
        self.incarnation = 0
        self.paused_until = 0
        self.stopping_since = -1  # controlled shutdown in progress
        self.reset()

    def reset(self) -> None:
        self.image: MetadataImage | None = None
        self.taking_roles = False
        self.version = -1
        self.leader = -1
        self.leader_epoch = -1
        self.partition_epoch = -1
        self.state: LeaderState | None = None
        self.fetcher: Fetcher | None = None
        self.waits: list[Produce] = []
        self.parked: list[tuple[int, Msg, int]] = []  # (deadline, fetch request, order)
        self.alter: Alter | None = None
        self.next_heartbeat = 0
        self.next_isr_check = 0
        self.next_checkpoint = -1  # the first checkpoint comes an interval after the start


# ---------------------------------------------------------------------------- the sim


@dataclasses.dataclass
class SimParams:
    replicas: int = 3
    min_insync: int = 2
    durable: bool = True
    fault_ticks: int = 300
    liveness_ticks: int = 400
    max_delay_ms: int = 40
    p_drop: float = 0.03
    p_crash: float = 0.004  # per live broker per tick
    p_restart: float = 0.08  # per dead broker per tick
    p_pause: float = 0.004
    max_pause_ticks: int = 30
    p_shutdown: float = 0.002  # controlled shutdown, per live broker per tick
    p_partition: float = 0.01
    p_heal: float = 0.06
    p_produce: float = 0.5
    p_acks_one: float = 0.2
    p_consume: float = 0.3
    disk_latency_ms: int = 20
    heartbeat_ms: int = 100
    session_timeout_ms: int = 1000
    lag_ms: int = 300
    fetch_wait_ms: int = 100
    request_timeout_ms: int = 1000
    alter_timeout_ms: int = 500
    checkpoint_ms: int = 1500
    rebalance_ms: int = 1000
    max_fetch_batches: int = 3
    check_every: int = 5  # ticks between the costlier whole-log checks

    @classmethod
    def without_faults(cls, **overrides: Any) -> SimParams:
        quiet: dict[str, Any] = dict(p_drop=0, p_crash=0, p_pause=0, p_shutdown=0,
                                     p_partition=0)
        return cls(**{**quiet, **overrides})


class Simulation:
    """One seeded run; :meth:`run` raises InvariantViolation on the first broken invariant."""

    def __init__(self, seed: int, params: SimParams | None = None, trace: bool = False) -> None:
        self.seed = seed
        self.p = params or SimParams()
        self.rng = random.Random(seed)
        self.trace_on = trace
        self.trace: list[str] = []
        self.now = 0
        self.tick_no = 0
        self.queue: list[tuple[int, int, Any]] = []
        self.seq = 0
        self.faults = True
        self.groups: dict[int, int] | None = None
        ids = list(range(1, self.p.replicas + 1))
        self.brokers = {i: SimBroker(i, self.p.durable) for i in ids}
        #: committed records: offset -> value (acknowledged with acks=all, or consumed)
        self.committed: dict[int, int] = {}
        self.acked = 0
        self.consumed_upto = 0
        self.leaders: dict[int, int] = {}  # leader epoch -> broker
        self.hw_seen: dict[tuple[int, int, int], int] = {}
        self.next_value = 0
        self.next_pid = 0
        self.next_req = 0
        self.produces: dict[int, Produce] = {}
        # the controller
        self.topic_id = uuid.UUID(int=self.rng.getrandbits(128))
        self.incarnations: dict[int, uuid.UUID] = {}
        records: list[MetadataRecord] = []
        for b in ids:
            self.incarnations[b] = self._new_incarnation(self.brokers[b])
            records.append(RegisterBrokerRecord(b, self.incarnations[b], 0))
        records.append(TopicRecord(TOPIC, self.topic_id))
        records.append(PartitionRecord(self.topic_id, 0, tuple(ids), tuple(ids), ids[0]))
        self.image = MetadataImage().apply_all(records)
        self.version = 0
        self.heartbeats = dict.fromkeys(ids, 0)
        self.lost: dict[int, int] = {}  # broker -> when its process died (connection closed)
        self.last_rebalance = 0
        self.stats = {"elections": 0, "truncations": 0, "isr_changes": 0, "crashes": 0}
        for b in self.brokers.values():
            self._send_image(b.id)

    # ---------------------------------------------------------------------------- helpers

    def log(self, text: str) -> None:
        if self.trace_on:
            self.trace.append(f"[t={self.now}ms] {text}")

    def fail(self, name: str, detail: str) -> None:
        raise InvariantViolation(
            f"{name} violated (seed {self.seed}, t={self.now}ms): {detail}\n"
            f"replay: {replay_command(self.seed)}"
        )

    def _new_incarnation(self, b: SimBroker) -> uuid.UUID:
        b.incarnation += 1
        return uuid.UUID(int=self.rng.getrandbits(128))

    def partitioned(self, a: int, b: int) -> bool:
        g = self.groups
        return g is not None and a in g and b in g and g[a] != g[b]

    def send(self, src: int, dst: int, kind: str, **body: Any) -> None:
        if self.partitioned(src, dst):
            return
        if self.faults and self.rng.random() < self.p.p_drop:
            return
        self.at(self.now + self.rng.randint(1, self.p.max_delay_ms), Msg(src, dst, kind, body))

    def at(self, when: int, item: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (when, self.seq, item))

    @property
    def pimg(self) -> Any:
        return self.image.topic(TOPIC).partitions[0]  # type: ignore[union-attr]

    # ------------------------------------------------------------------------ the controller

    def commit(self, records: list[Any], why: str) -> None:
        """Commit ``records`` to the metadata log and send the image to every broker."""
        if not records:
            return
        before = self.pimg
        self.image = self.image.apply_all(records)
        self.version += 1
        after = self.pimg
        self.log(f"controller {why}: leader {after.leader} epoch {after.leader_epoch} "
                 f"isr {list(after.isr)} (partition epoch {after.partition_epoch}), "
                 f"fenced {sorted(b for b, i in self.image.brokers.items() if i.fenced)}")
        if after.leader != before.leader:
            self.stats["elections"] += 1
        if after.isr != before.isr:
            self.stats["isr_changes"] += 1
        self.check_image()
        for b in self.brokers:
            self._send_image(b)

    def _send_image(self, b: int) -> None:
        self.send(CONTROLLER, b, "image", version=self.version, image=self.image)

    def controller_step(self) -> None:
        # as ClusterNode._fence_loop: the session timeout, or sooner for a process that died
        # (its quorum connection closed and no heartbeat came for two intervals, >= 0.5 s)
        grace = max(2 * self.p.heartbeat_ms, 500)
        for bid, b in sorted(self.image.brokers.items()):
            if b.fenced:
                continue
            lost = self.lost.get(bid)
            if self.now - self.heartbeats[bid] > self.p.session_timeout_ms:
                why = "no heartbeat"
            elif lost is not None and lost > self.heartbeats[bid] and self.now - lost > grace \
                    and not self.brokers[bid].alive and not self.partitioned(CONTROLLER, bid):
                why = "its connection closed"
            else:
                continue
            self.lost.pop(bid, None)
            self.commit(self._fence(bid), f"fences {bid}: {why}")
        if self.now - self.last_rebalance >= self.p.rebalance_ms:
            self.last_rebalance = self.now
            self.commit(elections.preferred_leaders(self.image), "moves to the preferred")
        if self.tick_no % 4 == 0:  # brokers fetch the metadata log: a lost image comes again
            for b in self.brokers:
                self._send_image(b)

    def _register_record(self, bid: int, fenced: bool,
                         incarnation: uuid.UUID | None = None) -> RegisterBrokerRecord:
        b = self.image.brokers[bid]
        return RegisterBrokerRecord(bid, incarnation or b.incarnation_id, b.broker_epoch,
                                    b.endpoints, b.rack, fenced)

    def _fence(self, bid: int) -> list[Any]:
        records: list[Any] = [self._register_record(bid, True)]
        image = self.image.apply_all(records[:1])
        return records + elections.without_broker(image, bid)

    def on_controller(self, msg: Msg) -> None:
        bid = msg.src
        body = msg.body
        if msg.kind == "heartbeat":
            self.heartbeats[bid] = self.now
            known = self.image.brokers[bid]
            if known.incarnation_id != body["incarnation"]:
                # a new process: it registers fenced and its leaderships move first
                records: list[Any] = [self._register_record(bid, True, body["incarnation"])]
                records += elections.without_broker(self.image.apply_all(records), bid)
                self.commit(records, f"registers returning broker {bid}")
            elif known.fenced and body["stopping"] is False:
                records = [self._register_record(bid, False)]
                records += elections.with_broker(self.image.apply_all(records), bid)
                self.commit(records, f"unfences {bid}")
        elif msg.kind == "shutdown":
            if not self.image.brokers[bid].fenced:
                self.commit(self._fence(bid), f"controlled shutdown of {bid}")
        elif msg.kind == "alter":
            try:
                records = elections.alter_partition(
                    self.image, self.topic_id, 0, bid, body["leader_epoch"],
                    body["partition_epoch"], tuple(body["isr"]))
            except ControllerError as exc:
                self.send(CONTROLLER, bid, "alter_resp", token=body["token"],
                          error=exc.error_name, version=-1)
                return
            self.commit(records, f"alters the ISR for {bid}")
            self.send(CONTROLLER, bid, "alter_resp", token=body["token"], error=None,
                      version=self.version)

    def check_image(self) -> None:
        part = self.pimg
        if not part.isr or not set(part.isr) <= set(part.replicas):
            self.fail("IsrWithinReplicas", f"controller ISR {part.isr} of {part.replicas}")
        if part.leader != NO_LEADER and part.leader not in part.isr:
            self.fail("IsrWithinReplicas", f"leader {part.leader} not in ISR {part.isr}")
        if part.leader != NO_LEADER:
            known = self.leaders.get(part.leader_epoch)
            if known is not None and known != part.leader:
                self.fail("OneLeaderPerEpoch", f"controller names {part.leader} leader of "
                          f"epoch {part.leader_epoch}, led by {known}")

    # ------------------------------------------------------------------------ broker roles

    def apply_image(self, b: SimBroker, version: int, image: MetadataImage) -> None:
        """ReplicaManager.apply_image / _apply_partition for the one partition."""
        if version <= b.version:
            return
        b.image, b.version = image, version
        part = image.topic(TOPIC).partitions[0]  # type: ignore[union-attr]
        if b.alter is not None and b.alter.waiting_for_version >= 0 and \
                version >= b.alter.waiting_for_version:
            b.alter = None  # the change it waited for is replayed: the submit returns
        reg = image.brokers[b.id]
        if not b.taking_roles:
            # as BrokerCore does: no role before the image shows this process registered and
            # unfenced (a returning broker registers fenced, its leaderships move first)
            if reg.incarnation_id != self.incarnations[b.id] or reg.fenced:
                return
            b.taking_roles = True
        if b.leader == part.leader and b.leader_epoch == part.leader_epoch:
            if b.partition_epoch != part.partition_epoch:
                b.partition_epoch = part.partition_epoch
                if b.state is not None:
                    b.state.update_isr(part.replicas, part.isr, part.partition_epoch, self.now)
                    self.maybe_advance_hw(b)
            return
        b.leader, b.leader_epoch, b.partition_epoch = part.leader, part.leader_epoch, \
            part.partition_epoch
        if part.leader == b.id:
            self.make_leader(b, part)
        else:
            self.fail_waits(b, "NOT_LEADER_OR_FOLLOWER")
            b.state = None
            b.alter = None
            b.parked.clear()
            b.fetcher = Fetcher(part.leader, part.leader_epoch) if part.leader >= 0 else None
            self.log(f"broker {b.id} follows {part.leader} in epoch {part.leader_epoch} "
                     f"(log end {b.log.leo}, latest epoch {b.log.latest_epoch})")

    def make_leader(self, b: SimBroker, part: Any) -> None:
        plog = b.log
        b.fetcher = None
        plog.start_leader_epoch(part.leader_epoch)
        hw = min(plog.high_watermark, plog.leo)
        plog.high_watermark = hw  # pinned, as Partition.make_leader does
        b.state = LeaderState(b.id, part.replicas, part.isr, part.leader_epoch,
                              part.partition_epoch, epoch_start_offset=plog.leo,
                              high_watermark=hw, now_ms=self.now)
        b.alter = None
        known = self.leaders.setdefault(part.leader_epoch, b.id)
        if known != b.id:
            self.fail("OneLeaderPerEpoch", f"brokers {known} and {b.id} lead epoch "
                      f"{part.leader_epoch}")
        self.log(f"broker {b.id} leads epoch {part.leader_epoch} (log end {plog.leo}, "
                 f"high watermark {hw}, isr {list(part.isr)})")
        if part.leader_epoch == self.pimg.leader_epoch:
            # (a broker waking from a pause may replay an image the controller has moved past:
            # a stale leader that no follower of the current epoch fetches from)
            self.check_holds_committed(b, b.log.batches, "becomes leader")
        self.maybe_advance_hw(b)

    def own_offset(self, b: SimBroker) -> int:
        return b.log.recovery_point if self.p.durable else b.log.leo

    def maybe_advance_hw(self, b: SimBroker) -> None:
        state = b.state
        if state is None or not state.advance_high_watermark(self.own_offset(b)):
            return
        b.log.high_watermark = state.high_watermark
        self.complete_waits(b)
        self.wake_parked(b)

    def complete_waits(self, b: SimBroker) -> None:
        state = b.state
        if state is None:
            return
        keep = []
        for w in b.waits:
            if w.offset <= state.high_watermark:
                isr = len(state.isr)
                self.answer_produce(b, w, None if isr >= self.p.min_insync
                                    else "NOT_ENOUGH_REPLICAS_AFTER_APPEND")
            else:
                keep.append(w)
        b.waits = keep

    def fail_waits(self, b: SimBroker, error: str) -> None:
        waits, b.waits = b.waits, []
        for w in waits:
            self.answer_produce(b, w, error)

    def answer_produce(self, b: SimBroker, w: Produce, error: str | None) -> None:
        if error is None and w.acks_all:
            self.acknowledge(b, w)
        self.produces.pop(w.pid, None)

    def acknowledge(self, b: SimBroker, w: Produce) -> None:
        first = w.offset - len(w.values)
        self.log(f"broker {b.id} acknowledges offsets {first}..{w.offset - 1}")
        holders = 0
        for other in self.brokers.values():
            batches = other.log.durable if self.p.durable else other.log.batches
            if all((other.log.value_at(batches, first + i) or (-1, -1))[1] == v
                   for i, v in enumerate(w.values)):
                holders += 1
        if holders < self.p.min_insync:
            self.fail("AckedDurable", f"offsets {first}..{w.offset - 1} acknowledged by "
                      f"{b.id} are held by {holders} replicas (min.insync.replicas "
                      f"{self.p.min_insync})")
        for i, v in enumerate(w.values):
            self.commit_record(first + i, v)
        self.acked += len(w.values)

    def commit_record(self, offset: int, value: int) -> None:
        known = self.committed.get(offset)
        if known is None:
            self.committed[offset] = value
        elif known != value:
            self.fail("NoCommittedLoss", f"offset {offset} committed as {known}, now {value}")

    # -------------------------------------------------------------------------- leader side

    def on_produce(self, b: SimBroker, msg: Msg) -> None:
        w: Produce = msg.body["produce"]
        state = b.state
        if state is None:  # NOT_LEADER_OR_FOLLOWER
            self.produces.pop(w.pid, None)
            return
        if w.acks_all and len(state.isr) < self.p.min_insync:
            self.produces.pop(w.pid, None)  # NOT_ENOUGH_REPLICAS, nothing appended
            return
        batch = b.log.append_as_leader(b.leader_epoch, w.values)
        self.log(f"broker {b.id} appends {batch.base}..{batch.next - 1} in epoch "
                 f"{batch.epoch} (acks={'all' if w.acks_all else 1})")
        w.offset = batch.next
        w.deadline = self.now + self.p.request_timeout_ms
        if self.p.durable:
            self.flush(b, lambda: self.maybe_advance_hw(b))
        else:
            self.maybe_advance_hw(b)
        self.wake_parked(b)
        if w.acks_all:
            b.waits.append(w)
            self.complete_waits(b)
        else:
            self.produces.pop(w.pid, None)

    def flush(self, b: SimBroker, callback: Callable[[], None]) -> None:
        incarnation = b.incarnation
        if b.log.flush_start(callback):
            self.at(self.now + self.rng.randint(0, self.p.disk_latency_ms),
                    ("flush", b.id, incarnation))

    def on_flush_done(self, b: SimBroker) -> None:
        callbacks, again = b.log.flush_done()
        if again:
            self.at(self.now + self.rng.randint(0, self.p.disk_latency_ms),
                    ("flush", b.id, b.incarnation))
        for cb in callbacks:
            cb()

    def on_fetch(self, b: SimBroker, msg: Msg, first: bool = True) -> None:
        """The Fetch handler for a follower's fetch (replica id set)."""
        body = msg.body
        state = b.state

        def answer(**kw: Any) -> None:
            self.send(b.id, msg.src, "fetch_resp", req=body["req"], **kw)

        if state is None:
            answer(error="NOT_LEADER_OR_FOLLOWER")
            return
        current = body["current_leader_epoch"]
        if current != b.leader_epoch:
            answer(error="UNKNOWN_LEADER_EPOCH" if current > b.leader_epoch
                   else "FENCED_LEADER_EPOCH")
            return
        plog = b.log
        fetch_offset = body["fetch_offset"]
        last_epoch = body["last_fetched_epoch"]
        if last_epoch >= 0:
            epoch, end = plog.end_offset_for_epoch(last_epoch)
            if epoch != last_epoch or end < fetch_offset:
                answer(error=None, diverging=(epoch, end), hw=plog.high_watermark)
                return
        if first and fetch_offset <= plog.leo and \
                state.record_fetch(msg.src, fetch_offset, plog.leo, self.now,
                                   body["durable_offset"]):
            self.maybe_advance_hw(b)
            if msg.src not in state.isr:
                self.maybe_alter_isr(b)
        if b.state is not state:
            answer(error="NOT_LEADER_OR_FOLLOWER")
            return
        if fetch_offset > plog.leo:
            answer(error="OFFSET_OUT_OF_RANGE", hw=plog.high_watermark)
            return
        batches = plog.read(fetch_offset, plog.leo, self.p.max_fetch_batches)
        if not batches and first and not body["no_wait"]:
            self.seq += 1
            b.parked.append((self.now + self.p.fetch_wait_ms, msg, self.seq))
            return
        answer(error=None, batches=batches, hw=plog.high_watermark)

    def wake_parked(self, b: SimBroker, expired_only: bool = False) -> None:
        parked, b.parked = b.parked, []
        for deadline, msg, order in parked:
            if expired_only and deadline > self.now:
                b.parked.append((deadline, msg, order))
                continue
            self.on_fetch(b, msg, first=False)

    def on_epoch_request(self, b: SimBroker, msg: Msg) -> None:
        """The OffsetForLeaderEpoch handler."""
        body = msg.body
        answer = dict(req=body["req"], error=None, epoch=-1, end=-1)
        if b.state is None:
            answer["error"] = "NOT_LEADER_OR_FOLLOWER"
        elif body["current_leader_epoch"] != b.leader_epoch:
            answer["error"] = "FENCED_LEADER_EPOCH"
        else:
            answer["epoch"], answer["end"] = b.log.end_offset_for_epoch(body["leader_epoch"])
        self.send(b.id, msg.src, "epoch_resp", **answer)

    def maybe_alter_isr(self, b: SimBroker) -> None:
        """ReplicaManager._maybe_alter_isr and _send_alter_partition."""
        state = b.state
        if state is None or b.image is None or (b.alter is not None and \
                b.alter.state is state and state.pending_isr is not None):
            return
        eligible = {i for i, img in b.image.brokers.items() if not img.fenced}
        proposal = state.isr_proposal(self.now, self.p.lag_ms, eligible)
        if proposal is None:
            return
        for r in proposal:
            if r not in state.replicas:
                self.fail("IsrWithinReplicas", f"proposal {proposal} of {state.replicas}")
        if b.id not in proposal:
            self.fail("IsrWithinReplicas", f"leader {b.id} proposes ISR {proposal}")
        self.log(f"broker {b.id} proposes ISR {list(proposal)} (was {list(state.isr)})")
        self.send_alter(b, state, proposal)

    def send_alter(self, b: SimBroker, state: LeaderState, proposal: tuple[int, ...]) -> None:
        self.next_req += 1
        b.alter = Alter(self.next_req, state, self.now + self.p.alter_timeout_ms, proposal)
        self.send(b.id, CONTROLLER, "alter", token=self.next_req, isr=proposal,
                  leader_epoch=state.leader_epoch, partition_epoch=state.partition_epoch)

    def on_alter_resp(self, b: SimBroker, msg: Msg) -> None:
        alter = b.alter
        if alter is None or alter.token != msg.body["token"]:
            return
        if msg.body["error"] is not None:
            self.alter_failed(b, msg.body["error"])
        elif b.version >= msg.body["version"]:
            b.alter = None
        else:
            alter.waiting_for_version = msg.body["version"]  # submit waits for its replay

    def alter_failed(self, b: SimBroker, error: str) -> None:
        """ReplicaManager._send_alter_partition's failure path."""
        alter = b.alter
        b.alter = None
        if alter is None or b.state is not alter.state or \
                alter.state.pending_isr != alter.proposal:
            return
        self.log(f"broker {b.id}: ISR change not made: {error}")
        if error in NOT_APPLIED:
            alter.state.proposal_failed()
        elif error not in SUPERSEDED:  # outcome unknown: the same request again
            self.send_alter(b, alter.state, alter.proposal)

    # ------------------------------------------------------------------------ follower side

    def fetcher_step(self, b: SimBroker) -> None:
        f = b.fetcher
        if f is None or f.inflight or f.paused_until > self.now or (f.wait_sync and f.syncs):
            return
        plog = b.log
        self.next_req += 1
        if f.truncate:
            if plog.latest_epoch < 0:
                self.truncate(b, min(plog.high_watermark, plog.leo), "no epoch known")
                f.truncate = False
            else:
                f.inflight, f.deadline = self.next_req, self.now + self.p.request_timeout_ms
                self.send(b.id, f.leader, "epoch_req", req=f.inflight,
                          current_leader_epoch=f.epoch, leader_epoch=plog.latest_epoch)
                return
        if self.p.durable and plog.recovery_point < plog.leo and not f.syncs:
            # as the fetcher does: records left unsynced (written as leader) are flushed;
            # the fetch reports only what the disk has (durable_offset)
            self.follower_sync(b, f)
        f.inflight = self.next_req
        f.deadline = self.now + self.p.fetch_wait_ms + self.p.request_timeout_ms
        self.send(b.id, f.leader, "fetch", req=f.inflight, current_leader_epoch=f.epoch,
                  fetch_offset=plog.leo, last_fetched_epoch=plog.latest_epoch,
                  durable_offset=plog.recovery_point if self.p.durable else -1,
                  no_wait=f.syncs > 0)

    def follower_sync(self, b: SimBroker, f: Fetcher) -> None:
        """ReplicaFetcher._sync: a flush after an append; the fetcher goes on meanwhile."""
        f.syncs += 1
        incarnation = b.incarnation

        def flushed() -> None:
            if b.incarnation == incarnation and b.fetcher is f:
                f.syncs -= 1
                if f.wait_sync:  # the first sync done is news: the next fetch reports it
                    f.wait_sync = False
                    self.fetcher_step(b)
        self.flush(b, flushed)

    def truncate(self, b: SimBroker, offset: int, why: str) -> None:
        plog = b.log
        if offset >= plog.leo:
            plog.truncate_to(offset)
            return
        if b.state is not None:
            self.fail("LeaderNeverTruncates", f"leader {b.id} truncates to {offset}")
        self.log(f"broker {b.id} truncates from {plog.leo} to {offset} ({why})")
        self.stats["truncations"] += 1
        plog.truncate_to(offset)

    def on_epoch_resp(self, b: SimBroker, msg: Msg) -> None:
        f = b.fetcher
        body = msg.body
        if f is None or f.inflight != body["req"]:
            return
        f.inflight = 0
        if body["error"] is not None:
            f.paused_until = self.now + 100  # fetcher.PAUSE_S
            return
        plog = b.log
        cut = truncation_offset(body["epoch"], body["end"], plog.end_offset_for_epoch,
                                plog.leo, plog.high_watermark)
        self.truncate(b, cut.offset, f"leader epoch {body['epoch']} ends at {body['end']}")
        f.truncate = not cut.complete
        self.fetcher_step(b)

    def on_fetch_resp(self, b: SimBroker, msg: Msg) -> None:
        f = b.fetcher
        body = msg.body
        if f is None or f.inflight != body["req"]:
            return
        f.inflight = 0
        plog = b.log
        error = body["error"]
        if error == "OFFSET_OUT_OF_RANGE":
            f.truncate = True
        elif error is not None:
            f.paused_until = self.now + 100  # fetcher.PAUSE_S
            return
        elif body.get("diverging") is not None:
            epoch, end = body["diverging"]
            if end >= 0:
                cut = truncation_offset(epoch, end, plog.end_offset_for_epoch, plog.leo,
                                        plog.high_watermark)
                self.truncate(b, cut.offset, f"diverging at epoch {epoch} (ends at {end})")
                f.truncate = not cut.complete
        else:
            fresh = [x for x in body["batches"] if x.next > plog.leo]
            if fresh and fresh[0].base != plog.leo:
                self.fail("NoOverlappingAppend", f"broker {b.id} at log end {plog.leo} gets "
                          f"a batch at {fresh[0].base}..{fresh[0].next - 1}")
            plog.append_as_follower(fresh)
            plog.high_watermark = min(body["hw"], plog.leo)
            if fresh and self.p.durable:
                self.follower_sync(b, f)
            elif not fresh and f.syncs:
                f.wait_sync = True  # nothing new: report the sync when it is done
        self.fetcher_step(b)

    # ------------------------------------------------------------------------------ events

    def deliver(self, item: Any) -> None:
        if isinstance(item, tuple):
            _, bid, incarnation = item
            b = self.brokers[bid]
            if b.alive and b.incarnation == incarnation:
                if b.paused_until > self.tick_no:
                    self.at(b.paused_until * TICK_MS + 1, item)
                    return
                self.on_flush_done(b)
            return
        msg: Msg = item
        if self.partitioned(msg.src, msg.dst):
            return
        if msg.dst == CONTROLLER:
            self.on_controller(msg)
            return
        b = self.brokers[msg.dst]
        if not b.alive:
            return
        if b.paused_until > self.tick_no:
            self.at(b.paused_until * TICK_MS + 1, msg)
            return
        handler = {
            "image": lambda: self.apply_image(b, msg.body["version"], msg.body["image"]),
            "fetch": lambda: self.on_fetch(b, msg),
            "fetch_resp": lambda: self.on_fetch_resp(b, msg),
            "epoch_req": lambda: self.on_epoch_request(b, msg),
            "epoch_resp": lambda: self.on_epoch_resp(b, msg),
            "produce": lambda: self.on_produce(b, msg),
            "alter_resp": lambda: self.on_alter_resp(b, msg),
        }[msg.kind]
        handler()

    def broker_tick(self, b: SimBroker) -> None:
        p = self.p
        if self.now >= b.next_heartbeat:
            b.next_heartbeat = self.now + p.heartbeat_ms
            if b.stopping_since < 0:
                self.send(b.id, CONTROLLER, "heartbeat",
                          incarnation=self.incarnations[b.id], stopping=False)
        if b.next_checkpoint < 0:
            b.next_checkpoint = self.now + p.checkpoint_ms
        if self.now >= b.next_checkpoint:
            b.next_checkpoint = self.now + p.checkpoint_ms
            b.log.checkpoint()
        if self.now >= b.next_isr_check:
            # ReplicaManager.run: every ISR_CHECK_S; a round that comes late (the process was
            # paused) is skipped, so followers are served before they are judged
            late = self.now - b.next_isr_check
            b.next_isr_check = self.now + ISR_CHECK_MS
            if late <= 3 * ISR_CHECK_MS and b.state is not None and len(b.state.replicas) > 1:
                self.maybe_alter_isr(b)
        if b.alter is not None and self.now >= b.alter.deadline:
            self.alter_failed(b, "REQUEST_TIMED_OUT")
        f = b.fetcher
        if f is not None and f.inflight and self.now >= f.deadline:
            f.inflight = 0
        self.fetcher_step(b)
        self.wake_parked(b, expired_only=True)
        expired = [w for w in b.waits if w.deadline <= self.now]
        if expired:
            b.waits = [w for w in b.waits if w.deadline > self.now]
            for w in expired:
                self.answer_produce(b, w, "REQUEST_TIMED_OUT")
        if b.stopping_since >= 0:
            part = b.image.topic(TOPIC).partitions[0] if b.image is not None else None
            if (part is not None and part.leader != b.id) or \
                    self.now - b.stopping_since > 2000:
                self.stop(b, clean=True)
            elif self.now - b.stopping_since > 0 and self.tick_no % 5 == 0:
                self.send(b.id, CONTROLLER, "shutdown")

    def tick(self) -> None:
        self.tick_no += 1
        end = self.tick_no * TICK_MS
        q = self.queue
        while q and q[0][0] <= end:
            when, _, item = heapq.heappop(q)
            self.now = max(self.now, when)
            self.deliver(item)
            self.check_event()
        self.now = end
        for b in self.brokers.values():
            if b.alive and b.paused_until <= self.tick_no:
                self.broker_tick(b)
        self.controller_step()
        if self.faults:
            self._faults()
        else:  # a controlled shutdown begun before the faults stopped ends in a restart
            for b in self.brokers.values():
                if not b.alive:
                    self.start(b)
        self._workload()
        self.check_event()
        if self.tick_no % self.p.check_every == 0:
            self.check_logs()

    # ------------------------------------------------------------------------ faults, load

    def stop(self, b: SimBroker, clean: bool) -> None:
        if clean:
            b.log.sync_all()
            b.log.checkpoint()
        else:
            keep = self.rng.randint(0, len(b.log.pending)) if self.p.durable \
                else len(b.log.pending)
            self.log(f"broker {b.id} crashes, keeping {keep}/{len(b.log.pending)} "
                     f"unsynced writes")
            b.log.crash(keep)
            self.stats["crashes"] += 1
            self.lost[b.id] = self.now
        if clean:
            self.log(f"broker {b.id} stops cleanly")
            b.log.flush_running = b.log.flush_next = None
            b.log.recover()
        for w in b.waits:
            self.produces.pop(w.pid, None)
        b.alive = False
        b.stopping_since = -1
        b.reset()
        self.incarnations[b.id] = self._new_incarnation(b)

    def start(self, b: SimBroker) -> None:
        b.alive = True
        b.paused_until = 0
        b.next_heartbeat = self.now
        b.next_checkpoint = self.now + self.p.checkpoint_ms
        self.log(f"broker {b.id} starts: log end {b.log.leo}, epochs "
                 f"{[(e.epoch, e.start_offset) for e in b.log.epochs.entries]}, "
                 f"high watermark {b.log.high_watermark}")
        self._send_image(b.id)

    def _faults(self) -> None:
        rng, p = self.rng, self.p
        for b in self.brokers.values():
            if b.alive:
                if rng.random() < p.p_crash:
                    self.stop(b, clean=False)
                elif b.paused_until <= self.tick_no and rng.random() < p.p_pause:
                    b.paused_until = self.tick_no + rng.randint(1, p.max_pause_ticks)
                    self.log(f"broker {b.id} pauses until {b.paused_until * TICK_MS}ms")
                elif b.stopping_since < 0 and b.paused_until <= self.tick_no and \
                        rng.random() < p.p_shutdown:
                    b.stopping_since = self.now
                    self.log(f"broker {b.id} begins a controlled shutdown")
                    self.send(b.id, CONTROLLER, "shutdown")
            elif rng.random() < p.p_restart:
                self.start(b)
        if self.groups is None and rng.random() < p.p_partition:
            self.groups = {i: rng.randrange(2) for i in [CONTROLLER, *self.brokers]}
            self.log(f"partition {self.groups}")
        elif self.groups is not None and rng.random() < p.p_heal:
            self.groups = None
            self.log("heal")

    def produce(self, acks_all: bool) -> Produce:
        n = self.rng.randint(1, 3)
        values = tuple(range(self.next_value, self.next_value + n))
        self.next_value += n
        self.next_pid += 1
        w = Produce(self.next_pid, values, acks_all, sent_at=self.now)
        leader = self.pimg.leader  # the client's metadata: where the controller put it
        if leader != NO_LEADER:
            self.produces[w.pid] = w
            self.at(self.now + self.rng.randint(1, self.p.max_delay_ms),
                    Msg(-1, leader, "produce", {"produce": w}))
        return w

    def _workload(self) -> None:
        rng, p = self.rng, self.p
        if self.faults and rng.random() < p.p_produce:
            self.produce(acks_all=rng.random() >= p.p_acks_one)
        if rng.random() < p.p_consume:
            self.consume()

    def consume(self) -> None:
        """A consumer reads from a broker that believes it leads (perhaps a stale one), below
        its high watermark, from where it got to."""
        leaders = [b for b in self.brokers.values()
                   if b.alive and b.state is not None and b.paused_until <= self.tick_no]
        if not leaders:
            return
        b = self.rng.choice(leaders)
        hw = b.log.high_watermark
        for x in b.log.read(self.consumed_upto, hw, 10):
            for i, v in enumerate(x.values):
                offset = x.base + i
                if offset < self.consumed_upto:
                    continue
                known = self.committed.get(offset)
                if known is not None and known != v:
                    self.fail("ConsumerReadsStable", f"a consumer reads {v} at offset {offset} "
                              f"from {b.id} (high watermark {hw}); committed is {known}")
                self.committed[offset] = v
                self.consumed_upto = offset + 1

    # -------------------------------------------------------------------------- invariants

    def check_holds_committed(self, b: SimBroker, batches: list[Batch], when: str) -> None:
        for offset, value in self.committed.items():
            got = b.log.value_at(batches, offset)
            if got is None or got[1] != value:
                self.fail("NoCommittedLoss", f"broker {b.id} {when} without committed "
                          f"offset {offset} (value {value}; holds {got})")

    def check_event(self) -> None:
        for b in self.brokers.values():
            state = b.state
            if state is None:
                continue
            key = (b.id, b.incarnation, state.leader_epoch)
            hw = state.high_watermark
            if hw < self.hw_seen.get(key, -1):
                self.fail("HighWatermarkMonotonic", f"leader {b.id} epoch {state.leader_epoch}"
                          f": high watermark {hw} < {self.hw_seen[key]}")
            self.hw_seen[key] = hw
            if b.id not in state.isr or not set(state.isr) <= set(state.replicas):
                self.fail("IsrWithinReplicas", f"leader {b.id} has ISR {state.isr} of "
                          f"{state.replicas}")

    def check_logs(self) -> None:
        part = self.pimg
        for r in part.isr:
            m = self.brokers[r]
            view = m.log.durable if self.p.durable else m.log.batches
            self.check_holds_committed(m, view, f"in the ISR {list(part.isr)}")
        for b in self.brokers.values():
            state = b.state
            if state is None or not b.alive:
                continue
            hw = state.high_watermark
            for r in state.isr:
                f = self.brokers[r]
                if r == b.id or not f.alive:
                    continue
                upto = min(hw, f.log.leo)
                mine = [x for x in b.log.batches if x.base < upto]
                theirs = [x for x in f.log.batches if x.base < upto]
                if mine != theirs:
                    self.fail("ReplicasAgree", f"leader {b.id} (high watermark {hw}) and "
                              f"in-sync follower {r} differ below {upto}: {mine[-3:]} vs "
                              f"{theirs[-3:]}")

    # ------------------------------------------------------------------------------- run

    def heal(self) -> None:
        self.faults = False
        self.groups = None
        for b in self.brokers.values():
            b.paused_until = 0
            if not b.alive:
                self.start(b)
        self.log("faults stop: healed, no more loss, every broker up")

    def converged(self) -> bool:
        part = self.pimg
        if part.leader == NO_LEADER or set(part.isr) != set(part.replicas):
            return False
        lead = self.brokers[part.leader]
        if lead.state is None or lead.leader_epoch != part.leader_epoch:
            return False
        return all(b.log.batches == lead.log.batches for b in self.brokers.values())

    def run(self) -> dict[str, int]:
        for _ in range(self.p.fault_ticks):
            self.tick()
        self.heal()
        start = self.tick_no
        probe: Produce | None = None
        probe_acked = self.acked
        while self.tick_no - start < self.p.liveness_ticks:
            self.tick()
            if self.acked == probe_acked and (
                    probe is None or probe.pid not in self.produces
                    or self.now - probe.sent_at > 2 * self.p.request_timeout_ms):
                probe = self.produce(acks_all=True)  # until one is acknowledged
                continue
            if self.acked > probe_acked and self.converged():
                for b in self.brokers.values():
                    self.check_holds_committed(b, b.log.batches, "after the faults")
                return {"ticks": self.tick_no, "recovery_ticks": self.tick_no - start,
                        "acked": self.acked, "committed": len(self.committed),
                        "epochs": len(self.leaders), **self.stats}
        self.fail("Liveness", f"not converged {self.p.liveness_ticks} ticks after the faults "
                  f"stopped: {self.pimg}, logs end at "
                  f"{[b.log.leo for b in self.brokers.values()]}")
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
    """Vary the run with the seed: 2, 3 or 5 replicas, min.insync 1..3, both flush policies,
    disk latency, fetch sizes, how often brokers crash and come back."""
    r = random.Random(seed ^ 0x5EED)
    replicas = r.choice((2, 3, 3, 3, 5))
    return SimParams(
        replicas=replicas,
        min_insync=r.choice((1, 2, 2, 3)) if replicas >= 3 else r.choice((1, 2)),
        durable=r.random() < 0.75,
        disk_latency_ms=r.choice((0, 5, 20, 60)),
        max_fetch_batches=r.choice((1, 3, 10)),
        p_crash=r.choice((0.002, 0.004, 0.012)),
        p_restart=r.choice((0.08, 0.15)),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, help="run this one seed")
    ap.add_argument("--seeds", type=int, default=100, help="run N seeds")
    ap.add_argument("--first", type=int, default=0, help="the first of them (default 0)")
    ap.add_argument("--trace", action="store_true", help="print the event trace on failure")
    args = ap.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else \
        list(range(args.first, args.first + args.seeds))
    for s in seeds:
        try:
            result = run_seed(s, params_for_seed(s), args.trace)
        except InvariantViolation as exc:
            print(exc, file=sys.stderr)
            return 1
        if args.seed is not None:
            print(f"seed {s}: ok {result}")
    print(f"{len(seeds)} seeds ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
