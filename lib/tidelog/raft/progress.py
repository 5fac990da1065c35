"""What a leader knows about the replicas that fetch from it, and the quorum status it reports.

Pull replication makes this small: a replica's log end offset is the offset of its latest
matching fetch (durable on the replica before it asked), so the leader never guesses. Times are
tick counts of the leader's own clock; the I/O layer turns them into wall time for
``log-quorum describe --replication``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidelog.raft.messages import FetchRequest


@dataclass(slots=True)
class ReplicaProgress:
    """One fetcher as the leader sees it (mutable: updated on every fetch)."""

    node_id: int
    #: the end of the fetcher's log prefix known to match the leader's
    end_offset: int = 0
    #: the tick of its latest fetch in this epoch (the election tick before any, as a grace
    #: period for check-quorum)
    last_fetch: int | None = None
    #: the latest tick at which it had fetched everything the leader had
    last_caught_up: int | None = None


@dataclass(slots=True)
class LeaderState:
    """Per-epoch leader bookkeeping: replica progress and parked (long-poll) fetches."""

    replicas: dict[int, ReplicaProgress]
    #: fetches with nothing new to answer yet: node id -> (request, tick to answer by)
    parked: dict[int, tuple[FetchRequest, int]]
    #: the tick each voter was last sent BeginQuorumEpoch
    last_begin: dict[int, int]

    @classmethod
    def start(cls, voters: tuple[int, ...], me: int, now: int) -> LeaderState:
        return cls(
            replicas={v: ReplicaProgress(v, last_fetch=now) for v in voters if v != me},
            parked={},
            last_begin={},
        )


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """A replica in a quorum report (``log-quorum describe --replication``)."""

    node_id: int
    log_end_offset: int
    last_fetch_tick: int | None
    last_caught_up_tick: int | None


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    """A node's view of the quorum (``log-quorum describe --status``).

    ``voters`` and ``observers`` carry replication progress only on the leader; other nodes
    list the voters with unknown progress (-1) and no observers.
    """

    node_id: int
    role: str
    epoch: int
    leader_id: int | None
    high_watermark: int
    log_start_offset: int
    log_end_offset: int
    tick: int
    voters: tuple[ReplicaStatus, ...]
    observers: tuple[ReplicaStatus, ...]

    @property
    def max_follower_lag(self) -> int:
        """How far the slowest voter trails the leader's log end (0 off the leader)."""
        return max(
            (self.log_end_offset - r.log_end_offset for r in self.voters if r.log_end_offset >= 0),
            default=0,
        )
