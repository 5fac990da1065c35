"""The group coordinator: Kafka's classic group protocol on the event loop.

One :class:`GroupCoordinator` per broker holds every group (this single broker coordinates all
of them). Requests that must wait -- a JoinGroup until every member has rejoined, a SyncGroup
until the leader sends the assignment -- park a future on their member; the transition that
ends the wait answers all of them at once. Timers (``loop.call_later``) end a join phase (the
initial rebalance delay of an empty group, the rebalance timeout) and expire members whose
session passed without a heartbeat. The transitions are Kafka's (see
:mod:`tidelog.broker.groups.group`); the broker picks the protocol every member supports and
the leader member computes the assignment, so eager and cooperative assignors both work.

Static members (``group.instance.id``) keep their place: a rejoin with the same instance id
and a new member id replaces the old member without a rebalance when the group is stable;
requests from the replaced member id get FENCED_INSTANCE_ID.

Persistence: a completed SyncGroup (group metadata), an emptied group and every offset commit
are written to ``__consumer_offsets`` (:mod:`tidelog.broker.groups.store`) before they are
acknowledged, and :meth:`GroupCoordinator.load` rebuilds everything on start. Groups loaded
with members are Stable; members that do not heartbeat within their session are dropped as
usual. Offsets of a group that stayed Empty for ``offsets_retention_minutes`` expire
(:meth:`GroupCoordinator.expire_offsets`, run periodically by the daemon).

In a cluster the coordinator of a group is the leader of its ``__consumer_offsets``
partition; requests for groups another broker coordinates get NOT_COORDINATOR (clients ask
FindCoordinator again). The coordinator follows that leadership while brokers run: becoming
leader of a partition loads its groups from the (replicated) log, losing it drops them and
answers their waiting members NOT_COORDINATOR; committed offsets survive the move because a
commit is acknowledged only once every in-sync replica has it.

Crash behaviour: a write that fails answers the request with COORDINATOR_NOT_AVAILABLE (the
client retries); the in-memory state changes only after the write succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import uuid
from collections.abc import Sequence

from tidelog.broker.groups.group import (
    Group,
    GroupState,
    JoinResult,
    Member,
    SyncResult,
)
from tidelog.broker.groups.schema import (
    GroupKey,
    GroupRecordError,
    OffsetKey,
    OffsetValue,
    decode_group_value,
    decode_key,
    decode_offset_value,
    encode_group_key,
    encode_group_value,
    encode_offset_key,
    encode_offset_value,
)
from tidelog.broker.groups.store import OFFSETS_TOPIC, OffsetsStore
from tidelog.broker.services import Broker
from tidelog.errors import TidelogError
from tidelog.protocol.errors import ErrorCode
from tidelog.storage.topic_partition import TopicPartition

log = logging.getLogger("tidelog.broker.groups")

#: The peer address of the connection a request came on ("host:port"), set by the connection.
CLIENT_PEER: contextvars.ContextVar[str] = contextvars.ContextVar("client_peer", default="")

#: Kafka's offset.metadata.max.bytes.
MAX_METADATA_BYTES = 4096

E = ErrorCode

#: A commit entry: (topic, partition, offset, leader epoch, metadata).
CommitEntry = tuple[str, int, int, int, str | None]
#: A fetched offset: (partition, offset, leader epoch, metadata, error).
FetchedOffset = tuple[int, int, int, str, int]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def client_host() -> str:
    peer = CLIENT_PEER.get()
    host = peer.rsplit(":", 1)[0] if peer else "unknown"
    return "/" + host  # Kafka's InetAddress.toString() form


class GroupCoordinator:
    def __init__(self, core: Broker) -> None:
        self.core = core
        self.store = OffsetsStore(core)
        self.groups: dict[str, Group] = {}
        self._timers_armed = False
        #: The ``__consumer_offsets`` partitions whose groups are in memory.
        self._loaded: set[int] = set()
        #: Offsets committed in open transactions: producer id -> (group, topic, partition)
        #: -> offset (see :meth:`txn_commit`).
        self._pending_txn: dict[int, dict[tuple[str, str, int], OffsetValue]] = {}
        #: The newest epoch of a marker seen per producer id: older epochs are fenced.
        self._txn_epochs: dict[int, int] = {}
        core.replicas.role_listeners.append(self._role_changed)

    # -- lifetime ----------------------------------------------------------------------------

    def load(self, partitions: set[int] | None = None) -> None:
        """Rebuild the groups of ``partitions`` of ``__consumer_offsets`` (all of them: a
        single node's start) from the log, replacing what memory held of them."""
        if partitions is not None:
            self._drop_groups(partitions, E.NOT_COORDINATOR)
        loaded_offsets = 0
        for pid in list(self._pending_txn):
            pending = self._pending_txn[pid]
            for k in [k for k in pending
                      if partitions is None or self.store.partition_of(k[0]) in partitions]:
                del pending[k]
        for key_bytes, value_bytes in self.store.replay(partitions,
                                                        on_pending=self._load_pending):
            try:
                key = decode_key(key_bytes)
                if isinstance(key, OffsetKey):
                    group = self.groups.get(key.group) or self._new_group(key.group)
                    if value_bytes is None:
                        group.offsets.pop((key.topic, key.partition), None)
                    else:
                        group.offsets[(key.topic, key.partition)] = decode_offset_value(
                            value_bytes
                        )
                        loaded_offsets += 1
                else:
                    self._load_group(key, value_bytes)
            except GroupRecordError as exc:
                log.warning("%s: skipping a record: %s", OFFSETS_TOPIC, exc)
        for gid, group in list(self.groups.items()):
            if not group.members and not group.offsets and group.generation == 0:
                del self.groups[gid]
        if partitions is None:
            self._loaded = set(range(self.store.partitions))
        else:
            self._loaded |= partitions
        self._timers_armed = False  # members loaded now get session timers on first use
        if self.groups:
            log.info("loaded %d groups (%d offset commits)", len(self.groups), loaded_offsets)

    def _role_changed(self, tp: TopicPartition, leader: bool) -> None:
        """This broker became or stopped being the leader of a ``__consumer_offsets``
        partition: load the groups it now coordinates from the log, or let go of them
        (their members get NOT_COORDINATOR and find the new coordinator)."""
        if tp.topic != OFFSETS_TOPIC:
            return
        if leader:
            if tp.partition not in self._loaded:
                log.info("coordinating the groups of %s", tp)
                self.load({tp.partition})
        elif tp.partition in self._loaded:
            log.info("no longer coordinating the groups of %s", tp)
            self._loaded.discard(tp.partition)
            self._drop_groups({tp.partition}, E.NOT_COORDINATOR)

    def _drop_groups(self, partitions: set[int], code: ErrorCode) -> None:
        for gid, group in list(self.groups.items()):
            if self.store.partition_of(gid) not in partitions:
                continue
            if group.join_timer is not None:
                group.join_timer.cancel()
            for member in group.members.values():
                if member.expiry is not None:
                    member.expiry.cancel()
                _answer(member.join_waiter, JoinResult(code, member_id=member.member_id))
                _answer(member.sync_waiter, SyncResult(code))
            del self.groups[gid]

    def _new_group(self, group_id: str) -> Group:
        group = Group(group_id, state_timestamp=_now_ms())
        self.groups[group_id] = group
        return group

    def _load_group(self, key: GroupKey, value_bytes: bytes | None) -> None:
        group = self.groups.get(key.group) or self._new_group(key.group)
        if value_bytes is None:  # deleted: only later offsets (if any) remain
            offsets = group.offsets
            self.groups[key.group] = group = Group(key.group, state_timestamp=_now_ms())
            group.offsets = offsets
            return
        value = decode_group_value(value_bytes)
        group.protocol_type = value.protocol_type or None
        group.generation = value.generation
        group.protocol = value.protocol
        group.leader = value.leader
        group.state_timestamp = value.current_state_timestamp
        group.members = {}
        group.static = {}
        for m in value.members:
            member = Member(
                m.member_id, m.group_instance_id, m.client_id, m.client_host,
                m.session_timeout, m.rebalance_timeout, value.protocol_type,
                [(value.protocol or "", m.subscription)], assignment=m.assignment,
            )
            group.members[m.member_id] = member
            if m.group_instance_id is not None:
                group.static[m.group_instance_id] = m.member_id
        group.state = GroupState.STABLE if group.members else GroupState.EMPTY

    def _ensure_timers(self) -> None:
        """Arm the session timers of members loaded from disk (needs the running loop, so it
        happens on the first group request after the start)."""
        if self._timers_armed:
            return
        self._timers_armed = True
        for group in self.groups.values():
            for member in group.members.values():
                if member.expiry is None and member.join_waiter is None:
                    self._schedule_expiry(group, member)

    def shutdown(self) -> None:
        """Cancel every timer; waiting requests are answered by the connections closing."""
        for group in self.groups.values():
            if group.join_timer is not None:
                group.join_timer.cancel()
            for member in group.members.values():
                if member.expiry is not None:
                    member.expiry.cancel()

    # -- configuration -----------------------------------------------------------------------

    @property
    def _initial_delay_ms(self) -> int:
        return self.core.config.group_initial_rebalance_delay_ms

    def _session_ok(self, session_ms: int) -> bool:
        cfg = self.core.config
        return cfg.group_min_session_timeout_ms <= session_ms <= cfg.group_max_session_timeout_ms

    # -- timers ------------------------------------------------------------------------------

    def _schedule_expiry(self, group: Group, member: Member) -> None:
        if member.expiry is not None:
            member.expiry.cancel()
        loop = asyncio.get_running_loop()
        member.expiry = loop.call_later(
            member.session_timeout_ms / 1000, self._expire_member, group, member
        )

    def _expire_member(self, group: Group, member: Member) -> None:
        member.expiry = None
        if group.members.get(member.member_id) is not member:
            return
        if _waiting(member.join_waiter) or _waiting(member.sync_waiter):
            # A member waiting for an answer is alive; its session restarts with the answer.
            return
        log.info("group %s: member %s expired (no heartbeat in %d ms)",
                 group.group_id, member.member_id, member.session_timeout_ms)
        self._remove_member(group, member)

    # -- membership --------------------------------------------------------------------------

    async def join(
        self, group_id: str, member_id: str, instance_id: str | None, client_id: str,
        session_ms: int, rebalance_ms: int, protocol_type: str,
        protocols: list[tuple[str, bytes]], version: int,
    ) -> JoinResult:
        self._ensure_timers()
        if not group_id:
            return JoinResult(E.INVALID_GROUP_ID, member_id=member_id)
        if not self.store.coordinates(group_id):
            return JoinResult(E.NOT_COORDINATOR, member_id=member_id)
        if not self._session_ok(session_ms):
            return JoinResult(E.INVALID_SESSION_TIMEOUT, member_id=member_id)
        if rebalance_ms <= 0:
            rebalance_ms = session_ms  # JoinGroup v0 has no rebalance timeout
        group = self.groups.get(group_id)
        if group is None:
            if member_id:
                return JoinResult(E.UNKNOWN_MEMBER_ID, member_id=member_id)
            group = self._new_group(group_id)
        if not group.supports(protocol_type, protocols):
            return JoinResult(E.INCONSISTENT_GROUP_PROTOCOL, member_id=member_id)
        host = client_host()

        def new_member(mid: str) -> Member:
            return Member(mid, instance_id, client_id, host, session_ms, rebalance_ms,
                          protocol_type, protocols)

        if not member_id:
            new_id = f"{client_id or 'member'}-{uuid.uuid4()}"
            if instance_id is not None and instance_id in group.static:
                return await self._replace_static(group, group.static[instance_id],
                                                  new_member(new_id))
            if instance_id is None and version >= 4:
                # KIP-394: the member learns its id first and joins with it.
                group.pending.add(new_id)
                return JoinResult(E.MEMBER_ID_REQUIRED, member_id=new_id)
            member = new_member(new_id)
            self._add_member(group, member)
            return await self._await_join(group, member, changed=True)
        known = group.members.get(member_id)
        if known is None:
            if member_id in group.pending:
                group.pending.discard(member_id)
                member = new_member(member_id)
                self._add_member(group, member)
                return await self._await_join(group, member, changed=True)
            if instance_id is not None and instance_id in group.static:
                return JoinResult(E.FENCED_INSTANCE_ID, member_id=member_id)
            return JoinResult(E.UNKNOWN_MEMBER_ID, member_id=member_id)
        member = known
        if instance_id is not None and group.static.get(instance_id) != member_id:
            return JoinResult(E.FENCED_INSTANCE_ID, member_id=member_id)
        changed = not member.same_protocols(protocols)
        member.protocols = protocols
        member.session_timeout_ms = session_ms
        member.rebalance_timeout_ms = rebalance_ms
        member.client_id = client_id
        if group.state in (GroupState.COMPLETING_REBALANCE, GroupState.STABLE) and not changed \
                and not (group.state is GroupState.STABLE and member_id == group.leader):
            self._schedule_expiry(group, member)
            return self._join_answer(group, member)
        return await self._await_join(group, member, changed=changed)

    def _add_member(self, group: Group, member: Member) -> None:
        group.members[member.member_id] = member
        if member.group_instance_id is not None:
            group.static[member.group_instance_id] = member.member_id
        if group.in_initial_delay:
            group.new_member_added = True

    async def _replace_static(self, group: Group, old_id: str, member: Member) -> JoinResult:
        old = group.members.pop(old_id)
        if old.expiry is not None:
            old.expiry.cancel()
        _answer(old.join_waiter, JoinResult(E.FENCED_INSTANCE_ID, member_id=old_id))
        _answer(old.sync_waiter, SyncResult(E.FENCED_INSTANCE_ID))
        member.assignment = old.assignment
        self._add_member(group, member)
        if group.leader == old_id:
            group.leader = member.member_id
        log.info("group %s: static member %s replaced %s by %s", group.group_id,
                 member.group_instance_id, old_id, member.member_id)
        if group.state is GroupState.STABLE and old.same_protocols(member.protocols):
            await self._persist_group(group)
            self._schedule_expiry(group, member)
            return self._join_answer(group, member)
        return await self._await_join(group, member, changed=True)

    def _join_answer(self, group: Group, member: Member) -> JoinResult:
        members: tuple[tuple[str, str | None, bytes], ...] = ()
        if member.member_id == group.leader:
            members = tuple((m.member_id, m.group_instance_id, m.metadata_for(group.protocol))
                            for m in group.members.values())
        return JoinResult(0, group.generation, group.protocol_type, group.protocol,
                          group.leader or "", member.member_id, members)

    async def _await_join(self, group: Group, member: Member, *, changed: bool) -> JoinResult:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[JoinResult] = loop.create_future()
        _answer(member.join_waiter, JoinResult(E.UNKNOWN_MEMBER_ID, member_id=member.member_id))
        member.join_waiter = fut
        if member.expiry is not None:
            member.expiry.cancel()
            member.expiry = None
        if group.state is not GroupState.PREPARING_REBALANCE:
            self._prepare_rebalance(group, f"member {member.member_id} joined")
        else:
            self._maybe_complete_join(group)
        return await fut

    def _prepare_rebalance(self, group: Group, reason: str) -> None:
        loop = asyncio.get_running_loop()
        if group.state is GroupState.COMPLETING_REBALANCE:
            for m in group.members.values():
                m.assignment = b""
                _answer(m.sync_waiter, SyncResult(E.REBALANCE_IN_PROGRESS))
                m.sync_waiter = None
        initial = group.state is GroupState.EMPTY
        group.state = GroupState.PREPARING_REBALANCE
        group.state_timestamp = _now_ms()
        if group.join_timer is not None:
            group.join_timer.cancel()
        log.info("group %s: rebalancing (generation %d): %s", group.group_id,
                 group.generation, reason)
        rebalance_ms = max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
        delay = self._initial_delay_ms
        if initial and delay > 0:
            group.in_initial_delay = True
            group.new_member_added = False
            group.join_timer = loop.call_later(
                delay / 1000, self._initial_delay_over, group, rebalance_ms - delay
            )
        else:
            group.join_timer = loop.call_later(
                rebalance_ms / 1000, self._complete_join, group
            )
            self._maybe_complete_join(group)

    def _initial_delay_over(self, group: Group, remaining_ms: int) -> None:
        """Kafka's InitialDelayedJoin: while members keep arriving, wait one more delay
        (never beyond the rebalance timeout), then complete the join."""
        group.join_timer = None
        if group.new_member_added and remaining_ms > 0:
            group.new_member_added = False
            step = min(self._initial_delay_ms, remaining_ms)
            group.join_timer = asyncio.get_running_loop().call_later(
                step / 1000, self._initial_delay_over, group, remaining_ms - step
            )
            return
        group.in_initial_delay = False
        self._complete_join(group)

    def _maybe_complete_join(self, group: Group) -> None:
        if (group.state is GroupState.PREPARING_REBALANCE and not group.in_initial_delay
                and group.all_joined()):
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        if group.state is not GroupState.PREPARING_REBALANCE:
            return
        if group.join_timer is not None:
            group.join_timer.cancel()
            group.join_timer = None
        group.in_initial_delay = False
        for m in list(group.members.values()):
            if m.join_waiter is None:  # did not rejoin within the rebalance timeout
                log.info("group %s: member %s did not rejoin in time", group.group_id,
                         m.member_id)
                self._remove_member(group, m, rebalance=False)
        group.pending.clear()
        group.generation += 1
        group.state_timestamp = _now_ms()
        if not group.members:
            group.state = GroupState.EMPTY
            group.protocol = None
            group.leader = None
            log.info("group %s: empty at generation %d", group.group_id, group.generation)
            self._persist_in_background(group)
            return
        first = next(iter(group.members.values()))
        group.protocol_type = first.protocol_type
        group.protocol = group.select_protocol()
        if group.leader not in group.members:
            group.leader = first.member_id
        group.state = GroupState.COMPLETING_REBALANCE
        log.info("group %s: generation %d with %d members, protocol %s", group.group_id,
                 group.generation, len(group.members), group.protocol)
        for m in group.members.values():
            fut, m.join_waiter = m.join_waiter, None
            _answer(fut, self._join_answer(group, m))
            self._schedule_expiry(group, m)

    def _remove_member(self, group: Group, member: Member, *, rebalance: bool = True) -> None:
        if member.expiry is not None:
            member.expiry.cancel()
            member.expiry = None
        group.members.pop(member.member_id, None)
        if member.group_instance_id is not None and \
                group.static.get(member.group_instance_id) == member.member_id:
            del group.static[member.group_instance_id]
        _answer(member.join_waiter, JoinResult(E.UNKNOWN_MEMBER_ID, member_id=member.member_id))
        _answer(member.sync_waiter, SyncResult(E.UNKNOWN_MEMBER_ID))
        member.join_waiter = member.sync_waiter = None
        if not rebalance:
            return
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, f"member {member.member_id} left")
        elif group.state is GroupState.PREPARING_REBALANCE:
            self._maybe_complete_join(group)

    async def sync(
        self, group_id: str, generation: int, member_id: str, instance_id: str | None,
        protocol_type: str | None, protocol: str | None, assignments: dict[str, bytes],
    ) -> SyncResult:
        self._ensure_timers()
        if not self.store.coordinates(group_id):
            return SyncResult(E.NOT_COORDINATOR)
        group = self.groups.get(group_id)
        if group is not None and _fenced(group, member_id, instance_id):
            return SyncResult(E.FENCED_INSTANCE_ID)
        member = group.members.get(member_id) if group is not None else None
        if group is None or member is None:
            return SyncResult(E.UNKNOWN_MEMBER_ID)
        if generation != group.generation:
            return SyncResult(E.ILLEGAL_GENERATION)
        if (protocol_type is not None and protocol_type != group.protocol_type) or \
                (protocol is not None and protocol != group.protocol):
            return SyncResult(E.INCONSISTENT_GROUP_PROTOCOL)
        if group.state is GroupState.PREPARING_REBALANCE:
            return SyncResult(E.REBALANCE_IN_PROGRESS)
        self._schedule_expiry(group, member)
        if group.state is GroupState.STABLE:
            return self._sync_answer(group, member)
        if group.state is not GroupState.COMPLETING_REBALANCE:
            return SyncResult(E.UNKNOWN_MEMBER_ID)
        fut: asyncio.Future[SyncResult] = asyncio.get_running_loop().create_future()
        _answer(member.sync_waiter, SyncResult(E.REBALANCE_IN_PROGRESS))
        member.sync_waiter = fut
        if member_id == group.leader:
            for m in group.members.values():
                m.assignment = assignments.get(m.member_id, b"")
            try:
                await self._persist_group(group)
            except (TidelogError, OSError) as exc:
                log.warning("group %s: cannot store the assignment: %s", group_id, exc)
                if group.generation == generation and \
                        group.state is GroupState.COMPLETING_REBALANCE:
                    for m in group.members.values():
                        _answer(m.sync_waiter, SyncResult(E.COORDINATOR_NOT_AVAILABLE))
                        m.sync_waiter = None
                    self._prepare_rebalance(group, "the assignment could not be stored")
            if group.generation == generation and group.state is GroupState.COMPLETING_REBALANCE:
                group.state = GroupState.STABLE
                group.state_timestamp = _now_ms()
                for m in group.members.values():
                    _answer(m.sync_waiter, self._sync_answer(group, m))
                    m.sync_waiter = None
        return await fut

    def _sync_answer(self, group: Group, member: Member) -> SyncResult:
        return SyncResult(0, member.assignment, group.protocol_type, group.protocol)

    def heartbeat(self, group_id: str, generation: int, member_id: str,
                  instance_id: str | None) -> int:
        self._ensure_timers()
        if not self.store.coordinates(group_id):
            return E.NOT_COORDINATOR
        group = self.groups.get(group_id)
        if group is not None and _fenced(group, member_id, instance_id):
            return E.FENCED_INSTANCE_ID
        member = group.members.get(member_id) if group is not None else None
        if group is None or member is None:
            return E.UNKNOWN_MEMBER_ID
        if generation != group.generation:
            return E.ILLEGAL_GENERATION
        self._schedule_expiry(group, member)
        if group.state is GroupState.PREPARING_REBALANCE:
            return E.REBALANCE_IN_PROGRESS
        return 0

    def leave(self, group_id: str, members: Sequence[tuple[str, str | None]]
              ) -> tuple[int, list[int]]:
        """Remove members (member id, instance id); the group error and one error each."""
        if not self.store.coordinates(group_id):
            return E.NOT_COORDINATOR, [E.NOT_COORDINATOR] * len(members)
        group = self.groups.get(group_id)
        if group is None:
            return E.UNKNOWN_MEMBER_ID, [E.UNKNOWN_MEMBER_ID] * len(members)
        errors: list[int] = []
        for member_id, instance_id in members:
            if instance_id is not None:
                target = group.static.get(instance_id)
                if target is None:
                    errors.append(E.UNKNOWN_MEMBER_ID)
                    continue
                if member_id and member_id != target:
                    errors.append(E.FENCED_INSTANCE_ID)
                    continue
                member_id = target
            if member_id in group.pending:
                group.pending.discard(member_id)
                errors.append(0)
                continue
            member = group.members.get(member_id)
            if member is None:
                errors.append(E.UNKNOWN_MEMBER_ID)
                continue
            log.info("group %s: member %s left", group_id, member_id)
            self._remove_member(group, member)
            errors.append(0)
        return 0, errors

    # -- offsets -----------------------------------------------------------------------------

    async def commit(
        self, group_id: str, generation: int, member_id: str, instance_id: str | None,
        entries: Sequence[CommitEntry],
    ) -> list[int]:
        """Store the offsets; one error code per entry."""
        error = self._commit_error(group_id, generation, member_id, instance_id)
        if error:
            return [error] * len(entries)
        errors, records, values = self._offset_records(group_id, entries)
        try:
            await self.store.write(group_id, records)
        except (TidelogError, OSError) as exc:
            log.warning("group %s: offset commit not stored: %s", group_id, exc)
            return [e or E.COORDINATOR_NOT_AVAILABLE for e in errors]
        group = self.groups.get(group_id) or self._new_group(group_id)
        for key, value in values:
            group.offsets[key] = value
        return errors

    async def txn_commit(
        self, group_id: str, producer_id: int, producer_epoch: int, generation: int,
        member_id: str, instance_id: str | None, entries: Sequence[CommitEntry],
    ) -> list[int]:
        """TxnOffsetCommit: write the offsets as part of the producer's transaction; they
        become the group's when its commit marker reaches the group's partition
        (:meth:`complete_txn`), and vanish with an abort."""
        error = self._commit_error(group_id, generation, member_id, instance_id) \
            if generation >= 0 or member_id else (0 if self.store.coordinates(group_id)
                                                  else E.NOT_COORDINATOR)
        if not error and producer_epoch < self._txn_epochs.get(producer_id, -1):
            error = E.PRODUCER_FENCED  # a marker of a newer epoch ended this producer
        if error:
            return [error] * len(entries)
        errors, records, values = self._offset_records(group_id, entries)
        try:
            await self.store.write(group_id, records, producer=(producer_id, producer_epoch))
        except (TidelogError, OSError) as exc:
            log.warning("group %s: transactional offset commit not stored: %s", group_id, exc)
            return [e or E.COORDINATOR_NOT_AVAILABLE for e in errors]
        pending = self._pending_txn.setdefault(producer_id, {})
        for (topic, partition), value in values:
            pending[(group_id, topic, partition)] = value
        return errors

    def complete_txn(self, partition: int, producer_id: int, producer_epoch: int,
                     commit: bool) -> None:
        """A transaction marker of ``producer_id`` was written to ``partition`` of
        ``__consumer_offsets``: its offsets for the groups there count (commit) or go."""
        if producer_epoch > self._txn_epochs.get(producer_id, -1):
            self._txn_epochs[producer_id] = producer_epoch
        pending = self._pending_txn.get(producer_id)
        if not pending:
            return
        for key in [k for k in pending if self.store.partition_of(k[0]) == partition]:
            value = pending.pop(key)
            if commit:
                group_id, topic, p = key
                group = self.groups.get(group_id) or self._new_group(group_id)
                group.offsets[(topic, p)] = value
        if not pending:
            del self._pending_txn[producer_id]

    def _load_pending(self, partition: int, producer_id: int, key_bytes: bytes,
                      value_bytes: bytes | None) -> None:
        try:
            key = decode_key(key_bytes)
        except GroupRecordError as exc:
            log.warning("%s: skipping a record: %s", OFFSETS_TOPIC, exc)
            return
        if isinstance(key, OffsetKey) and value_bytes is not None:
            self._pending_txn.setdefault(producer_id, {})[
                (key.group, key.topic, key.partition)] = decode_offset_value(value_bytes)

    def _commit_error(self, group_id: str, generation: int, member_id: str,
                      instance_id: str | None) -> int:
        """Why a commit by this member may not be stored (0: it may)."""
        self._ensure_timers()
        group = self.groups.get(group_id)
        if not group_id:
            return E.INVALID_GROUP_ID
        if not self.store.coordinates(group_id):
            return E.NOT_COORDINATOR
        if group is None:
            return E.ILLEGAL_GENERATION if generation >= 0 else 0
        if generation < 0 and group.state is GroupState.EMPTY:
            return 0  # a simple (or admin) commit to a group without members
        member = group.members.get(member_id)
        if _fenced(group, member_id, instance_id):
            return E.FENCED_INSTANCE_ID
        if member is None:
            return E.UNKNOWN_MEMBER_ID
        if generation != group.generation:
            return E.ILLEGAL_GENERATION
        if group.state is GroupState.COMPLETING_REBALANCE:
            return E.REBALANCE_IN_PROGRESS
        self._schedule_expiry(group, member)
        return 0

    def _offset_records(self, group_id: str, entries: Sequence[CommitEntry]) -> tuple[
        list[int], list[tuple[bytes, bytes | None]], list[tuple[tuple[str, int], OffsetValue]]
    ]:
        """Per entry its error, and the records and values of the entries that are fine."""
        errors: list[int] = []
        now = _now_ms()
        records: list[tuple[bytes, bytes | None]] = []
        values: list[tuple[tuple[str, int], OffsetValue]] = []
        for topic, partition, offset, epoch, metadata in entries:
            if self.core.image.partition(topic, partition) is None:
                errors.append(E.UNKNOWN_TOPIC_OR_PARTITION)
                continue
            meta = metadata or ""
            if len(meta.encode()) > MAX_METADATA_BYTES:
                errors.append(E.OFFSET_METADATA_TOO_LARGE)
                continue
            value = OffsetValue(offset, epoch, meta, now)
            records.append((encode_offset_key(OffsetKey(group_id, topic, partition)),
                            encode_offset_value(value)))
            values.append(((topic, partition), value))
            errors.append(0)
        return errors, records, values

    def fetch(self, group_id: str, wanted: Sequence[tuple[str, Sequence[int]]] | None,
              require_stable: bool = False) -> list[tuple[str, list[FetchedOffset]]]:
        """Committed offsets by topic (all of the group's when ``wanted`` is None); -1 where
        nothing is committed. With ``require_stable`` (KIP-447) a partition whose offset a
        transaction has committed but not yet ended is UNSTABLE_OFFSET_COMMIT (retriable)."""
        unstable = {(t, p) for pending in self._pending_txn.values()
                    for g, t, p in pending if g == group_id} if require_stable else set()
        group = self.groups.get(group_id)
        offsets = group.offsets if group is not None else {}
        if wanted is None:
            by_topic: dict[str, list[FetchedOffset]] = {}
            for (topic, partition), v in sorted(offsets.items()):
                by_topic.setdefault(topic, []).append(
                    (partition, v.offset, v.leader_epoch, v.metadata, 0))
            return list(by_topic.items())
        answer = []
        for topic, partitions in wanted:
            found: list[FetchedOffset] = []
            for p in partitions:
                got = offsets.get((topic, p))
                if (topic, p) in unstable:
                    found.append((p, -1, -1, "", E.UNSTABLE_OFFSET_COMMIT))
                elif got is None:
                    found.append((p, -1, -1, "", 0))
                else:
                    found.append((p, got.offset, got.leader_epoch, got.metadata, 0))
            answer.append((topic, found))
        return answer

    # -- administration ----------------------------------------------------------------------

    def list_groups(self) -> list[Group]:
        return [g for g in self.groups.values() if g.state is not GroupState.DEAD]

    def describe(self, group_id: str) -> Group | None:
        return self.groups.get(group_id)

    async def delete_group(self, group_id: str) -> int:
        if not self.store.coordinates(group_id):
            return E.NOT_COORDINATOR
        group = self.groups.get(group_id)
        if group is None:
            return E.GROUP_ID_NOT_FOUND
        if group.members or group.state is not GroupState.EMPTY:
            return E.NON_EMPTY_GROUP
        records: list[tuple[bytes, bytes | None]] = [
            (encode_offset_key(OffsetKey(group_id, t, p)), None) for t, p in group.offsets
        ]
        records.append((encode_group_key(GroupKey(group_id)), None))
        try:
            await self.store.write(group_id, records)
        except (TidelogError, OSError) as exc:
            log.warning("group %s: not deleted: %s", group_id, exc)
            return E.COORDINATOR_NOT_AVAILABLE
        if self.groups.get(group_id) is group and not group.members:
            group.state = GroupState.DEAD
            del self.groups[group_id]
            log.info("deleted group %s", group_id)
        return 0

    async def delete_offsets(
        self, group_id: str, wanted: Sequence[tuple[str, Sequence[int]]]
    ) -> tuple[int, list[tuple[str, list[tuple[int, int]]]]]:
        if not self.store.coordinates(group_id):
            return E.NOT_COORDINATOR, []
        group = self.groups.get(group_id)
        if group is None:
            return E.GROUP_ID_NOT_FOUND, []
        subscribed = group.subscribed_topics() if group.members else set()
        answer = []
        records: list[tuple[bytes, bytes | None]] = []
        gone: list[tuple[str, int]] = []
        for topic, partitions in wanted:
            errs = []
            for p in partitions:
                if topic in subscribed:
                    errs.append((p, int(E.GROUP_SUBSCRIBED_TO_TOPIC)))
                    continue
                if (topic, p) in group.offsets:
                    records.append((encode_offset_key(OffsetKey(group_id, topic, p)), None))
                    gone.append((topic, p))
                errs.append((p, 0))
            answer.append((topic, errs))
        try:
            await self.store.write(group_id, records)
        except (TidelogError, OSError) as exc:
            log.warning("group %s: offsets not deleted: %s", group_id, exc)
            return E.COORDINATOR_NOT_AVAILABLE, []
        for key in gone:
            group.offsets.pop(key, None)
        return 0, answer

    async def expire_offsets(self, now_ms: int | None = None) -> int:
        """Drop the offsets of groups that stayed Empty longer than the retention (and the
        groups left with nothing); returns how many offsets expired."""
        now = _now_ms() if now_ms is None else now_ms
        retention = self.core.config.offsets_retention_minutes * 60_000
        expired_total = 0
        for group in list(self.groups.values()):
            if group.state is not GroupState.EMPTY or group.members:
                continue
            expired = [k for k, v in group.offsets.items()
                       if now - max(group.state_timestamp, v.commit_timestamp) >= retention]
            records: list[tuple[bytes, bytes | None]] = [
                (encode_offset_key(OffsetKey(group.group_id, t, p)), None) for t, p in expired
            ]
            drop_group = len(expired) == len(group.offsets) and \
                now - group.state_timestamp >= retention
            if drop_group:
                records.append((encode_group_key(GroupKey(group.group_id)), None))
            if not records:
                continue
            try:
                await self.store.write(group.group_id, records)
            except (TidelogError, OSError) as exc:
                log.warning("group %s: offsets not expired: %s", group.group_id, exc)
                continue
            for key in expired:
                group.offsets.pop(key, None)
            expired_total += len(expired)
            if drop_group and not group.members and group.state is GroupState.EMPTY:
                group.state = GroupState.DEAD
                self.groups.pop(group.group_id, None)
            log.info("group %s: %d offsets expired", group.group_id, len(expired))
        return expired_total

    async def expire_offsets_task(self) -> None:
        """:meth:`expire_offsets` now (the daemon's periodic work)."""
        await self.expire_offsets()

    # -- persistence helpers -----------------------------------------------------------------

    async def _persist_group(self, group: Group) -> None:
        value = encode_group_value(group.to_value(_now_ms()))
        await self.store.write(group.group_id, [(encode_group_key(GroupKey(group.group_id)),
                                                 value)])

    def _persist_in_background(self, group: Group) -> None:
        async def persist() -> None:
            try:
                await self._persist_group(group)
            except (TidelogError, OSError) as exc:
                log.warning("group %s: state not stored: %s", group.group_id, exc)

        task = asyncio.get_running_loop().create_task(persist())
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)


_BACKGROUND: set[asyncio.Task[None]] = set()


def _fenced(group: Group, member_id: str, instance_id: str | None) -> bool:
    """A request from a static member whose instance id now belongs to another member id."""
    if instance_id is None:
        return False
    current = group.static.get(instance_id)
    return current is not None and current != member_id


def _waiting(fut: asyncio.Future[object] | asyncio.Future[JoinResult]
             | asyncio.Future[SyncResult] | None) -> bool:
    return fut is not None and not fut.done()


def _answer(fut: asyncio.Future[JoinResult] | asyncio.Future[SyncResult] | None,
            result: JoinResult | SyncResult) -> None:
    if fut is not None and not fut.done():
        with contextlib.suppress(asyncio.InvalidStateError):
            fut.set_result(result)  # type: ignore[arg-type]  # the caller pairs them
