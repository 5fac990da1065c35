"""What the leader of a partition knows about its followers, and what it decides from it.

One :class:`LeaderState` lives for one leader epoch of one partition on its leader. It is fed
the follower fetches the leader serves (:meth:`LeaderState.record_fetch`) and answers:

* the **high watermark**: the smallest offset every member of the *maximal ISR* has reached
  (:meth:`advance_high_watermark`). The leader's own share is what the caller passes: its log
  end offset, or with the default flush policy the offset its log has made durable. A
  follower's share is what it holds durably: the ``durable_offset`` its fetch reports (a
  tidelog follower with the default flush policy fetches on while its last append is being
  fdatasync'd, and says how far its disk has got), else the ``fetch_offset`` (a follower that
  acknowledges from its page cache). The high watermark never moves back.
* **ISR changes** to propose to the controller (:meth:`isr_proposal`): an in-sync follower
  that has not caught up with the leader's log end for ``lag_ms`` leaves; an out-of-sync
  follower whose durable log reaches the high watermark and the start of this leader epoch,
  and that caught up within ``lag_ms``, joins.
  Only one proposal is in flight at a time; until the controller's answer is replayed
  (:meth:`update_isr`) the maximal ISR (committed ISR plus the members being added) counts for
  the high watermark, so neither a shrink nor an expansion can let it run ahead of a replica
  that might become leader (Kafka's KIP-497 rule).

Invariants: the leader is always in the ISR it proposes; a proposal is a subset of the
replicas, in replica order; ``high_watermark`` is monotonic for the life of the object.
Unknown follower offsets are -1 and hold the high watermark back until the follower fetches or
leaves the ISR.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence


@dataclasses.dataclass(slots=True)
class FollowerState:
    """One follower as its fetches show it (offsets -1 and times -1 while unknown)."""

    broker_id: int
    #: The follower's log end offset: the ``fetch_offset`` of its last fetch.
    log_end_offset: int = -1
    #: What it holds durably (its share of the high watermark), at most its log end offset.
    durable_offset: int = -1
    last_fetch_ms: int = -1
    #: The last time the follower had everything the leader had (Kafka's lastCaughtUpTimeMs).
    last_caught_up_ms: int = -1
    #: The leader's log end offset when it answered that last fetch.
    leader_end_at_last_fetch: int = -1


class LeaderState:
    """The followers of one partition during one leader epoch; see the module docstring."""

    def __init__(
        self,
        me: int,
        replicas: Sequence[int],
        isr: Sequence[int],
        leader_epoch: int,
        partition_epoch: int,
        *,
        epoch_start_offset: int,
        high_watermark: int,
        now_ms: int,
    ) -> None:
        self.me = me
        self.replicas = tuple(replicas)
        self.isr = tuple(isr)
        self.leader_epoch = leader_epoch
        self.partition_epoch = partition_epoch
        #: The leader's log end offset when this epoch began: a joining follower must have it.
        self.epoch_start_offset = epoch_start_offset
        self.high_watermark = high_watermark
        #: The ISR proposed to the controller and not yet seen in the metadata, if any.
        self.pending_isr: tuple[int, ...] | None = None
        # Every follower gets a full lag window from the start of the epoch before it can be
        # dropped: it may not have heard of the new leader yet.
        self.followers = {
            b: FollowerState(b, last_caught_up_ms=now_ms) for b in self.replicas if b != me
        }

    # -- metadata ------------------------------------------------------------------------------

    def update_isr(self, replicas: Sequence[int], isr: Sequence[int], partition_epoch: int,
                   now_ms: int) -> None:
        """The metadata committed a new ISR (or replica set) in the same leader epoch."""
        if partition_epoch <= self.partition_epoch and tuple(isr) == self.isr:
            return
        self.replicas = tuple(replicas)
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        for b in self.replicas:
            if b != self.me and b not in self.followers:
                self.followers[b] = FollowerState(b, last_caught_up_ms=now_ms)
        for b in list(self.followers):
            if b not in self.replicas:
                del self.followers[b]

    def proposal_failed(self) -> None:
        """The controller refused or lost the proposal: a later check may propose again."""
        self.pending_isr = None

    @property
    def maximal_isr(self) -> tuple[int, ...]:
        """The committed ISR plus any member a pending proposal adds."""
        if self.pending_isr is None:
            return self.isr
        extra = tuple(b for b in self.pending_isr if b not in self.isr)
        return self.isr + extra

    # -- follower fetches ----------------------------------------------------------------------

    def record_fetch(self, broker: int, fetch_offset: int, leader_end_offset: int,
                     now_ms: int, durable_offset: int = -1) -> bool:
        """A fetch from follower ``broker`` at ``fetch_offset``, holding ``durable_offset``
        on disk (-1: not reported, all of it); False if it is no replica."""
        f = self.followers.get(broker)
        if f is None:
            return False
        if fetch_offset >= leader_end_offset:
            f.last_caught_up_ms = now_ms
        elif 0 <= f.leader_end_at_last_fetch <= fetch_offset:
            # it now has what the leader had when it answered the previous fetch
            f.last_caught_up_ms = max(f.last_caught_up_ms, f.last_fetch_ms)
        f.log_end_offset = fetch_offset
        f.durable_offset = fetch_offset if durable_offset < 0 else min(durable_offset,
                                                                       fetch_offset)
        f.last_fetch_ms = now_ms
        f.leader_end_at_last_fetch = leader_end_offset
        return True

    def advance_high_watermark(self, own_offset: int) -> bool:
        """Move the high watermark to what the maximal ISR holds; True if it moved."""
        candidate = own_offset
        for b in self.maximal_isr:
            if b == self.me:
                continue
            f = self.followers.get(b)
            offset = f.durable_offset if f is not None else -1
            candidate = min(candidate, offset)
        if candidate > self.high_watermark:
            self.high_watermark = candidate
            return True
        return False

    # -- ISR changes ---------------------------------------------------------------------------

    def isr_proposal(self, now_ms: int, lag_ms: int, eligible: Collection[int]
                     ) -> tuple[int, ...] | None:
        """The ISR to propose now, or None when it should stay as it is.

        ``eligible`` are the brokers that may join (registered and unfenced); the proposal is
        remembered as pending until :meth:`update_isr` or :meth:`proposal_failed`."""
        if self.pending_isr is not None:
            return None
        keep = {self.me}
        for b in self.isr:
            f = self.followers.get(b)
            if f is not None and now_ms - f.last_caught_up_ms <= lag_ms:
                keep.add(b)
        for b, f in self.followers.items():
            if b in self.isr or b not in eligible or f.log_end_offset < 0:
                continue
            # It joins on what it fetched lately: a follower that stopped fetching keeps its
            # last offset, which may still reach a high watermark that has not moved since.
            recent = now_ms - f.last_caught_up_ms <= lag_ms
            # What it holds *durably* must reach it: an ISR member may become leader, and
            # every committed record must survive its crash.
            if recent and f.durable_offset >= self.high_watermark and \
                    f.durable_offset >= self.epoch_start_offset:
                keep.add(b)
        proposal = tuple(b for b in self.replicas if b in keep)
        if proposal == self.isr:
            return None
        self.pending_isr = proposal
        return proposal

    def lagging(self, now_ms: int, lag_ms: int) -> list[int]:
        """In-sync followers that have not caught up for longer than ``lag_ms``."""
        return [
            b for b in self.isr
            if b in self.followers and now_ms - self.followers[b].last_caught_up_ms > lag_ms
        ]
