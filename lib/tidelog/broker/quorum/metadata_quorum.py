"""The metadata log as a Raft log: a :class:`RaftNode` driven over :class:`DiskRaftStorage`.

:class:`MetadataQuorum` is the I/O layer of :mod:`tidelog.raft` for ``logd``: it owns the
node, carries out every :class:`~tidelog.raft.Ready` in the order its docstring sets
(snapshot, truncate, append, hard state, fdatasync, *then* send, then apply), and replays the
committed entries into the :class:`~tidelog.metadata.image.MetadataImage` that the broker
serves. It replaces the one-voter stand-in :class:`~tidelog.metadata.log.MetadataLog` and keeps
its interface (``image``, ``next_offset``, ``append``, ``close``).

One voter (the default ``logd``): the node elects itself while the quorum is opened
(:meth:`MetadataQuorum.open` ticks it synchronously until it leads; a fresh or taken-over log
gets one control batch of the new epoch) and :meth:`append` commits before it returns, since
the leader's own fdatasync is the whole majority. The high watermark and image therefore move
exactly as with the stand-in.

Crash behaviour: what a Ready persisted is durable before any message of it leaves or any
entry of it is applied; a crash loses only what no client was told about. A Ready that cannot
be persisted (ENOSPC) on a lone voter fails its change for good: its entries are cut from the
log, the node is rebuilt from storage and re-elects itself (again at the next change if the
disk is still full), and the caller gets MetadataError, so the answer matches the log
(a failed ``quorum-state`` write of only the high watermark is retried instead, see
:mod:`tidelog.broker.quorum.storage`). A committed entry
that does not replay onto the image (which the leader's check before proposing prevents)
raises MetadataError: a node must not serve metadata it cannot read.

Snapshots: once the records applied since the last snapshot exceed ``snapshot_bytes``
(``metadata.log.max.record.bytes.between.snapshots``, Kafka's 20 MiB by default), the image
at the applied offset is written as Kafka's ``.checkpoint`` file
(:mod:`tidelog.metadata.snapshot`) and the log below it is trimmed (the node's ``compact``;
the file is saved by the next Ready, before the log start moves). On open the latest
snapshot is loaded and only the log after it replayed; a follower too far behind gets the
leader's snapshot (Raft's FetchSnapshot) and resets its image to it. An unreadable snapshot
raises MetadataError naming the file.

Messages to other nodes go to ``send`` (None for a single voter: a one-voter node sends none).
Not thread safe: call everything from the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from tidelog.broker.quorum.storage import DiskRaftStorage
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.image import EMPTY_IMAGE, MetadataDelta, MetadataImage
from tidelog.metadata.records import MetadataRecord, decode_record, encode_record
from tidelog.metadata.snapshot import (
    checkpoint_name,
    encode_checkpoint,
    image_records,
    load_image,
)
from tidelog.raft.config import RaftConfig
from tidelog.raft.errors import NotLeaderError
from tidelog.raft.messages import Message
from tidelog.raft.node import RaftNode
from tidelog.raft.progress import QuorumStatus
from tidelog.raft.ready import Ready
from tidelog.raft.storage import persist
from tidelog.raft.types import Entry, Snapshot
from tidelog.storage.errors import StorageError

log = logging.getLogger("tidelog.quorum")


class NotCommittedError(MetadataError):
    """A proposal was replaced by another leader's entries: it will never commit."""


class LeaderNotReadyError(MetadataError):
    """A new leader was asked for a change before its image holds the previous leader's
    entries (see :attr:`MetadataQuorum.leader_ready`); retriable."""


class MetadataWriteError(StorageError, MetadataError):
    """The metadata log could not be written (disk full or failing): the change failed for
    good and nothing of it is in the log. A StorageError, so request handlers answer it with
    their storage error (KAFKA_STORAGE_ERROR) and its message."""

#: Kafka's metadata.log.max.record.bytes.between.snapshots default (20 MiB).
DEFAULT_SNAPSHOT_BYTES = 20 << 20

#: Seconds per Raft tick (RaftConfig counts time in ticks).
TICK_S = 0.05


class MetadataQuorum:
    """The replicated metadata log of one node and the image its committed prefix builds."""

    def __init__(
        self,
        storage: DiskRaftStorage,
        config: RaftConfig,
        *,
        send: Callable[[Message], None] | None = None,
        rng: random.Random | None = None,
        snapshot_bytes: int = DEFAULT_SNAPSHOT_BYTES,
    ) -> None:
        self.storage = storage
        self.config = config
        self._send = send
        self.snapshot_bytes = snapshot_bytes
        #: bytes of records applied since the last snapshot (or since open)
        self._since_snapshot = 0
        state = storage.load()
        self._rng = rng or random.Random()
        self.node = RaftNode(config, state, self._rng)
        self._image = self._snapshot_image(state.snapshot)
        self.applied = state.snapshot.end_offset
        self._applied_epoch = state.snapshot.last_epoch
        self._listeners: list[Callable[[MetadataImage], None]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._known_leader: tuple[int, int | None] = (-1, None)
        #: the leader's image after its uncommitted proposals (None: nothing in flight)
        self._pending: MetadataImage | None = None
        self._pending_end = 0
        self._recovering = False

    def _snapshot_image(self, snapshot: Snapshot) -> MetadataImage:
        if not snapshot.data:
            return EMPTY_IMAGE
        try:
            return load_image(snapshot.data)
        except MetadataError as exc:
            name = checkpoint_name(snapshot.end_offset, snapshot.last_epoch)
            raise MetadataError(f"{self.storage.dir / name}: unreadable snapshot: {exc}"
                                ) from None

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        *,
        node_id: int = 1,
        voters: Sequence[int] | None = None,
        send: Callable[[Message], None] | None = None,
        snapshot_bytes: int = DEFAULT_SNAPSHOT_BYTES,
    ) -> MetadataQuorum:
        """Open the quorum log of ``data_dir``; a lone voter is elected before this returns."""
        config = RaftConfig(node_id, tuple(voters) if voters is not None else (node_id,))
        quorum = cls(DiskRaftStorage(data_dir, config.voters), config, send=send,
                     snapshot_bytes=snapshot_bytes)
        quorum.drain()
        if config.voters == (node_id,):
            quorum._elect_alone()
        return quorum

    def _elect_alone(self) -> None:
        node = self.node
        # pre-vote, vote and the control entry each take a Ready; the timeout is < 2x election
        for _ in range(4 * self.config.election_ticks + 10):
            if node.is_leader and node.high_watermark >= node.log_end_offset:
                break
            node.tick()
            self.drain()
        if not node.is_leader:
            raise MetadataError("the single metadata voter failed to elect itself")
        self.drain()

    # -- queries -------------------------------------------------------------------------------

    @property
    def image(self) -> MetadataImage:
        return self._image

    @property
    def path(self) -> Path:
        return self.storage.dir

    @property
    def next_offset(self) -> int:
        """The offset the next proposed entry gets (the Raft log end)."""
        return self.node.log_end_offset

    @property
    def leader_id(self) -> int | None:
        return self.node.leader_id

    def status(self) -> QuorumStatus:
        return self.node.quorum_status()

    def set_send(self, send: Callable[[Message], None] | None) -> None:
        """Where messages to other nodes go (the quorum transport, once it runs)."""
        self._send = send

    @property
    def leader_ready(self) -> bool:
        """This node leads and has applied the entry that began its epoch, and so everything
        before it. A new leader's log may end in a previous leader's proposals, not
        committed yet: until they commit (with the new epoch's first entry) they are in
        neither the image nor this leader's pending changes, and a change checked against
        the working image could repeat one of them (a second CreateTopic of
        __consumer_offsets was committed so, and every node failed to replay it)."""
        node = self.node
        return node.is_leader and self.applied > node.epoch_start_offset >= 0

    async def wait_leader_ready(self, timeout: float) -> None:
        """Return once :attr:`leader_ready` (TimeoutError after ``timeout``); NotLeaderError
        if this node does not lead."""
        node = self.node
        if not node.is_leader:
            raise NotLeaderError(self.config.node_id, node.leader_id, node.epoch)
        if not self.leader_ready:
            await self.wait_applied(node.epoch_start_offset + 1, timeout)

    @property
    def working_image(self) -> MetadataImage:
        """The image after every entry this leader proposed (committed or not): what the next
        proposal is checked against, so changes can be pipelined without conflicting."""
        return self._pending if self._pending is not None else self._image

    async def wait_applied(self, offset: int, timeout: float, epoch: int | None = None) -> None:
        """Return once the image includes every entry below ``offset`` (TimeoutError).

        With ``epoch`` (the epoch it was proposed in), the entry at ``offset - 1`` must be of
        that epoch: if another leader's entry took its place, the proposal was lost and
        NotCommittedError is raised, never a false success.
        """
        if self.applied < offset:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((offset, fut))
            try:
                await asyncio.wait_for(fut, timeout)
            finally:
                self._waiters = [(o, f) for o, f in self._waiters if f is not fut]
        if epoch is not None:
            entry = self.node.entries(offset - 1, offset)
            if entry and entry[0].epoch != epoch:
                raise NotCommittedError(
                    f"metadata entry {offset - 1} of epoch {epoch} was replaced by a later "
                    "leader: the change was lost (retry it)"
                )

    def add_listener(self, fn: Callable[[MetadataImage], None]) -> None:
        """Call ``fn(image)`` after every change of the image (from the event loop)."""
        self._listeners.append(fn)

    # -- driving the node ----------------------------------------------------------------------

    def tick(self) -> None:
        self.node.tick()
        self.drain()

    def step(self, msg: Message) -> None:
        self.node.step(msg)
        self.drain()

    def peer_lost(self, peer: int) -> None:
        """The connection to ``peer`` closed: if it led, campaign soon (see
        :meth:`RaftNode.leader_unreachable`)."""
        self.node.leader_unreachable(peer)
        self.drain()

    def drain(self) -> None:
        """Carry out every Ready the node has (persist, fsync, send, apply, advance)."""
        node = self.node
        while node.has_ready():
            ready = node.ready()
            try:
                persist(self.storage, ready)
            except (OSError, StorageError) as exc:
                self._write_failed(ready, exc)
            if self._send is not None:
                for msg in ready.messages:
                    self._send(msg)
            if ready.restore_snapshot and ready.snapshot is not None:
                self._restore(ready.snapshot)
            if ready.committed:
                self._apply(ready.committed)
            node.advance(ready)
            if self._since_snapshot >= self.snapshot_bytes and self.applied > (
                node.snapshot.end_offset
            ):
                self._take_snapshot()
        if self._pending is not None and (
            not node.is_leader or self.applied >= self._pending_end
        ):
            self._pending = None  # all committed, or no longer ours to build on
        seen = (node.epoch, node.leader_id)
        if seen != self._known_leader and node.leader_id is not None:
            self._known_leader = seen
            log.info("metadata quorum: node %d leads epoch %d", node.leader_id, node.epoch)

    def _restore(self, snapshot: Snapshot) -> None:
        """A follower too far behind got the leader's snapshot: the image becomes it."""
        self._image = self._snapshot_image(snapshot)
        self.applied = snapshot.end_offset
        self._applied_epoch = snapshot.last_epoch
        self._pending = None
        self._since_snapshot = 0
        log.info("metadata quorum: loaded the leader's snapshot up to offset %d",
                 snapshot.end_offset)
        self._notify()

    def _take_snapshot(self) -> None:
        node = self.node
        epoch = self._applied_epoch
        now = int(time.time() * 1000)
        data = encode_checkpoint(image_records(self._image), epoch=epoch, last_timestamp=now,
                                 timestamp_ms=now)
        snapshot = node.compact(self.applied, data)
        self._since_snapshot = 0
        log.info("metadata quorum: snapshot %s (%d bytes); the log before it is trimmed",
                 checkpoint_name(snapshot.end_offset, snapshot.last_epoch), len(data))

    @property
    def _alone(self) -> bool:
        return self.config.voters == (self.config.node_id,)

    def _write_failed(self, ready: Ready, exc: Exception) -> NoReturn:
        """A Ready could not be made durable (the disk is full or failing).

        One voter: the change fails for good. Whatever the Ready appended is cut from the log
        (it was never durable, so never committed) and the node is rebuilt from what storage
        holds, so the caller's error matches what the log holds and the next change is tried
        afresh instead of waiting forever behind a Ready that was never advanced. Several
        voters: the error propagates (the cluster node stops, see quorum.cluster)."""
        if not self._alone:
            raise exc
        cut = ready.truncate_to
        if ready.entries:
            first = ready.entries[0].offset
            cut = first if cut is None else min(cut, first)
        try:
            if cut is not None:
                self.storage.truncate(cut)
            self.node = RaftNode(self.config, self.storage.load(), self._rng)
        except (OSError, StorageError, MetadataError) as again:
            raise MetadataWriteError(
                f"{self.path}: metadata write failed ({exc}) and could not be undone "
                f"({again}): restart logd once the disk is fixed"
            ) from exc
        self._pending = None
        if not self._recovering:  # not for the election's own failed write (no recursion)
            self._recovering = True
            try:
                self._elect_alone()  # writes a new epoch: fails again while the disk is full
            except MetadataError as again:
                log.warning("metadata quorum: no re-election after a failed write (retried "
                            "with the next change): %s", again)
            finally:
                self._recovering = False
        raise MetadataWriteError(f"{self.path}: metadata change not written, nothing of it "
                                 f"kept: {exc}") from exc

    def _apply(self, entries: Sequence[Entry]) -> None:
        # a rebuilt node (see _write_failed) hands out again what is applied already
        entries = [e for e in entries if e.offset >= self.applied]
        if not entries:
            return
        delta = MetadataDelta(self._image)
        for entry in entries:
            if entry.control:
                continue
            try:
                delta.replay(decode_record(entry.data))
            except MetadataError as exc:
                raise MetadataError(
                    f"{self.path}: metadata record at offset {entry.offset}: {exc}"
                ) from None
        self._image = delta.apply()
        self.applied = entries[-1].offset + 1
        self._applied_epoch = entries[-1].epoch
        self._since_snapshot += sum(len(e.data) for e in entries)
        self._notify()

    def _notify(self) -> None:
        """The image moved: tell the listeners and wake the waits it satisfies."""
        for fn in self._listeners:
            fn(self._image)
        for offset, fut in self._waiters:
            if offset <= self.applied and not fut.done():
                fut.set_result(None)

    # -- changes -------------------------------------------------------------------------------

    def propose(self, records: Sequence[MetadataRecord]) -> int:
        """Check ``records`` against the image and propose them as one batch (the node must
        lead; NotLeaderError otherwise); returns the last offset. Committed later."""
        if not records:
            raise MetadataError("an append needs at least one metadata record")
        if self._alone and not self.node.is_leader and self.node.epoch > 0:
            # a re-election after a failed write did not get through: try again now
            self._elect_alone()
        if self.node.is_leader and not self.leader_ready:
            raise LeaderNotReadyError(
                f"node {self.config.node_id} leads epoch {self.node.epoch} but has not yet "
                "applied the previous leader's entries (retry)")
        after = self.working_image.apply_all(records)  # raises before anything is proposed
        last = self.node.propose([encode_record(r) for r in records])
        self._pending, self._pending_end = after, last + 1
        self.drain()
        return last

    def append(self, records: Sequence[MetadataRecord]) -> int:
        """Propose ``records`` and return once they are committed and applied (one voter:
        at once). MetadataError if the quorum cannot commit them synchronously."""
        last = self.propose(records)
        if self.applied <= last:
            raise MetadataError(
                f"metadata change at offset {last} is not committed yet (quorum of "
                f"{len(self.config.voters)})"
            )
        return last

    def close(self) -> None:
        """Flush and close the log (a leader of several voters resigns first)."""
        if self.node.is_leader and len(self.config.voters) > 1:
            self.node.resign()
            self.drain()
        self.storage.close()
