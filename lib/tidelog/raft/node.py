"""One Raft node as a pure state machine (sans-I/O): ticks and messages in, a Ready out.

Protocol: KRaft's (KIP-595) pull-based Raft with pre-vote (KIP-996) and check-quorum.

* Election. A voter that hears nothing from a leader for a randomized timeout (from the
  injected RNG) becomes PROSPECTIVE and asks for pre-votes for ``epoch + 1``; a pre-vote is
  granted by a voter that sees no live leader and whose log is not ahead of the asker's
  (last epoch, then end offset). With a majority it becomes CANDIDATE: bumps its epoch, votes
  for itself (persisted before any request leaves) and asks for votes. A voter grants one vote
  per epoch, to an up-to-date log, and only while it knows no leader in that epoch. The winner
  appends a control entry in its epoch (so it can commit something of its own epoch, which is
  what advances the high watermark past older entries) and sends BeginQuorumEpoch.
* Replication. Followers and observers pull: ``FetchRequest(fetch_offset = log end,
  last_fetched_epoch)``. The leader checks that its own entry before ``fetch_offset`` has that
  epoch. If so the fetcher's log matches up to there (Log Matching) and ``fetch_offset``
  counts toward the high watermark; otherwise it answers with the end of the largest epoch it
  has up to ``last_fetched_epoch`` and the fetcher truncates to it (both sides' end of that
  epoch, whichever is smaller), and asks again. A fetch below the leader's log start gets a
  snapshot id to load instead. Fetches with nothing to send are parked (long poll) until the
  leader appends, its high watermark moves, or ``fetch_wait_ticks`` pass.
* Commit. The high watermark is the largest offset that a majority of voters (the leader by
  its *durable* log end) has, provided the entry before it is of the leader's epoch. It is
  persisted in the hard state, so it never goes back, even across a restart.
* Check-quorum. A leader that has not been fetched from by a majority within
  ``check_quorum_ticks`` resigns, so a partitioned leader stops acting as one.
* Lost leader. :meth:`leader_unreachable` (the I/O layer saw the leader's connection close)
  lets a follower campaign within a few ticks, in voter id order; the pre-vote decides.
* Resignation. :meth:`resign` (a clean shutdown) sends EndQuorumEpoch naming the voters
  most caught up first; they campaign at once, one after the other, and ignore any late
  message of the resigned leader's epoch that would revive it.
* Observers (non-voters, such as brokers) fetch like followers, never vote or campaign, and do
  not count toward the high watermark. Without a known leader they ask the voters in turn, and
  a non-leader answers with the leader it knows.

Output: the I/O layer drains :meth:`ready` and acknowledges with :meth:`advance`; see
:mod:`tidelog.raft.ready` for the order of effects and what a crash may lose. While a Ready
is being persisted (an fsync off the event loop) the node goes on taking ticks and messages;
:meth:`has_ready` stays False until :meth:`advance`, and calling :meth:`ready` twice without
:meth:`advance` raises RaftInvariantError.

Restart: build a node from what the storage loaded (:class:`PersistentState`). It comes back
as a follower with no known leader in its persisted epoch and vote. Its first Ready lists the
committed entries after the snapshot again, for the state machine that the I/O layer restored
from the same snapshot (:attr:`snapshot`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from tidelog.metadata.frames import leader_change_value
from tidelog.raft.config import RaftConfig
from tidelog.raft.errors import NotLeaderError, RaftInvariantError
from tidelog.raft.log import RaftLog
from tidelog.raft.messages import (
    BeginQuorumEpoch,
    EndQuorumEpoch,
    FetchError,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    Message,
    VoteRequest,
    VoteResponse,
)
from tidelog.raft.progress import LeaderState, QuorumStatus, ReplicaProgress, ReplicaStatus
from tidelog.raft.ready import Ready
from tidelog.raft.types import Entry, HardState, PersistentState, Role, Snapshot, SnapshotId


def consistent_prefix(snapshot: Snapshot, entries: Sequence[Entry]) -> Sequence[Entry]:
    """The loaded entries that can follow ``snapshot``: consecutive, epochs not decreasing.

    A crash while a loaded snapshot replaced the log can leave old entries after the new
    snapshot (the snapshot write survived, the truncation after it did not). Such entries
    were never part of the log that the snapshot summarises, so they cannot be committed:
    the node drops them on load, and its first Ready truncates them on disk.
    """
    offset, epoch = snapshot.end_offset, snapshot.last_epoch
    for i, entry in enumerate(entries):
        if entry.offset != offset + i or entry.epoch < epoch:
            return entries[:i]
        epoch = entry.epoch
    return entries


class RaftNode:
    """A Raft voter or observer; see the module docstring for the protocol."""

    def __init__(self, config: RaftConfig, state: PersistentState, rng: random.Random) -> None:
        self.config = config
        self.id = config.node_id
        self._rng = rng
        self._voters = config.voters
        self._others = tuple(v for v in config.voters if v != config.node_id)
        kept = consistent_prefix(state.snapshot, state.entries)
        self._log = RaftLog(state.snapshot, kept)
        self._snapshot = state.snapshot
        hard = state.hard_state
        self.epoch = hard.epoch
        self.voted_for = hard.voted_for
        self.high_watermark = max(min(hard.high_watermark, self._log.end), self._log.start)
        self.role = Role.FOLLOWER
        self.leader_id: int | None = None
        #: Offset of the control entry this node appended on becoming leader of ``epoch``
        #: (-1 when not leading). Entries before it may be a previous leader's, still
        #: uncommitted: they commit with it, so what the log means is known only once it is.
        self.epoch_start_offset = -1
        self._now = 0
        # election timer: fires when _now - _timer_start >= _timeout
        self._timer_start = 0
        self._timeout = 0
        self._reset_timer()
        self._leader_contact: int | None = None
        self._follow_since = 0
        self._ended: tuple[int, int] | None = None  # (epoch, leader) that resigned
        self._votes: set[int] = set()
        # fetcher state
        self._fetch_sent: int | None = None
        self._snapshot_wanted: SnapshotId | None = None
        self._round_robin = 0
        # leader state
        self._lead: LeaderState | None = None
        # output and persistence bookkeeping
        self._outbox: list[Message] = []
        self._persist_from: int | None = None  # lowest log offset changed since last ready
        # log end in storage once the last Ready is persisted (beyond the log when stale
        # entries were dropped on load: the first Ready then truncates them on disk too)
        self._stored_end = state.snapshot.end_offset + len(state.entries)
        self._durable_end = self._log.end  # log end known durable (advance() acknowledged)
        self._inflight_end: int | None = None
        self._persisted_hard = hard
        self._pending_snapshot: Snapshot | None = None
        self._restore = False
        self._applied = self._log.start
        self._in_flight = False
        if len(kept) < len(state.entries):
            self._persist_from = self._log.end

    # ----------------------------------------------------------------------------- queries

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def log_start_offset(self) -> int:
        return self._log.start

    @property
    def log_end_offset(self) -> int:
        return self._log.end

    @property
    def last_epoch(self) -> int:
        return self._log.last_epoch

    @property
    def snapshot(self) -> Snapshot:
        """The latest snapshot (the one the log starts after)."""
        return self._snapshot

    @property
    def ticks(self) -> int:
        """Ticks since this node was built (its clock; restarts at 0 on a restart)."""
        return self._now

    def entries(self, start: int, end: int) -> tuple[Entry, ...]:
        """The in-memory log entries ``[start, end)`` (clipped to the log)."""
        return self._log.slice(start, end)

    def quorum_status(self) -> QuorumStatus:
        """This node's view of the quorum, with replication progress on the leader."""
        lead = self._lead
        if lead is not None:
            voters = [ReplicaStatus(self.id, self._log.end, self._now, self._now)]
            voters += [self._status(lead.replicas[v]) for v in self._others]
            observers = tuple(
                self._status(r) for k, r in sorted(lead.replicas.items()) if k not in self._voters
            )
        else:
            voters = [ReplicaStatus(v, -1, None, None) for v in self._voters]
            observers = ()
        return QuorumStatus(
            node_id=self.id,
            role=self.role.value,
            epoch=self.epoch,
            leader_id=self.leader_id,
            high_watermark=self.high_watermark,
            log_start_offset=self._log.start,
            log_end_offset=self._log.end,
            tick=self._now,
            voters=tuple(sorted(voters, key=lambda r: r.node_id)),
            observers=observers,
        )

    @staticmethod
    def _status(r: ReplicaProgress) -> ReplicaStatus:
        return ReplicaStatus(r.node_id, r.end_offset, r.last_fetch, r.last_caught_up)

    # ------------------------------------------------------------------------------ inputs

    def tick(self) -> None:
        """Advance the clock by one tick: timeouts, retries, check-quorum.

        The I/O layer calls it once per tick interval elapsed on a monotonic clock, catching
        up after a stall (a long pause must not look like one tick to a leader, or it would
        keep leading without a quorum).
        """
        self._now += 1
        if self.role is Role.LEADER:
            self._tick_leader()
            return
        if self.config.is_voter:
            if self._now - self._timer_start >= self._timeout:
                self._start_pre_vote()
                return
        elif (
            self.leader_id is not None
            and self._now - max(self._follow_since, self._leader_contact or 0)
            >= 2 * self.config.election_ticks
        ):
            self.leader_id = None  # an observer looks for the leader among the voters again
        if self.role is Role.FOLLOWER and (
            self._fetch_sent is None
            or self._now - self._fetch_sent >= self.config.fetch_timeout_ticks
        ):
            self._send_fetch()

    def propose(self, data: Sequence[bytes]) -> int:
        """Append ``data`` as entries of the current epoch (atomically); return the last offset.

        Raises NotLeaderError on a node that is not the leader. The entries are committed once
        the high watermark passes them; :attr:`Ready.committed` hands them out then.
        """
        if self.role is not Role.LEADER:
            raise NotLeaderError(self.id, self.leader_id, self.epoch)
        if not data:
            raise RaftInvariantError("a proposal needs at least one entry")
        start = self._log.end
        last = len(data) - 1
        self._append(
            [
                Entry(start + i, self.epoch, bytes(d), batch_end=i == last)
                for i, d in enumerate(data)
            ]
        )
        self._after_leader_change()
        return self._log.end - 1

    def compact(self, end_offset: int, data: bytes) -> Snapshot:
        """Replace the log below ``end_offset`` by a snapshot of the state machine there.

        ``data`` is the state machine after applying every entry below ``end_offset``, which
        must already have been applied (handed out in a Ready). The snapshot is saved by the
        next Ready.
        """
        if not self._log.start < end_offset <= self._applied:
            raise RaftInvariantError(
                f"cannot snapshot at {end_offset}: log starts at {self._log.start}, "
                f"applied up to {self._applied}"
            )
        sid = self._log.compact(end_offset)
        self._snapshot = Snapshot(sid.end_offset, sid.last_epoch, bytes(data))
        self._pending_snapshot = self._snapshot
        return self._snapshot

    def resign(self) -> None:
        """Stop leading (graceful shutdown) and ask the other voters to elect a successor.

        Sends EndQuorumEpoch naming the voters most caught up first, so a successor is
        elected within a few ticks instead of an election timeout.
        """
        lead = self._lead
        if self.role is not Role.LEADER or lead is None:
            return
        successors = tuple(sorted(self._others, key=lambda v: (-lead.replicas[v].end_offset, v)))
        for v in self._others:
            self._outbox.append(EndQuorumEpoch(self.id, v, self.epoch, successors))
        self._step_down()

    def leader_unreachable(self, peer: int) -> None:
        """The I/O layer saw its connection to ``peer`` close (a killed process closes its
        sockets at once). If ``peer`` is the leader this voter follows, the leader no longer
        counts as alive here (so this voter grants pre-votes) and this voter campaigns after
        a short delay instead of a whole election timeout: the surviving voters in id order,
        ``1 + position * election_ticks // 4`` ticks, so they do not split the vote.

        Only a hint, never proof: the pre-vote still needs a majority that sees no live
        leader, so a connection that closed while the leader lives (the other voters still
        hear it) disrupts nothing, and any message from the leader restores the full timer.
        """
        if (
            not self.config.is_voter
            or self.role is not Role.FOLLOWER
            or self.leader_id != peer
            or peer == self.id
        ):
            return
        self._leader_contact = None
        survivors = sorted(v for v in self._voters if v != peer)
        delay = 1 + survivors.index(self.id) * (self.config.election_ticks // 4)
        # the timer fires when _now - _timer_start >= _timeout; a message from the leader
        # (_leader_heard) moves _timer_start to now, which restores the full timeout
        self._timer_start = min(self._timer_start, self._now - self._timeout + delay)

    def step(self, msg: Message) -> None:
        """Take one message addressed to this node."""
        if msg.dst != self.id:
            return
        if isinstance(msg, FetchRequest):
            self._on_fetch(msg)
        elif isinstance(msg, FetchResponse):
            self._on_fetch_response(msg)
        elif isinstance(msg, VoteRequest):
            self._on_vote(msg)
        elif isinstance(msg, VoteResponse):
            self._on_vote_response(msg)
        elif isinstance(msg, BeginQuorumEpoch):
            self._on_begin_epoch(msg)
        elif isinstance(msg, EndQuorumEpoch):
            self._on_end_epoch(msg)
        elif isinstance(msg, FetchSnapshotRequest):
            self._on_fetch_snapshot(msg)
        else:
            self._on_fetch_snapshot_response(msg)

    # ----------------------------------------------------------------------------- output

    def _hard_state(self) -> HardState:
        return HardState(self.epoch, self.voted_for, self.high_watermark)

    def has_ready(self) -> bool:
        """Whether :meth:`ready` has anything to do (always False until the last is advanced)."""
        return not self._in_flight and bool(
            self._outbox
            or self._persist_from is not None
            or self._pending_snapshot is not None
            or self.high_watermark > self._applied
            or self._hard_changed()
        )

    def _hard_changed(self) -> bool:
        p = self._persisted_hard  # field by field: cheaper than building a HardState
        return (
            self.epoch != p.epoch
            or self.voted_for != p.voted_for
            or self.high_watermark != p.high_watermark
        )

    def ready(self) -> Ready:
        """Collect the effects accumulated since the last Ready."""
        if self._in_flight:
            raise RaftInvariantError("ready() called again before advance()")
        hard = self._hard_state()
        hard_changed = hard != self._persisted_hard
        truncate_to = None
        entries: tuple[Entry, ...] = ()
        if self._persist_from is not None:
            if self._persist_from < self._stored_end:
                truncate_to = self._persist_from
            entries = self._log.slice(self._persist_from, self._log.end)
        snapshot = self._pending_snapshot
        if snapshot is not None and self._restore:
            # a loaded snapshot replaces the whole stored log, whatever followed it
            # (entries appended since then are all in ``entries``: they start at its end)
            truncate_to = snapshot.end_offset
        committed = self._log.slice(self._applied, self.high_watermark)
        ready = Ready(
            messages=tuple(self._outbox),
            snapshot=snapshot,
            restore_snapshot=self._restore,
            truncate_to=truncate_to,
            entries=entries,
            hard_state=hard if hard_changed else None,
            must_sync=bool(entries or truncate_to is not None or hard_changed or snapshot),
            committed=committed,
        )
        self._outbox = []
        self._persist_from = None
        self._stored_end = self._log.end
        self._inflight_end = self._log.end
        self._persisted_hard = hard
        self._pending_snapshot = None
        self._restore = False
        self._applied = max(self._applied, self.high_watermark)
        self._in_flight = True
        return ready

    def advance(self, ready: Ready) -> None:
        """Acknowledge that ``ready`` (the latest) was carried out: its writes are durable."""
        if not self._in_flight:
            raise RaftInvariantError("advance() without a ready()")
        self._in_flight = False
        if self._inflight_end is not None:
            self._durable_end = max(self._durable_end, self._inflight_end)
            self._inflight_end = None
        if self.role is Role.LEADER:
            self._maybe_commit()

    # ------------------------------------------------------------------------- log changes

    def _append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        start = self._log.end
        self._log.append(entries)
        if self._persist_from is None or start < self._persist_from:
            self._persist_from = start

    def _truncate(self, end: int) -> None:
        if end < self.high_watermark:
            raise RaftInvariantError(
                f"node {self.id}: truncation to {end} would drop committed entries "
                f"(high watermark {self.high_watermark})"
            )
        if end >= self._log.end:
            return
        self._log.truncate(end)
        if self._persist_from is None or end < self._persist_from:
            self._persist_from = end
        self._durable_end = min(self._durable_end, end)
        if self._inflight_end is not None:
            self._inflight_end = min(self._inflight_end, end)

    def _set_high_watermark(self, hw: int) -> None:
        if hw > self.high_watermark:
            self.high_watermark = hw

    # ---------------------------------------------------------------------- role changes

    def _reset_timer(self) -> None:
        base = self.config.election_ticks
        self._timer_start = self._now
        self._timeout = base + self._rng.randrange(base)

    def _become_follower(self, epoch: int, leader_id: int | None) -> None:
        if epoch > self.epoch:
            self.epoch = epoch
            self.voted_for = None
        self.role = Role.FOLLOWER
        self._lead = None
        self._votes = set()
        self._snapshot_wanted = None
        self.leader_id = leader_id
        self._reset_timer()
        # only a message from the leader itself proves it alive (see _leader_heard); a hint
        # from another node does not, or voters could keep a dead leader "alive" for each other
        self._leader_contact = None
        self._follow_since = self._now
        if leader_id is not None and leader_id != self.id:
            self._send_fetch()
        else:
            self.leader_id = None
            self._fetch_sent = None

    def _step_down(self) -> None:
        """Leave leadership (or candidacy) without changing epoch."""
        self._become_follower(self.epoch, None)

    def _start_pre_vote(self) -> None:
        self.role = Role.PROSPECTIVE
        self.leader_id = None
        self._lead = None
        self._leader_contact = None
        self._votes = {self.id}
        self._reset_timer()
        for v in self._others:
            self._outbox.append(
                VoteRequest(self.id, v, self.epoch + 1, self._log.last_epoch, self._log.end, True)
            )
        self._check_pre_votes()

    def _check_pre_votes(self) -> None:
        if self.role is Role.PROSPECTIVE and len(self._votes) >= self.config.majority:
            self._start_election()

    def _start_election(self) -> None:
        self.epoch += 1
        self.voted_for = self.id
        self.role = Role.CANDIDATE
        self._votes = {self.id}
        self._reset_timer()
        for v in self._others:
            self._outbox.append(
                VoteRequest(self.id, v, self.epoch, self._log.last_epoch, self._log.end, False)
            )
        self._check_votes()

    def _check_votes(self) -> None:
        if self.role is Role.CANDIDATE and len(self._votes) >= self.config.majority:
            self._become_leader()

    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self.leader_id = self.id
        granting = sorted(self._votes)
        self._votes = set()
        self._lead = LeaderState.start(self._voters, self.id, self._now)
        self.epoch_start_offset = self._log.end
        # Kafka's LeaderChange control record (Raft itself never reads it back)
        marker = leader_change_value(self.id, sorted(self._voters), granting)
        self._append([Entry(self._log.end, self.epoch, marker, control=True)])
        for v in self._others:
            self._outbox.append(BeginQuorumEpoch(self.id, v, self.epoch))
            self._lead.last_begin[v] = self._now
        self._maybe_commit()

    # --------------------------------------------------------------------------- leader

    def _tick_leader(self) -> None:
        lead = self._lead
        assert lead is not None
        now = self._now
        cfg = self.config
        active = 1 + sum(
            1
            for v in self._others
            if (last := lead.replicas[v].last_fetch) is not None
            and now - last < cfg.check_quorum_ticks
        )
        if active < cfg.majority:
            self._step_down()
            return
        for v in self._others:
            last = lead.replicas[v].last_fetch
            quiet_since = max(last if last is not None else -1, lead.last_begin.get(v, -1))
            if now - quiet_since >= cfg.begin_epoch_ticks:
                self._outbox.append(BeginQuorumEpoch(self.id, v, self.epoch))
                lead.last_begin[v] = now
        expired = [k for k, (_, deadline) in lead.parked.items() if deadline <= now]
        for k in expired:
            req, _ = lead.parked.pop(k)
            answer = self._fetch_answer(req, force=True)
            assert answer is not None  # forced answers always exist
            self._outbox.append(answer)

    def _maybe_commit(self) -> None:
        lead = self._lead
        assert lead is not None
        ends = sorted(
            [min(self._durable_end, self._log.end)]
            + [lead.replicas[v].end_offset for v in self._others],
            reverse=True,
        )
        candidate = ends[self.config.majority - 1]
        if candidate > self.high_watermark and self._log.epoch_at(candidate - 1) == self.epoch:
            self.high_watermark = candidate
            self._after_leader_change()

    def _after_leader_change(self) -> None:
        """New entries or a new high watermark: answer the parked fetches that can use them."""
        lead = self._lead
        assert lead is not None
        if not lead.parked:
            return
        parked, lead.parked = lead.parked, {}
        for req, deadline in parked.values():
            answer = self._fetch_answer(req, force=False)
            if answer is None:
                lead.parked[req.src] = (req, deadline)
            else:
                self._outbox.append(answer)

    def _fetch_answer(self, req: FetchRequest, *, force: bool) -> FetchResponse | None:
        """What the leader answers to ``req`` (None: nothing new, park it unless ``force``)."""
        log = self._log
        off = req.fetch_offset
        base = (self.id, req.src, self.epoch, self.id, off, req.last_fetched_epoch)
        if off < log.start:
            return FetchResponse(*base, snapshot_id=self._snapshot.id)
        if off > log.end or log.epoch_at(off - 1) != req.last_fetched_epoch:
            diverging = log.end_for_epoch(req.last_fetched_epoch)
            if diverging is None:
                return FetchResponse(*base, snapshot_id=self._snapshot.id)
            return FetchResponse(*base, high_watermark=self.high_watermark, diverging=diverging)
        entries = log.slice(off, off + self.config.max_fetch_entries)
        if entries and not entries[-1].batch_end:
            # never split a proposal: extend to the end of its batch
            end, last = entries[-1].offset + 1, log.end - 1
            while end < last and not log.entry(end).batch_end:
                end += 1
            entries = log.slice(off, end + 1)
        if not entries and req.high_watermark >= self.high_watermark and not force:
            return None
        return FetchResponse(*base, entries=entries, high_watermark=self.high_watermark)

    def _on_fetch(self, req: FetchRequest) -> None:
        if req.epoch > self.epoch:
            self._become_follower(req.epoch, None)
        if self.role is not Role.LEADER:
            self._outbox.append(
                FetchResponse(
                    self.id,
                    req.src,
                    self.epoch,
                    self.leader_id,
                    req.fetch_offset,
                    req.last_fetched_epoch,
                    FetchError.NOT_LEADER,
                )
            )
            return
        if req.epoch < self.epoch:
            self._outbox.append(
                FetchResponse(
                    self.id,
                    req.src,
                    self.epoch,
                    self.id,
                    req.fetch_offset,
                    req.last_fetched_epoch,
                    FetchError.FENCED_EPOCH,
                )
            )
            return
        lead = self._lead
        assert lead is not None
        rep = lead.replicas.get(req.src)
        if rep is None:
            rep = lead.replicas[req.src] = ReplicaProgress(req.src)
        rep.last_fetch = self._now
        log = self._log
        off = req.fetch_offset
        if log.start <= off <= log.end and log.epoch_at(off - 1) == req.last_fetched_epoch:
            # the fetcher's log matches ours below off, durably: it counts toward commit
            if off > rep.end_offset:
                rep.end_offset = off
            if off >= log.end:
                rep.last_caught_up = self._now
            if req.src in self._voters:
                self._maybe_commit()
        answer = self._fetch_answer(req, force=False)
        lead.parked.pop(req.src, None)
        if answer is None:
            lead.parked[req.src] = (req, self._now + self.config.fetch_wait_ticks)
        else:
            self._outbox.append(answer)

    def _on_fetch_snapshot(self, req: FetchSnapshotRequest) -> None:
        if self.role is not Role.LEADER or req.epoch != self.epoch:
            error = (
                FetchError.NOT_LEADER if self.role is not Role.LEADER else (FetchError.FENCED_EPOCH)
            )
            self._outbox.append(
                FetchSnapshotResponse(self.id, req.src, self.epoch, self.leader_id, None, error)
            )
            return
        # the latest snapshot serves any request: it is at least as new as the one named
        self._outbox.append(
            FetchSnapshotResponse(self.id, req.src, self.epoch, self.id, self._snapshot)
        )

    # -------------------------------------------------------------------------- fetcher

    def _send_fetch(self) -> None:
        target = self.leader_id
        if target is None:
            if self.config.is_voter:
                return  # a voter without a leader waits for BeginQuorumEpoch or its timeout
            target = self._voters[self._round_robin % len(self._voters)]
            self._round_robin += 1
        self._fetch_sent = self._now
        if self._snapshot_wanted is not None and self.leader_id is not None:
            self._outbox.append(
                FetchSnapshotRequest(self.id, target, self.epoch, self._snapshot_wanted)
            )
            return
        self._outbox.append(
            FetchRequest(
                self.id,
                target,
                self.epoch,
                self._log.end,
                self._log.last_epoch,
                self.high_watermark,
            )
        )

    def _leader_heard(self) -> None:
        self._leader_contact = self._now
        self._timer_start = self._now

    def _resigned(self, epoch: int, leader_id: int | None) -> bool:
        """Whether ``leader_id`` resigned ``epoch`` (EndQuorumEpoch): its later-arriving
        messages of that epoch are stale and must not revive it."""
        return self._ended is not None and self._ended == (epoch, leader_id)

    def _adopt(self, epoch: int, leader_id: int | None, src: int) -> bool:
        """Learn (epoch, leader) from a message; True if it came from our current leader."""
        if epoch < self.epoch or self._resigned(epoch, leader_id):
            return False
        news = leader_id is not None and (
            self.leader_id != leader_id or self.role is not Role.FOLLOWER
        )
        if epoch > self.epoch or news:
            if self.role is Role.LEADER and epoch == self.epoch:
                return False  # another leader in our epoch cannot exist; ignore the claim
            self._become_follower(epoch, leader_id)
        return leader_id is not None and leader_id == src and self.leader_id == src

    def _on_fetch_response(self, msg: FetchResponse) -> None:
        from_leader = self._adopt(msg.epoch, msg.leader_id, msg.src)
        if msg.error is not FetchError.NONE:
            if (
                msg.leader_id is None
                and msg.epoch == self.epoch
                and self.leader_id == msg.src
                and self.role is Role.FOLLOWER
            ):
                self.leader_id = None  # our leader resigned; observers look elsewhere
                self._leader_contact = None
            return
        if not from_leader:
            return
        self._leader_heard()
        log = self._log
        if msg.fetch_offset != log.end or msg.last_fetched_epoch != log.last_epoch:
            return  # answers a fetch we no longer stand by (duplicate, reordered)
        if msg.snapshot_id is not None:
            if msg.snapshot_id.end_offset >= self.high_watermark:
                self._snapshot_wanted = msg.snapshot_id
            self._send_fetch()
            return
        if msg.diverging is not None:
            mine = log.end_for_epoch(msg.diverging.last_epoch)
            end = min(msg.diverging.end_offset, mine.end_offset if mine else log.start)
            self._truncate(max(end, log.start))
        elif msg.entries:
            if msg.entries[0].offset != log.end:
                return
            self._append(msg.entries)
            self._set_high_watermark(min(msg.high_watermark, log.end))
        else:
            self._set_high_watermark(min(msg.high_watermark, log.end))
        self._send_fetch()

    def _on_fetch_snapshot_response(self, msg: FetchSnapshotResponse) -> None:
        from_leader = self._adopt(msg.epoch, msg.leader_id, msg.src)
        if not from_leader or msg.snapshot is None:
            return
        self._leader_heard()
        snap = msg.snapshot
        if self._snapshot_wanted is None or snap.end_offset < self._snapshot_wanted.end_offset:
            return
        self._snapshot_wanted = None
        if snap.end_offset >= self.high_watermark and snap.end_offset > self._log.start:
            self._log.reset(snap.id)
            self._snapshot = snap
            self._pending_snapshot = snap
            self._restore = True
            self._persist_from = None
            self._durable_end = min(self._durable_end, snap.end_offset)
            if self._inflight_end is not None:
                self._inflight_end = min(self._inflight_end, snap.end_offset)
            self.high_watermark = snap.end_offset
            self._applied = snap.end_offset
        self._send_fetch()

    # --------------------------------------------------------------------------- voting

    def _log_ok(self, last_epoch: int, end_offset: int) -> bool:
        return (last_epoch, end_offset) >= (self._log.last_epoch, self._log.end)

    def _leader_alive(self) -> bool:
        if self.role is Role.LEADER:
            return True
        return (
            self.leader_id is not None
            and self._leader_contact is not None
            and self._now - self._leader_contact < self.config.election_ticks
        )

    def _on_vote(self, req: VoteRequest) -> None:
        voter = self.config.is_voter
        if req.pre_vote:
            granted = (
                voter
                and req.epoch > self.epoch
                and not self._leader_alive()
                and self._log_ok(req.last_epoch, req.end_offset)
            )
            hint = self.leader_id if not granted and self._leader_alive() else None
            self._outbox.append(
                VoteResponse(
                    self.id, req.src, req.epoch if granted else self.epoch, granted, True, hint
                )
            )
            return
        if req.epoch > self.epoch:
            self._become_follower(req.epoch, None)
        granted = (
            voter
            and req.epoch == self.epoch
            and self.role is Role.FOLLOWER
            and self.leader_id is None
            and self.voted_for in (None, req.src)
            and self._log_ok(req.last_epoch, req.end_offset)
        )
        if granted:
            self.voted_for = req.src
            self._reset_timer()
        self._outbox.append(
            VoteResponse(
                self.id,
                req.src,
                self.epoch,
                granted,
                False,
                self.leader_id if self._leader_alive() else None,
            )
        )

    def _on_vote_response(self, msg: VoteResponse) -> None:
        if msg.pre_vote:
            if self.role is not Role.PROSPECTIVE:
                return
            if msg.granted:
                if msg.epoch == self.epoch + 1:
                    self._votes.add(msg.src)
                    self._check_pre_votes()
            elif (
                msg.epoch > self.epoch or (msg.epoch == self.epoch and msg.leader_id is not None)
            ) and not self._resigned(msg.epoch, msg.leader_id):
                self._become_follower(msg.epoch, msg.leader_id)
            return
        if msg.epoch > self.epoch:
            self._become_follower(msg.epoch, msg.leader_id)
            return
        if self.role is Role.CANDIDATE and msg.epoch == self.epoch and msg.granted:
            self._votes.add(msg.src)
            self._check_votes()

    def _on_end_epoch(self, msg: EndQuorumEpoch) -> None:
        if msg.epoch < self.epoch or not self.config.is_voter:
            return
        if msg.epoch == self.epoch and (
            self.role is not Role.FOLLOWER or self.leader_id not in (None, msg.src)
        ):
            return
        self._become_follower(msg.epoch, None)  # the leader is gone: not alive for pre-votes
        self._ended = (msg.epoch, msg.src)
        if self.id in msg.preferred_successors:
            # the most caught-up successor first, the next ones half an election timeout
            # later each (enough for the first one's pre-vote and vote round trips)
            position = msg.preferred_successors.index(self.id)
            self._timeout = 1 + position * (self.config.election_ticks // 2)

    def _on_begin_epoch(self, msg: BeginQuorumEpoch) -> None:
        if msg.epoch < self.epoch or self._resigned(msg.epoch, msg.src):
            return
        if msg.epoch == self.epoch and self.role is Role.FOLLOWER and self.leader_id == msg.src:
            self._leader_heard()
            self._send_fetch()
            return
        if msg.epoch == self.epoch and self.role is Role.LEADER:
            return
        self._become_follower(msg.epoch, msg.src)
        self._leader_heard()
