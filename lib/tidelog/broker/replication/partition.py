"""One partition as this broker hosts it: its log, its role, and the produce waits on it.

A :class:`Partition` is the leader or a follower of one partition, as the metadata this broker
has replayed says (:meth:`make_leader`, :meth:`make_follower`); it never takes a role on its
own. As leader it holds a :class:`~tidelog.replication.LeaderState` (followers, high watermark,
ISR proposals) and the **delayed produces**: futures of acks=all requests waiting for the high
watermark to pass their records (Kafka's DelayedProduce purgatory, completed by events — a
follower fetch, a flush, an ISR change — never by polling).

High watermark, leader side: the smallest offset every member of the maximal ISR holds. The
leader's own share is its log end offset, or with the default flush policy (``durable``) its
recovery point: the offset it has fdatasync'd. So with that policy a record below the high
watermark is on the disk of every in-sync replica, an acks=all answer means exactly that, and
a consumer (which reads below the high watermark only) never sees a record a crash can take
back. The value is written to the log (``PartitionLog.high_watermark``) and checkpointed.

Losing leadership fails every delayed produce with NOT_LEADER_OR_FOLLOWER: the records may
or may not survive on the new leader, and the producer retries (idempotence removes the
duplicates).

Not thread safe: runs on the event loop; flush completions arrive from storage's worker
threads through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import time
import uuid
from collections.abc import Sequence

from tidelog.protocol.errors import ErrorCode
from tidelog.replication import LeaderState
from tidelog.storage.log import PartitionLog
from tidelog.storage.topic_partition import TopicPartition


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Partition:
    def __init__(self, tp: TopicPartition, topic_id: uuid.UUID, log: PartitionLog, me: int,
                 *, durable: bool) -> None:
        self.tp = tp
        self.topic_id = topic_id
        self.log = log
        self.me = me
        self.durable = durable
        self.leader = -1
        self.leader_epoch = -1
        self.partition_epoch = -1
        self.replicas: tuple[int, ...] = ()
        self.isr: tuple[int, ...] = ()
        self.leader_state: LeaderState | None = None
        #: Delayed produces: (offset the high watermark must reach, order, future).
        self._hw_waits: list[tuple[int, int, asyncio.Future[ErrorCode]]] = []
        self._order = itertools.count()
        self._flush_watched: concurrent.futures.Future[int] | None = None
        #: Set by the replica manager: called when the high watermark moves.
        self.on_high_watermark: object = None

    @property
    def is_leader(self) -> bool:
        return self.leader_state is not None

    # -- roles ------------------------------------------------------------------------------

    def make_leader(self, replicas: Sequence[int], isr: Sequence[int], leader_epoch: int,
                    partition_epoch: int) -> None:
        """Lead ``leader_epoch``: the epoch starts at the current log end offset."""
        self.leader, self.leader_epoch, self.partition_epoch = self.me, leader_epoch, \
            partition_epoch
        self.replicas, self.isr = tuple(replicas), tuple(isr)
        self.log.start_leader_epoch(leader_epoch)
        hw = min(self.log.high_watermark, self.log.log_end_offset)
        # Pin it: a log whose high watermark was never set reads it as its log end (a
        # single-replica log), and consumers and followers would be shown records that no
        # follower has yet until the first advance.
        self.log.high_watermark = hw
        self.leader_state = LeaderState(
            self.me, replicas, isr, leader_epoch, partition_epoch,
            epoch_start_offset=self.log.log_end_offset, high_watermark=hw, now_ms=now_ms(),
        )
        self.maybe_advance_high_watermark()

    def make_follower(self, leader: int, replicas: Sequence[int], isr: Sequence[int],
                      leader_epoch: int, partition_epoch: int) -> None:
        self.leader, self.leader_epoch, self.partition_epoch = leader, leader_epoch, \
            partition_epoch
        self.replicas, self.isr = tuple(replicas), tuple(isr)
        self.leader_state = None
        self.fail_waits(ErrorCode.NOT_LEADER_OR_FOLLOWER)

    def update_isr(self, replicas: Sequence[int], isr: Sequence[int], partition_epoch: int
                   ) -> None:
        """Same leader and epoch, a new ISR (or replica set) committed."""
        self.replicas, self.isr, self.partition_epoch = tuple(replicas), tuple(isr), \
            partition_epoch
        if self.leader_state is not None:
            self.leader_state.update_isr(replicas, isr, partition_epoch, now_ms())
            self.maybe_advance_high_watermark()
            self._complete_waits()

    # -- the high watermark -----------------------------------------------------------------

    def own_offset(self) -> int:
        """The leader's share of the high watermark (see the module docstring)."""
        return self.log.recovery_point if self.durable else self.log.log_end_offset

    def maybe_advance_high_watermark(self) -> bool:
        state = self.leader_state
        if state is None or not state.advance_high_watermark(self.own_offset()):
            return False
        self.log.high_watermark = state.high_watermark
        self._complete_waits()
        callback = self.on_high_watermark
        if callable(callback):
            callback(self)
        return True

    def watch_flush(self, future: concurrent.futures.Future[int]) -> None:
        """Advance the high watermark when ``future`` (a group-committed flush) is done."""
        if future is self._flush_watched:
            return
        self._flush_watched = future
        loop = asyncio.get_running_loop()

        def done(_: concurrent.futures.Future[int]) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.maybe_advance_high_watermark)

        future.add_done_callback(done)

    # -- delayed produces -------------------------------------------------------------------

    def wait_for_high_watermark(self, offset: int) -> asyncio.Future[ErrorCode]:
        """A future resolved with NONE once the high watermark reaches ``offset`` (or with
        the error that ends the wait: leadership lost)."""
        fut: asyncio.Future[ErrorCode] = asyncio.get_running_loop().create_future()
        if self.leader_state is None:
            fut.set_result(ErrorCode.NOT_LEADER_OR_FOLLOWER)
        elif self.leader_state.high_watermark >= offset:
            fut.set_result(ErrorCode.NONE)
        else:
            heapq.heappush(self._hw_waits, (offset, next(self._order), fut))
        return fut

    def _complete_waits(self) -> None:
        state = self.leader_state
        if state is None:
            return
        hw = state.high_watermark
        while self._hw_waits and self._hw_waits[0][0] <= hw:
            _, _, fut = heapq.heappop(self._hw_waits)
            if not fut.done():
                fut.set_result(ErrorCode.NONE)

    def fail_waits(self, code: ErrorCode) -> None:
        waits, self._hw_waits = self._hw_waits, []
        for _, _, fut in waits:
            if not fut.done():
                fut.set_result(code)
