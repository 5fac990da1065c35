"""Static configuration of one Raft node: who it is, who votes, and its timeouts in ticks.

Time inside Raft is counted in ticks (:meth:`RaftNode.tick`); the I/O layer decides how long a
tick is (50 ms for a controller is a reasonable choice). Invariants, checked on construction
(RaftConfigError otherwise): the voter set is non-empty with distinct non-negative ids; the
leader parks a fetch for less time than a follower waits before retrying it, and a follower
retries several times before it gives up on its leader, so a lost message alone never starts an
election.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidelog.raft.errors import RaftConfigError


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Configuration of node ``node_id``; it is an observer when not among ``voters``."""

    node_id: int
    voters: tuple[int, ...]
    #: a follower that hears nothing from its leader for [election_ticks, 2*election_ticks)
    #: ticks (randomized) asks for pre-votes
    election_ticks: int = 10
    #: a leader answers a fetch that finds no new entries after at most this many ticks
    #: (a long poll, as KRaft parks fetches)
    fetch_wait_ticks: int = 2
    #: a fetcher resends a fetch that got no answer within this many ticks
    fetch_timeout_ticks: int = 4
    #: a leader resigns when a majority of voters has not fetched within this many ticks
    check_quorum_ticks: int = 15
    #: a leader re-announces itself to a voter that has not fetched within this many ticks
    begin_epoch_ticks: int = 3
    #: at most this many entries in one FetchResponse
    max_fetch_entries: int = 256

    def __post_init__(self) -> None:
        if not self.voters:
            raise RaftConfigError("the voter set is empty")
        if len(set(self.voters)) != len(self.voters):
            raise RaftConfigError(f"voter ids repeat: {list(self.voters)}")
        if any(v < 0 for v in (self.node_id, *self.voters)):
            raise RaftConfigError("node ids must not be negative")
        if min(self.fetch_wait_ticks, self.begin_epoch_ticks, self.max_fetch_entries) < 1:
            raise RaftConfigError("tick counts and max_fetch_entries must be at least 1")
        if self.fetch_timeout_ticks <= self.fetch_wait_ticks:
            raise RaftConfigError("fetch_timeout_ticks must exceed fetch_wait_ticks")
        if self.election_ticks < 2 * self.fetch_timeout_ticks:
            raise RaftConfigError("election_ticks must be at least twice fetch_timeout_ticks")
        if self.check_quorum_ticks < self.election_ticks:
            raise RaftConfigError("check_quorum_ticks must be at least election_ticks")

    @property
    def is_voter(self) -> bool:
        return self.node_id in self.voters

    @property
    def majority(self) -> int:
        return len(self.voters) // 2 + 1
