"""Raft consensus for the metadata quorum, as a pure state machine (sans-I/O).

The package holds no sockets, clocks, threads or files: time comes in as ticks, messages come
in through :meth:`RaftNode.step`, and everything the node wants done comes out as a
:class:`Ready` (messages to send, entries and hard state to persist, entries to apply). The
I/O layer (``logd``) implements :class:`RaftStorage` over ``__cluster_metadata-0`` and carries
messages over the network. See :mod:`tidelog.raft.node` for the protocol (KRaft's pull-based
Raft with pre-vote and check-quorum).

The I/O layer's loop, in outline (``storage`` implements RaftStorage, e.g. over
``__cluster_metadata-0`` with :func:`encode_entries`/:func:`decode_entries`)::

    node = RaftNode(RaftConfig(node_id, voters), storage.load(), random.Random())
    # every tick (e.g. 50 ms): node.tick(); for every message received: node.step(msg)
    # for a metadata change on the active controller: node.propose([encode_record(r), ...])
    while node.has_ready():
        ready = node.ready()
        persist(storage, ready)          # snapshot, truncate, append, hard state, fsync
        for msg in ready.messages:       # only after the fsync
            send(msg)
        if ready.restore_snapshot:       # a snapshot from the leader replaces the image
            image = load_image(ready.snapshot.data)
        for entry in ready.committed:    # replay non-control entries into the image
            ...
        node.advance(ready)
"""

from tidelog.raft.batches import decode_entries, encode_entries
from tidelog.raft.config import RaftConfig
from tidelog.raft.errors import NotLeaderError, RaftConfigError, RaftError, RaftInvariantError
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
    "EndQuorumEpoch",
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
