"""The values Raft keeps and persists: log entries, the hard state, snapshots.

All are frozen dataclasses (hashable values, safe to share between the state machine and the
I/O layer that persists them).

* An :class:`Entry` is one record of the replicated log, addressed by ``offset`` (0-based,
  dense) and stamped with the ``epoch`` of the leader that appended it (Raft's term). Its
  ``data`` is opaque to Raft; in ``__cluster_metadata`` it is one metadata record encoded by
  :func:`tidelog.metadata.records.encode_record`. ``control`` entries are Raft's own (the
  marker a new leader appends to start its epoch); the state machine skips them, just as
  :class:`~tidelog.metadata.log.MetadataLog` skips control batches on replay. The entries
  of one proposal form a batch (``batch_end`` marks its last): the high watermark, fetch
  responses and truncations only ever fall between batches, so a topic and its partitions
  commit together, as in the single-node metadata log.
* Invariant of a log: offsets are consecutive and epochs never decrease along it, so
  (offset, epoch) names an entry uniquely across the cluster (Log Matching).
* The :class:`HardState` is what must survive a crash besides the log: the current epoch,
  the vote cast in it, and the high watermark (the end of the committed prefix). Persisting
  the high watermark lets a restarted node re-apply its committed entries at once and
  guarantees that the high watermark a node exposed never goes back.
* A :class:`Snapshot` stands for the log prefix ``[0, end_offset)``; ``last_epoch`` is the
  epoch of the entry at ``end_offset - 1`` (0 for the empty prefix).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: its offset, the leader epoch that wrote it, and its payload."""

    offset: int
    epoch: int
    data: bytes
    control: bool = False
    #: the last entry of one proposal: a proposal's entries are replicated, committed and
    #: stored (as one record batch) together, never split
    batch_end: bool = True


@dataclass(frozen=True, slots=True)
class HardState:
    """Epoch, vote and high watermark: persisted (and synced) before any message is sent."""

    epoch: int = 0
    voted_for: int | None = None
    high_watermark: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotId:
    """Names a snapshot: the end offset of the prefix it covers and that prefix's last epoch."""

    end_offset: int
    last_epoch: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state machine after applying the log prefix ``[0, end_offset)``; data is opaque."""

    end_offset: int
    last_epoch: int
    data: bytes = b""

    @property
    def id(self) -> SnapshotId:
        return SnapshotId(self.end_offset, self.last_epoch)


EMPTY_SNAPSHOT = Snapshot(0, 0, b"")


@dataclass(frozen=True, slots=True)
class PersistentState:
    """Everything a node reads back on restart: hard state, latest snapshot, log after it.

    ``entries`` must start at ``snapshot.end_offset`` and be consecutive.
    """

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot = EMPTY_SNAPSHOT
    entries: tuple[Entry, ...] = ()


class Role(enum.Enum):
    """What a node is doing in the current epoch.

    FOLLOWER covers both a node following a known leader and one that knows no leader yet
    (KIP-595's "unattached"); observers are always followers. PROSPECTIVE is a voter asking
    for pre-votes, CANDIDATE one asking for real votes.
    """

    FOLLOWER = "follower"
    PROSPECTIVE = "prospective"
    CANDIDATE = "candidate"
    LEADER = "leader"
