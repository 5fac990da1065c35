"""Raft consensus for the metadata quorum, as a pure state machine (sans-I/O).

The package holds no sockets, clocks, threads or files: time comes in as ticks, messages come
in through :meth:`RaftNode.step`, and everything the node wants done comes out as a
:class:`Ready` (messages to send, entries and hard state to persist, entries to apply). The
I/O layer (``logd``) implements :class:`RaftStorage` over ``__cluster_metadata-0`` and carries
messages over the network. See :mod:`tidelog.raft.node` for the protocol (KRaft's pull-based
Raft with pre-vote and check-quorum).
"""

from tidelog.raft.batches import decode_entries, encode_entries
from tidelog.raft.config import RaftConfig
from tidelog.raft.errors import NotLeaderError, RaftConfigError, RaftError, RaftInvariantError
from tidelog.raft.log import RaftLog
from tidelog.raft.messages import (
    BeginQuorumEpoch,
    FetchError,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    Message,
    VoteRequest,
    VoteResponse,
)
from tidelog.raft.node import RaftNode
from tidelog.raft.progress import QuorumStatus, ReplicaStatus
from tidelog.raft.ready import Ready
from tidelog.raft.storage import MemoryStorage, RaftStorage, persist
from tidelog.raft.types import (
    EMPTY_SNAPSHOT,
    Entry,
    HardState,
    PersistentState,
    Role,
    Snapshot,
    SnapshotId,
)

__all__ = [
    "EMPTY_SNAPSHOT",
    "BeginQuorumEpoch",
    "Entry",
    "FetchError",
    "FetchRequest",
    "FetchResponse",
    "FetchSnapshotRequest",
    "FetchSnapshotResponse",
    "HardState",
    "MemoryStorage",
    "Message",
    "NotLeaderError",
    "PersistentState",
    "QuorumStatus",
    "RaftConfig",
    "RaftConfigError",
    "RaftError",
    "RaftInvariantError",
    "RaftLog",
    "RaftNode",
    "RaftStorage",
    "Ready",
    "ReplicaStatus",
    "Role",
    "Snapshot",
    "SnapshotId",
    "VoteRequest",
    "VoteResponse",
    "decode_entries",
    "encode_entries",
    "persist",
]
