"""Errors of the Raft layer.

:class:`RaftError` is the root; :class:`NotLeaderError` refuses a proposal on a node that is
not the leader (it names the leader it knows, so a caller can redirect); :class:`RaftConfigError`
is a configuration that cannot work (empty voter set, timeouts out of order).
:class:`RaftInvariantError` means the state machine was asked to do something that would break
Raft's safety (truncate committed entries, compact past what was applied): a bug in the caller
or in this package, never a network condition, so the node refuses instead of going on.
"""

from __future__ import annotations

from tidelog.errors import TidelogError


class RaftError(TidelogError):
    """Base class of the Raft layer's errors."""


class RaftConfigError(RaftError):
    """A Raft configuration that cannot work."""


class NotLeaderError(RaftError):
    """A proposal reached a node that is not the leader of the current epoch."""

    def __init__(self, node_id: int, leader_id: int | None, epoch: int) -> None:
        hint = f"leader is {leader_id}" if leader_id is not None else "no leader is known"
        super().__init__(f"node {node_id} is not the leader in epoch {epoch}: {hint}")
        self.leader_id = leader_id
        self.epoch = epoch


class RaftInvariantError(RaftError):
    """An operation that would break Raft's safety was refused."""
