"""A consumer group's state in the coordinator: its members, generation, protocol, offsets.

States and transitions are Kafka's classic protocol:

* ``Empty`` -- no members (offsets may remain); a join moves it to ``PreparingRebalance``.
* ``PreparingRebalance`` -- waiting for every member to (re)join; when all have (or the
  rebalance timeout passes, dropping the ones that did not), the generation advances and the
  group moves to ``CompletingRebalance`` (or ``Empty`` if nobody is left).
* ``CompletingRebalance`` -- waiting for the leader's SyncGroup with the assignment; then
  ``Stable``.
* ``Stable`` -- members heartbeat; a join with new protocols, a leave or an expired session
  moves it back to ``PreparingRebalance``.
* ``Dead`` -- deleted; the object is dropped from the coordinator.

This module only holds data and pure helpers (protocol selection, the member list for the
leader); the transitions with their timers and waiting requests are in
:mod:`tidelog.broker.groups.coordinator`.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field

from tidelog.broker.groups.schema import GroupValue, MemberValue, OffsetValue


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What a JoinGroup answer carries (``members`` only for the leader)."""

    error: int
    generation: int = -1
    protocol_type: str | None = None
    protocol: str | None = None
    leader: str = ""
    member_id: str = ""
    members: tuple[tuple[str, str | None, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class SyncResult:
    error: int
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol: str | None = None


@dataclass(slots=True, eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    #: (name, metadata) in the member's order of preference.
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    join_waiter: asyncio.Future[JoinResult] | None = None
    sync_waiter: asyncio.Future[SyncResult] | None = None
    #: The session timer (an expired session removes the member).
    expiry: asyncio.TimerHandle | None = None

    def metadata_for(self, protocol: str | None) -> bytes:
        for name, meta in self.protocols:
            if name == protocol:
                return meta
        return b""

    def same_protocols(self, protocols: list[tuple[str, bytes]]) -> bool:
        return self.protocols == protocols


@dataclass(slots=True, eq=False)
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    protocol_type: str | None = None
    protocol: str | None = None
    generation: int = 0
    leader: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    #: group.instance.id -> member id of static members.
    static: dict[str, str] = field(default_factory=dict)
    #: Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending: set[str] = field(default_factory=set)
    offsets: dict[tuple[str, int], OffsetValue] = field(default_factory=dict)
    state_timestamp: int = -1
    #: The timer that ends the current join phase (initial delay or rebalance timeout).
    join_timer: asyncio.TimerHandle | None = None
    #: During the initial delay of an empty group's first rebalance, joins do not complete it.
    in_initial_delay: bool = False
    #: A member joined during the initial delay: the delay is extended once more.
    new_member_added: bool = False

    def select_protocol(self) -> str | None:
        """The protocol every member supports, the one most preferred by the members (each
        member votes for its first choice among the common ones), as Kafka picks it."""
        members = list(self.members.values())
        if not members:
            return None
        common = {name for name, _ in members[0].protocols}
        for m in members[1:]:
            common &= {name for name, _ in m.protocols}
        if not common:
            return None
        votes: dict[str, int] = {}
        for m in members:
            choice = next(name for name, _ in m.protocols if name in common)
            votes[choice] = votes.get(choice, 0) + 1
        # Ties go to the first member's preference order, so the choice is deterministic.
        order = [name for name, _ in members[0].protocols if name in common]
        return max(order, key=lambda n: (votes.get(n, 0), -order.index(n)))

    def supports(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        """A joining member fits when the type matches and it shares a protocol with all."""
        if not self.members:
            return bool(protocols)
        if any(m.protocol_type != protocol_type for m in self.members.values()):
            return False
        names = {name for name, _ in protocols}
        return all(names & {n for n, _ in m.protocols} for m in self.members.values())

    def all_joined(self) -> bool:
        return all(m.join_waiter is not None for m in self.members.values())

    def subscribed_topics(self) -> set[str]:
        """Topics the members subscribe to (consumer protocol metadata), for OffsetDelete."""
        topics: set[str] = set()
        if self.protocol_type != "consumer":
            return topics
        for m in self.members.values():
            topics |= consumer_subscription_topics(m.metadata_for(self.protocol))
        return topics

    def to_value(self, now_ms: int) -> GroupValue:
        return GroupValue(
            protocol_type=self.protocol_type or "",
            generation=self.generation,
            protocol=self.protocol,
            leader=self.leader,
            current_state_timestamp=now_ms,
            members=tuple(
                MemberValue(
                    m.member_id, m.group_instance_id, m.client_id, m.client_host,
                    m.rebalance_timeout_ms, m.session_timeout_ms,
                    m.metadata_for(self.protocol), m.assignment,
                )
                for m in self.members.values()
            ),
        )


def consumer_subscription_topics(meta: bytes) -> set[str]:
    """The topics of a consumer protocol Subscription (int16 version, [string topic], ...);
    an unreadable one gives no topics."""
    import struct

    try:
        pos = 2
        (count,) = struct.unpack_from(">i", meta, pos)
        pos += 4
        topics = set()
        for _ in range(max(0, min(count, len(meta)))):
            (n,) = struct.unpack_from(">h", meta, pos)
            pos += 2
            if n < 0 or pos + n > len(meta):
                break
            topics.add(meta[pos:pos + n].decode())
            pos += n
        return topics
    except (struct.error, UnicodeDecodeError):
        return set()
