"""The messages Raft nodes exchange, modelled on KIP-595's RPCs (pull-based replication).

Every message names its sender ``src``, its receiver ``dst`` and the sender's ``epoch``. They
are plain frozen values; the I/O layer maps them onto its wire format (Kafka's Vote,
BeginQuorumEpoch, Fetch and FetchSnapshot APIs or a private framing) and back. Delivery may
lose, delay, duplicate and reorder them: the state machine tolerates all four, because every
response echoes what it answers and stale answers are recognised and dropped.

Flow: a voter whose leader went silent asks for pre-votes (``VoteRequest(pre_vote=True)``,
which changes no state anywhere), then for votes in a new epoch; the winner sends
``BeginQuorumEpoch`` to the voters; every follower and observer then pulls the log with
``FetchRequest`` and the leader answers with ``FetchResponse`` (entries, high watermark, or
where the follower's log diverges, or which snapshot it must load with ``FetchSnapshotRequest``).
A leader that shuts down sends ``EndQuorumEpoch`` so that a successor is elected at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tidelog.raft.types import Entry, Snapshot, SnapshotId


class FetchError(enum.Enum):
    """Why a fetch was not served."""

    NONE = 0
    #: the receiver is not the leader; ``leader_id``/``epoch`` carry what it knows
    NOT_LEADER = 1
    #: the fetcher's epoch is older than the leader's; it must learn the new epoch first
    FENCED_EPOCH = 2


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """Ask for a (pre-)vote in ``epoch``; the candidate's log ends at (last_epoch, end_offset).

    For a pre-vote ``epoch`` is the epoch the candidate would start (its own plus one); a
    pre-vote changes nothing on the receiver.
    """

    src: int
    dst: int
    epoch: int
    last_epoch: int
    end_offset: int
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class VoteResponse:
    """The answer to a VoteRequest; ``leader_id`` is a hint when the voter follows a leader."""

    src: int
    dst: int
    epoch: int
    granted: bool
    pre_vote: bool = False
    leader_id: int | None = None


@dataclass(frozen=True, slots=True)
class BeginQuorumEpoch:
    """The leader of ``epoch`` announces itself; the receiver starts fetching from it."""

    src: int
    dst: int
    epoch: int


@dataclass(frozen=True, slots=True)
class EndQuorumEpoch:
    """The leader of ``epoch`` resigns (graceful shutdown): elect a successor now.

    ``preferred_successors`` lists the other voters, most caught up first; the first starts
    its election at once, the others a little later each, so the best log usually wins
    without waiting for an election timeout.
    """

    src: int
    dst: int
    epoch: int
    preferred_successors: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Pull entries from ``fetch_offset``; the entry before it has ``last_fetched_epoch``.

    ``fetch_offset`` is also the fetcher's log end offset, durable before the request was
    sent: the leader counts it toward the high watermark.
    """

    src: int
    dst: int
    epoch: int
    fetch_offset: int
    last_fetched_epoch: int
    #: the fetcher's high watermark: the leader parks a fetch only when it has neither new
    #: entries nor a newer high watermark for it (as KIP-1166 does)
    high_watermark: int = 0


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """Entries from ``fetch_offset`` (echoed), the leader's high watermark, or a redirection.

    Exactly one outcome: ``error`` is not NONE; or ``snapshot_id`` is set (the fetch offset is
    below the leader's log start, load that snapshot); or ``diverging`` is set (the fetcher's
    log holds entries the leader's does not: truncate to the end of epoch ``diverging.last_epoch``
    at most ``diverging.end_offset``); or ``entries`` (possibly empty) follow ``fetch_offset``.
    """

    src: int
    dst: int
    epoch: int
    leader_id: int | None
    fetch_offset: int
    last_fetched_epoch: int
    error: FetchError = FetchError.NONE
    entries: tuple[Entry, ...] = ()
    high_watermark: int = 0
    diverging: SnapshotId | None = None
    snapshot_id: SnapshotId | None = None


@dataclass(frozen=True, slots=True)
class FetchSnapshotRequest:
    """Ask the leader for the snapshot ``snapshot_id`` (named by a FetchResponse)."""

    src: int
    dst: int
    epoch: int
    snapshot_id: SnapshotId


@dataclass(frozen=True, slots=True)
class FetchSnapshotResponse:
    """The whole snapshot (the I/O layer may chunk it on the wire), or None if it is gone."""

    src: int
    dst: int
    epoch: int
    leader_id: int | None
    snapshot: Snapshot | None
    error: FetchError = FetchError.NONE


Message = (
    VoteRequest
    | VoteResponse
    | BeginQuorumEpoch
    | EndQuorumEpoch
    | FetchRequest
    | FetchResponse
    | FetchSnapshotRequest
    | FetchSnapshotResponse
)
